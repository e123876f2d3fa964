"""Canonical JSON: the byte form that release ids and audit hashes are taken over.

Sorted keys, no insignificant whitespace, UTF-8, so the same content always
hashes to the same id on every machine and Python version.
"""

import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_hex(text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


def digest(value: Any) -> str:
    return sha256_hex(canonical_json(value))
