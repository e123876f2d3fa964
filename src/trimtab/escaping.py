"""Text from outside written into trimtab's files: one helper per format.

A model's answer, an LLM judge's reason, a recorded call's user or model, a tag
value, an incident note: anyone with a gateway key, or any end user of an LLM
app whose messages are recorded, chooses them. What trimtab writes is read
elsewhere: a Markdown eval report is posted as a pull-request comment, JUnit XML
is parsed by CI, a CSV is opened in a spreadsheet. There, such text must stay
text: no table row or HTML of its own, no ``@mention`` that notifies someone, no
image that calls a tracking server, no character that makes the XML unreadable,
no cell that a spreadsheet runs as a formula. (The terminal's helper is
``trimtab.cli.output.visible``; the dashboard's Jinja templates escape HTML.)
"""

from __future__ import annotations

import re
from typing import Any
from xml.etree import ElementTree as ET

# --- Markdown (GitHub-flavoured, as a PR comment renders it) ---------------------------

#: Line breaks and every other control character: a table row and a list item are one line.
_MD_BREAKS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
#: The punctuation that makes Markdown inside a line (links, images, emphasis, code,
#: table cells, strike-through, GitHub's math); each is written with a backslash
#: before it. What acts only at a line's start (``#``, ``-``, ``1.``) cannot, as the
#: text is never at one.
_MD_PUNCTUATION = re.compile(r"([\\`*_\[\]!|~$])")
#: A mention (``@user``, ``@org/team``) notifies people; a zero-width space after the
#: ``@`` shows the same text without the mention. An e-mail address mentions nobody
#: and is left whole.
_MD_MENTION = re.compile(r"(?<![A-Za-z0-9_.+-])@(?=[A-Za-z0-9])")
#: Characters shown of one text; an LLM judge's reason can be a page long.
MARKDOWN_CHARS = 500


def markdown_text(text: Any, limit: int = MARKDOWN_CHARS) -> str:
    """``text`` as Markdown that renders as exactly that text, on one line (fit for a
    table cell or a list item), cut to ``limit`` characters with ``…``.

    HTML is written as entities (``<img>`` shows, it does not load); Markdown
    punctuation gets a backslash (no link, image, emphasis or table cell of its own);
    line breaks and control characters become one space; ``@name`` mentions nobody."""
    flat = _MD_BREAKS.sub(" ", str(text)).strip()
    if len(flat) > limit:
        flat = flat[:limit - 1] + "…"
    flat = flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    flat = _MD_PUNCTUATION.sub(r"\\\1", flat)
    return _MD_MENTION.sub("@&#8203;", flat)


def markdown_code(text: Any, *, table: bool = False) -> str:
    """``text`` as an inline code span on one line, fenced with more backticks than any
    run inside it; in a ``table`` cell ``|`` is escaped, which GFM reads even in code."""
    flat = _MD_BREAKS.sub(" ", str(text))
    longest = max((len(run) for run in re.findall("`+", flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    if table:
        flat = flat.replace("|", "\\|")
    return f"{fence}{pad}{flat}{pad}{fence}"


# --- XML (JUnit) --------------------------------------------------------------------------

#: What XML 1.0 cannot hold at all, escaped or not: C0 controls but tab, LF and CR,
#: lone surrogates, U+FFFE and U+FFFF. A parser stops at the first one.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return chr(0x2400 + code) if code < 0x20 else "\ufffd"


def xml_text(text: str) -> str:
    """``text`` with every character XML 1.0 forbids shown as a visible one (ESC as
    ␛, a lone surrogate as �); ElementTree escapes ``<``, ``&`` and ``>`` itself."""
    return _XML_INVALID.sub(_xml_char, text) if _XML_INVALID.search(text) else text


def xml_tree_text(root: ET.Element) -> ET.Element:
    """Every text, tail and attribute under ``root`` passed through ``xml_text``."""
    for element in root.iter():
        if element.text:
            element.text = xml_text(element.text)
        if element.tail:
            element.tail = xml_text(element.tail)
        for name, value in element.attrib.items():
            element.attrib[name] = xml_text(value)
    return root


# --- CSV (opened in a spreadsheet) -------------------------------------------------------

#: A cell starting with one of these is a formula to Excel, LibreOffice and Google
#: Sheets (``=HYPERLINK(...)``, ``@SUM(...)``, ``+cmd|...``); tab and CR too.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def csv_cell(value: Any) -> Any:
    """A text a spreadsheet would run as a formula, with ``'`` before it (OWASP's
    advice: shown as text, the quote hidden); numbers, including ``-1.5`` written
    as text, and every other value unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) \
            and not _NUMBER.match(value):
        return "'" + value
    return value
