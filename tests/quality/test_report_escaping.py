"""`trimtab eval --junit/--markdown` with text from outside in the failures (here an LLM
judge's reason, which the answer it judges can steer): the JUnit XML still parses,
and the PR comment, rendered as GitHub-flavoured Markdown, shows the reason as
text: no row, HTML, image, link or mention of its own."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from markdown_it import MarkdownIt

from trimtab.escaping import csv_cell, markdown_code, markdown_text, xml_text

REASON = ("bad\x1b[31m\x00 ]]> | next cell\n| injected | row |\n\n@octocat "
          "<img src=https://t.example/p.gif> ![x](https://t.example/i.png) "
          "[click](javascript:alert(1)) </details> **loud** `code")
JUDGE = """\
          - type: judge
            provider: simulated
            model: sim-judge
            rubric: Judge it.
            simulate:
              default: {score: 0, reason: "REASON"}
"""


def gfm(text: str) -> str:
    """HTML as a GitHub-like renderer makes it: raw HTML passes, tables on."""
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).render(text)


def test_a_judges_reason_stays_text_in_junit_and_the_pr_comment(cli, project_dir, tmp_path):
    reason = REASON.replace("\\", "\\\\").replace("\x1b", "\\e").replace("\x00", "\\0") \
        .replace("\n", "\\n").replace('"', '\\"')
    path = project_dir / "trimtab.yaml"
    path.write_text(path.read_text().replace(
        "          - {type: latency, max_ms: 2000}\n",
        "          - {type: latency, max_ms: 2000}\n" + JUDGE.replace("REASON", reason), 1))
    junit, markdown = tmp_path / "eval.xml", tmp_path / "eval.md"
    cli("eval", "complaint-router", "--junit", str(junit), "--markdown", str(markdown), expect=1)

    failures = list(ET.parse(junit).getroot().iter("failure"))
    assert len(failures) == 21  # 20 cases and the judge's threshold
    assert "bad␛[31m␀ ]]> | next cell\n| injected" in failures[1].get("message")

    html = gfm(markdown.read_text())
    assert "<img" not in html and "<a " not in html and "<strong>loud" not in html
    assert "&lt;/details&gt;" in html and html.count("</details>") == 1
    failing = html.split("<summary>Failing cases</summary>")[1]
    assert failing.count("<tr>") == 1 + 20  # the header, one row per case
    assert "@octocat" not in html and "@\u200boctocat" in html.replace("&#8203;", "\u200b")
    assert "![x](https://t.example/i.png) [click](javascript:alert(1))" in html


def test_markdown_text_and_code_render_as_exactly_the_text():
    for text in ("a*b*c_d_ ~~x~~ $x$ [l](u) <b>&amp;</b> \\", "me@example.com, @team/x",
                 "```", "a`b", "|"):
        row = f"| {markdown_text(text)} | {markdown_code(text, table=True)} |"
        rendered = gfm(f"| text | code |\n|---|---|\n{row}")
        cells = [cell.split("</td>")[0] for cell in rendered.split("<td>")[1:]]
        escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        assert len(cells) == 2, rendered
        assert cells[0].replace("@\u200b", "@") == escaped, rendered
        assert cells[1] == f"<code>{escaped}</code>", rendered


def test_xml_text_and_csv_cell():
    assert xml_text("ok\tline\r\n\x1b\x0c\ufffe\udfff") == "ok\tline\r\n␛␌��"
    for formula in ("=HYPERLINK(\"https://evil.example\",\"x\")", "+1+1", "-cmd|x", "@SUM(A1)",
                    "\t=1", "\r=1"):
        assert csv_cell(formula) == "'" + formula
    for kept in ("-1.5", "+2", "-3e-4", "plain", "", None, 3, "a=b"):
        assert csv_cell(kept) == kept
