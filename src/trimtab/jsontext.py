"""JSON on the hot paths: orjson where it can, the standard library where it cannot.

Every gateway request parses one body and writes one, every call writes a
spool line, and the recorder parses those lines again; with the standard
library that was a fifth of the recorder's time. orjson does the same work
several times faster. It refuses a few things the standard library accepts
(integers beyond 64 bits, for one); those values go through ``json`` with
the same options, so callers never see the difference.

Datetimes and other non-JSON values become ``str(value)``, as they did with
``json.dumps(default=str)``, so stored text does not change format. A string
that is not valid Unicode (a lone surrogate, as ``json.loads`` lets through)
is written as its ``\\u`` escape, so the text can always be encoded and stored.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import orjson

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
_fallback = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode
_escaped = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True, default=str).encode

JSONDecodeError = json.JSONDecodeError  # orjson.JSONDecodeError subclasses it


def dumpb(value: Any) -> bytes:
    """Compact UTF-8 JSON bytes."""
    try:
        return orjson.dumps(value, default=str, option=_OPTIONS)
    except TypeError:
        return _fallback_text(value).encode()


def dumps(value: Any) -> str:
    """Compact JSON text, non-ASCII kept as is (not ``\\u`` escapes)."""
    try:
        return orjson.dumps(value, default=str, option=_OPTIONS).decode()
    except TypeError:
        return _fallback_text(value)


def _fallback_text(value: Any) -> str:
    """What orjson refused: integers past 64 bits, or a lone surrogate (escaped here)."""
    text = _fallback(value)
    try:
        text.encode()
    except UnicodeEncodeError:
        return _escaped(value)
    return text


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """Parse JSON; raises ``json.JSONDecodeError`` (a ValueError) on bad input.

    Text orjson refuses goes to the standard library, which also reads the
    ``NaN`` and ``Infinity`` that older spool lines may hold.
    """
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        if isinstance(data, memoryview | bytearray):
            data = bytes(data)
        return json.loads(data)


# --- canonical JSON: the text release ids and audit hashes are taken over ---


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_hex(text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


def digest(value: Any) -> str:
    return sha256_hex(canonical_json(value))
