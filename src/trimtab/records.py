"""The call record: what trimtab keeps about every AI call or prediction.

Made on the hot path, so it is a plain object serialised straight to one JSON
line for the spool (``to_line``); the writer turns that line into a row
(``row_from_spool``).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import MISSING, dataclass, field, fields
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any


def new_call_id() -> str:
    """32 hex chars: microseconds since the epoch, then 72 random bits.

    Time-ordered (B-tree friendly, partition friendly) and made without asking
    the database, so replaying a record can never mint a second id.
    """
    return f"{time.time_ns() // 1000:014x}{os.urandom(9).hex()}"


@dataclass
class CallRecord:
    system: str
    env: str
    latency_ms: float
    status: str = "ok"  # ok | error
    id: str = field(default_factory=new_call_id)
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    release_id: str | None = None
    source: str = "sdk"  # sdk | gateway | record | instrument
    route: str = "primary"  # primary | canary | shadow
    provider: str | None = None
    model: str | None = None
    error_kind: str | None = None
    http_status: int | None = None
    ttft_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_input_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    cost_micro_usd: int | None = None
    price_version: str | None = None
    attempt_count: int = 1
    fallback_used: bool = False
    user_id: str | None = None
    api_key_id: str | None = None
    tags: dict[str, str] | None = None
    attempts: list[dict[str, Any]] | None = None
    logging_mode: str = "full"
    request: Any = None
    response: Any = None
    error: str | None = None

    def to_line(self) -> bytes:
        """One spool line: a JSON array, the format tag then every field in order.

        Positional, so neither the hot path nor the writer spends time on 31
        key strings per call. JSON-valued fields travel as the text the store
        keeps, so the writer reads a string instead of parsing a structure and
        serialising it again.
        """
        values = [LINE_FORMAT, *_field_values(self)]
        values[_TIME] = self.time.isoformat()
        for i in _JSON_AT:
            value = values[i]
            if value is not None and not isinstance(value, str):
                values[i] = _stored_json(value)
        return (_encode_line(values) + "\n").encode()


JSON_COLUMNS = ("tags", "attempts", "request", "response")
# The spool line's fields, in order. Append new fields at the end only: a line
# spooled by an older trimtab is then just shorter, and gets the defaults.
FIELDS = tuple(f.name for f in fields(CallRecord))
LINE_FORMAT = 1
_field_values = attrgetter(*FIELDS)
_TIME = 1 + FIELDS.index("time")
_JSON_AT = tuple(1 + FIELDS.index(name) for name in JSON_COLUMNS)
_DEFAULTS = {f.name: f.default for f in fields(CallRecord) if f.default is not MISSING}


# Built once: json.dumps with arguments builds a new encoder on every call.
_encode_line = json.JSONEncoder(separators=(",", ":"), default=str).encode
_stored_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode


def row_from_spool(line: bytes) -> dict[str, Any]:
    """A spool line as a calls-table row. Raises ValueError on a line it cannot read."""
    data = json.loads(line)
    if isinstance(data, dict):  # spooled by trimtab 0.1.0
        return row_from_line(data)
    if not isinstance(data, list) or not data or data[0] != LINE_FORMAT:
        raise ValueError("not a spool line of a known format")
    row = dict(zip(FIELDS, data[1:], strict=False))
    if len(row) < len(FIELDS):
        row = {**_DEFAULTS, **row}
    row["time"] = datetime.fromisoformat(row["time"])
    _check_latency(row)
    return row


def _check_latency(row: dict[str, Any]) -> None:
    """Callers validate latency; one bad value spooled anyway (an older writer,
    a hand-made record) must not wedge the writer on that row forever, so it is
    stored as the slowest latency with a note, and the rest flows on."""
    latency = row.get("latency_ms")
    if not isinstance(latency, int | float) or not 0 <= latency < 1e9:  # NaN fails too
        row["latency_ms"] = 1e9
        row["error"] = ((row.get("error") or "") + f" [invalid latency_ms {latency!r}]").strip()


def row_from_line(data: dict[str, Any]) -> dict[str, Any]:
    """A spooled record as a calls-table row: time parsed, JSON fields as text."""
    row = dict(data)
    row["time"] = datetime.fromisoformat(row["time"])
    _check_latency(row)
    for name in JSON_COLUMNS:  # lines spooled by an older trimtab hold structures
        value = row.get(name)
        if value is not None and not isinstance(value, str):
            row[name] = _stored_json(value)
    return row
