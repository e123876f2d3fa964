"""The call record: what trimtab keeps about every AI call or prediction.

Made on the hot path, so it is a plain object serialised straight to one JSON
line for the spool; the store turns that line into a row.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
        data = dict(vars(self))
        data["time"] = self.time.isoformat()
        return (json.dumps(data, separators=(",", ":"), default=str) + "\n").encode()


JSON_COLUMNS = ("tags", "attempts", "request", "response")


def row_from_line(data: dict[str, Any]) -> dict[str, Any]:
    """A spooled record as a calls-table row: time parsed, JSON fields as text."""
    row = dict(data)
    row["time"] = datetime.fromisoformat(row["time"])
    for name in JSON_COLUMNS:
        value = row.get(name)
        if value is not None and not isinstance(value, str):
            row[name] = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return row
