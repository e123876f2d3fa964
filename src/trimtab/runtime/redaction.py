"""Privacy: what of a prompt or answer may be stored, applied before storing.

Each system picks a logging mode: ``full`` keeps text (credentials are still
masked: a key pasted into a prompt must not live on in the call log),
``redacted`` masks personal data with typed placeholders, ``hashed`` keeps
only a keyed hash (equal inputs stay comparable, content does not), and
``metadata`` keeps nothing of the text. Built-in detectors use a checksum
where one exists (Luhn for cards, mod-97 for IBANs) so order numbers and
timestamps are not masked by accident; teams add their own regexes for the
identifiers only they know (employee ids, contract numbers).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

LoggingMode = Literal["full", "redacted", "hashed", "metadata"]
MODES: tuple[str, ...] = ("full", "redacted", "hashed", "metadata")
SECRET = "[SECRET]"


@dataclass(frozen=True)
class Rule:
    """A named pattern; ``check`` rejects look-alikes (returns the span to mask or None)."""

    name: str
    pattern: re.Pattern[str]
    replacement: str
    check: Callable[[str], int | None] | None = None
    #: A cheap necessary condition: False means the pattern cannot match the text.
    maybe: Callable[[str], bool] | None = None


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card(text: str) -> int | None:
    digits = re.sub(r"[ -]", "", text)
    if 13 <= len(digits) <= 19 and len(set(digits)) > 1 and _luhn(digits):
        return len(text)
    return None


def _iban_ok(compact: str) -> bool:
    moved = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in moved)
    return int(number) % 97 == 1


def _iban(text: str) -> int | None:
    """Longest prefix that is a valid IBAN: the regex may swallow a trailing word."""
    positions = [i for i, c in enumerate(text) if c != " "]
    for n in range(min(len(positions), 34), 14, -1):
        compact = "".join(text[i] for i in positions[:n]).upper()
        if compact[:2].isalpha() and compact[2:4].isdigit() and _iban_ok(compact):
            return positions[n - 1] + 1
    return None


_DATE = re.compile(r"^(\d{4}[./-]\d{1,2}[./-]\d{1,2}|\d{1,2}[./-]\d{1,2}[./-]\d{2,4})$")


def _phone(text: str) -> int | None:
    digits = re.sub(r"\D", "", text)
    if not 8 <= len(digits) <= 15 or _DATE.match(text.strip()):
        return None
    if re.fullmatch(r"\d+\.\d+", text):  # a decimal number, not a phone
        return None
    has_separators = bool(re.search(r"[ ().-]", text))
    if not has_separators and not text.startswith(("+", "0")):
        return None  # a bare run of digits is more often an id than a phone
    return len(text)


_SECRET_PATTERNS = [
    r"(?i:\bbearer)\s+[A-Za-z0-9._~+/=-]{8,}",
    r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}",
    r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
    r"\bgh[pousr]_[A-Za-z0-9]{30,}\b",
    r"\bxox[abprs]-[A-Za-z0-9-]{10,}",
    r"\bAIza[0-9A-Za-z_-]{35}\b",
    r"(?i:\b(?:api[_-]?key|secret|token|password|passwd))\b\s*[:=]\s*['\"]?[^\s'\",;]{6,}",
]

# The characters other than A-Z that a case-insensitive pattern matches as ASCII
# letters (İ and ı as i, the Kelvin sign as k, the long s as s).
_ASCII_FOLD = str.maketrans({"\u0130": "i", "\u0131": "i", "\u212a": "k", "\u017f": "s"})


def _may_hold_secret(text: str) -> bool:
    """False only when no credential pattern can match: each one needs a literal
    (``sk-``, ``AKIA``, ``bearer``, ``token`` and ``=`` …) the text lacks. A few
    substring tests cost a tenth of running the combined pattern over a text,
    and most texts hold none of these literals."""
    if ("sk-" in text or "AKIA" in text or "ASIA" in text or "xox" in text or "AIza" in text
            or ("gh" in text and "_" in text)):
        return True
    folded = (text if text.isascii() else text.translate(_ASCII_FOLD)).lower()
    if "bearer" in folded:
        return True
    return ("=" in text or ":" in text) and (
        "api" in folded or "secret" in folded or "token" in folded or "passw" in folded)


SECRETS_RULE = Rule("secret", re.compile("|".join(f"(?:{p})" for p in _SECRET_PATTERNS)), SECRET,
                    maybe=_may_hold_secret)

BUILTIN_RULES: tuple[Rule, ...] = (
    SECRETS_RULE,
    Rule("email", re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@"
                             r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"), "[EMAIL]"),
    Rule("iban", re.compile(r"\b[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]){11,32}\b"), "[IBAN]", _iban),
    Rule("card", re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])"), "[CARD]", _card),
    Rule("phone", re.compile(
        r"(?<![\w+/.-])(?:\+|00)?\(?\d[\d ().-]{6,22}\d(?![\w/-]|\.\d)"), "[PHONE]", _phone),
)


def compile_rules(specs: Iterable[Mapping[str, Any]]) -> tuple[Rule, ...]:
    """Custom rules from the project file: ``{name, pattern, replace?}``.

    Raises ``re.error`` for a bad pattern; the project loader reports it with
    its file position before a release can carry it.
    """
    rules = []
    for spec in specs:
        name = spec["name"]
        replacement = spec.get("replace") or f"[{name.upper().replace('-', '_')}]"
        rules.append(Rule(name, re.compile(spec["pattern"]), replacement))
    return tuple(rules)


def _apply(rule: Rule, text: str) -> str:
    if rule.maybe is not None and not rule.maybe(text):
        return text
    if rule.check is None:
        return rule.pattern.sub(rule.replacement, text)

    def replace(match: re.Match[str]) -> str:
        found = match.group(0)
        end = rule.check(found)
        return found if end is None else rule.replacement + found[end:]

    return rule.pattern.sub(replace, text)


def scrub_secrets(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask known secret values and anything shaped like a credential."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, SECRET)
    return text if len(text) < SHORTEST["secret"] else _apply(SECRETS_RULE, text)


#: What a text must contain before a built-in rule can match: most texts have no
#: "@" and many no digit, and skipping a regex scan is the cheap part of privacy.
_NEEDS = {"email": "@", "iban": "digit", "card": "digit", "phone": "digit"}
#: The shortest text each built-in rule can match (labels and keys are shorter).
SHORTEST = {"secret": 12, "email": 6, "iban": 15, "card": 13, "phone": 8}
_DIGIT = re.compile(r"\d")
#: The built-ins in order, each with its shortest match and what it needs.
_BUILTIN_PLAN = tuple((rule, SHORTEST[rule.name], _NEEDS.get(rule.name)) for rule in BUILTIN_RULES)
_SHORTEST_BUILTIN = min(SHORTEST.values())


def mask(text: str, rules: Iterable[Rule] = ()) -> str:
    """Custom rules first (the team knows its own ids best), then the built-ins."""
    for rule in rules:
        text = _apply(rule, text)
    size = len(text)
    if size < _SHORTEST_BUILTIN:  # keys and labels: no built-in can match
        return text
    digits: bool | None = None
    for rule, shortest, need in _BUILTIN_PLAN:
        if size < shortest:
            continue
        if need == "@":
            if "@" not in text:
                continue
        elif need == "digit":
            if digits is None:
                digits = _DIGIT.search(text) is not None
            if not digits:
                continue
        text = _apply(rule, text)
    return text


def hash_text(text: str, salt: str | bytes | None = None) -> str:
    """Keyed when a salt is given: an unkeyed hash of a short text is a lookup away."""
    data = text.encode("utf-8")
    if salt:
        key = salt.encode("utf-8") if isinstance(salt, str) else salt
        return "hmac-sha256:" + hmac.new(key, data, hashlib.sha256).hexdigest()
    return "sha256:" + hashlib.sha256(data).hexdigest()


def redact(mode: LoggingMode, rules: Iterable[Rule], text: str | None, *,
           salt: str | bytes | None = None) -> str | None:
    """The storable form of one text under ``mode``; None means store nothing."""
    if text is None or mode == "metadata":
        return None
    if mode == "full":
        return scrub_secrets(text)
    if mode == "redacted":
        return mask(text, rules)
    if mode == "hashed":
        return hash_text(text, salt)
    raise ValueError(f"unknown logging mode {mode!r}; expected one of {', '.join(MODES)}")


class Redactor:
    """A system's privacy settings, compiled once and applied to every call.

    ``messages`` and ``value`` walk OpenAI-shaped payloads and transform only
    text (message content, text parts, tool-call arguments), keeping roles,
    ids and structure so stored records stay queryable.
    """

    def __init__(self, mode: LoggingMode = "redacted", rules: Iterable[Rule] = (), *,
                 salt: str | bytes | None = None):
        if mode not in MODES:
            raise ValueError(f"unknown logging mode {mode!r}; expected one of {', '.join(MODES)}")
        self.mode = mode
        self.rules = tuple(rules)
        self.salt = salt

    @classmethod
    def from_spec(cls, privacy: Mapping[str, Any] | None, *,
                  salt: str | bytes | None = None) -> Redactor:
        """From a release spec's ``privacy`` block (absent → the safe default)."""
        privacy = privacy or {}
        return cls(privacy.get("logging", "redacted"), compile_rules(privacy.get("redact", ())),
                   salt=salt)

    @property
    def keeps_text(self) -> bool:
        return self.mode != "metadata"

    def text(self, text: str | None) -> str | None:
        # The two modes that keep text first: this runs for every string of a call.
        if text is None:
            return None
        mode = self.mode
        if mode == "redacted":
            return mask(text, self.rules)
        if mode == "full":
            return scrub_secrets(text)
        return redact(mode, self.rules, text, salt=self.salt)

    def value(self, obj: Any) -> Any:
        """Every string leaf of a JSON-like value (tool arguments, JSON answers)."""
        if isinstance(obj, str):
            return self.text(obj)
        if isinstance(obj, Mapping):
            return {k: self.value(v) for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return [self.value(v) for v in obj]
        return obj

    def message(self, message: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(message)
        content = message.get("content")
        if isinstance(content, str):
            out["content"] = self.text(content)
        elif isinstance(content, list):
            out["content"] = [
                {**part, "text": self.text(part["text"])}
                if isinstance(part, Mapping) and isinstance(part.get("text"), str) else part
                for part in content
            ]
        if message.get("tool_calls"):
            out["tool_calls"] = [self._tool_call(call) for call in message["tool_calls"]]
        return out

    def messages(self, messages: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return [self.message(m) for m in messages]

    def _tool_call(self, call: Mapping[str, Any]) -> dict[str, Any]:
        function = call.get("function")
        if not isinstance(function, Mapping) or not isinstance(function.get("arguments"), str):
            return dict(call)
        return {**call, "function": {**function, "arguments": self.text(function["arguments"])}}
