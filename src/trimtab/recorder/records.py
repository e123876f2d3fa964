"""The call record: what trimtab keeps about every AI call or prediction.

Made on the hot path, so it is a plain object serialised straight to one JSON
line for the spool (``to_line``); the writer turns that line into the values
of a calls-table row (``values_from_spool``).
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from datetime import UTC, datetime
from operator import attrgetter, itemgetter
from typing import Any

import orjson

from trimtab import jsontext
from trimtab.recorder.call_fields import (
    REASONS_TEXT_MAX,
    finish_reasons_text,
    params_text,
    response_id_text,
)
from trimtab.store.call_columns import CALL_COLUMNS, COLUMN, PARAMS_CHARS, RESPONSE_ID_CHARS
from trimtab.store.ids import new_call_id


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
    # The request's sampling parameters and the provider's answer id and finish reasons
    # (columns since migration 0023, bounded by recorder/call_fields.py; exported to span
    # observers as they are), and the URL actually called when no trimtab.yaml provider
    # says it (instrument(): spooled and exported, not stored).
    params: dict[str, Any] | None = None
    response_id: str | None = None
    finish_reasons: list[str] | None = None
    server_url: str | None = None

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
                values[i] = jsontext.dumps(value)
        # The answer columns travel as their bounded JSON text too: the writer then
        # checks a length instead of walking and serialising them for every row.
        if self.params is not None:
            values[_PARAMS_AT] = params_text(self.params)
        if self.finish_reasons is not None:
            values[_REASONS_AT] = finish_reasons_text(self.finish_reasons)
        return jsontext.dumpb(values) + b"\n"


JSON_COLUMNS = ("tags", "attempts", "request", "response")
# The spool line's fields, in order. Append new fields at the end only: a line
# spooled by an older trimtab is then just shorter, and gets the defaults.
FIELDS = tuple(f.name for f in fields(CallRecord))
LINE_FORMAT = 1
_field_values = attrgetter(*FIELDS)
_TIME = 1 + FIELDS.index("time")
_JSON_AT = tuple(1 + FIELDS.index(name) for name in JSON_COLUMNS)
_PARAMS_AT, _REASONS_AT = 1 + FIELDS.index("params"), 1 + FIELDS.index("finish_reasons")
_DEFAULTS = {f.name: f.default for f in fields(CallRecord) if f.default is not MISSING}



_LINE_LENGTH = 1 + len(FIELDS)
_line_to_columns = itemgetter(*(1 + FIELDS.index(name) for name in CALL_COLUMNS))
_C_TIME, _C_LATENCY, _C_ERROR = COLUMN["time"], COLUMN["latency_ms"], COLUMN["error"]
_C_ID, _C_REASONS, _C_PARAMS = COLUMN["response_id"], COLUMN["finish_reasons"], COLUMN["params"]


def values_from_spool(line: bytes) -> list[Any]:
    """A spool line as calls-table values in column order, time as UTC datetime.

    Lists rather than dicts: the writer inserts them as they are and the
    rollups read them by position, which halved its time per record.
    Raises ValueError on a line it cannot read.
    """
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError:  # what only the standard library reads: make it storable
        return _storable(_values(jsontext.loads(line)))
    return _values(data)


def _values(data: Any) -> list[Any]:
    if type(data) is not list or len(data) != _LINE_LENGTH or data[0] != LINE_FORMAT:
        return _values_from_older(data)
    values = list(_line_to_columns(data))
    values[_C_TIME] = _utc(values[_C_TIME])
    latency = values[_C_LATENCY]
    if type(latency) is not float or not 0 <= latency < 1e9:  # NaN fails too
        _check_latency(values, latency)
    _bound_answer(values)
    return values


def _bound_answer(values: list[Any]) -> None:
    """The answer columns as bounded text: they hold what a provider sent. A line from
    ``to_line`` carries them as bounded text already, so this is three length checks;
    a line of an older trimtab carries structures, bounded here; a text longer than
    ``to_line`` makes (a hand-made line) is cut (the id) or dropped (JSON, which a cut
    would break)."""
    answer_id = values[_C_ID]
    if answer_id is not None and (type(answer_id) is not str or not answer_id
                                  or len(answer_id) > RESPONSE_ID_CHARS):
        values[_C_ID] = response_id_text(answer_id)
    reasons = values[_C_REASONS]
    if reasons is not None and (type(reasons) is not str or len(reasons) > REASONS_TEXT_MAX):
        values[_C_REASONS] = None if type(reasons) is str else finish_reasons_text(reasons)
    params = values[_C_PARAMS]
    if params is not None and (type(params) is not str or len(params) > PARAMS_CHARS):
        values[_C_PARAMS] = None if type(params) is str else params_text(params)


def _values_from_older(data: Any) -> list[Any]:
    """Lines in older shapes: a dict (trimtab 0.1.0) or a shorter list."""
    if isinstance(data, dict):
        row = dict(data)
        for name in JSON_COLUMNS:  # 0.1.0 lines hold structures
            value = row.get(name)
            if value is not None and not isinstance(value, str):
                row[name] = jsontext.dumps(value)
    elif isinstance(data, list) and data and data[0] == LINE_FORMAT:
        row = {**_DEFAULTS, **dict(zip(FIELDS, data[1:], strict=False))}
    else:
        raise ValueError("not a spool line of a known format")
    values = [row.get(name) for name in CALL_COLUMNS]
    values[_C_TIME] = _utc(values[_C_TIME])
    _check_latency(values, values[_C_LATENCY])
    _bound_answer(values)
    return values


#: Integer columns and the most each holds (PostgreSQL's INTEGER and BIGINT).
_INT_RANGES = {COLUMN[name]: 2**31 - 1 for name in (
    "http_status", "input_tokens", "output_tokens", "cached_input_tokens",
    "cache_write_tokens", "reasoning_tokens")} | {COLUMN["cost_micro_usd"]: 2**63 - 1}


def _storable(values: list[Any]) -> list[Any]:
    """A line orjson refused holds a lone surrogate or an integer past 64 bits (a hostile
    upstream's model name, a hand-made record): one such row must not wedge the writer,
    so a string keeps its surrogates as ``\\u`` escapes and an integer past its column
    is dropped, with a note."""
    for i, value in enumerate(values):
        if type(value) is str and not value.isascii():
            try:
                value.encode()
            except UnicodeEncodeError:
                values[i] = value.encode("utf-8", "backslashreplace").decode()
                if i == _C_ID:  # escapes lengthen it past its column
                    values[i] = values[i][:RESPONSE_ID_CHARS]
        elif type(value) is int and i in _INT_RANGES and not 0 <= value <= _INT_RANGES[i]:
            values[i] = None
            note = f" [{CALL_COLUMNS[i]} {value} out of range]"[:200]
            values[_C_ERROR] = ((values[_C_ERROR] or "") + note).strip()
    return values


def _utc(text: str) -> datetime:
    """Spooled times are UTC unless a caller passed another zone: the rollups
    floor minutes, hours and days in UTC, so every time is brought there."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is not UTC:
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment


def _check_latency(values: list[Any], latency: Any) -> None:
    """Callers validate latency; one bad value spooled anyway (an older writer,
    a hand-made record) must not wedge the writer on that row forever, so it is
    stored as the slowest latency with a note, and the rest flows on."""
    if isinstance(latency, bool) or not isinstance(latency, int | float) or not 0 <= latency < 1e9:
        values[_C_LATENCY] = 1e9
        note = f" [invalid latency_ms {latency!r}]"
        values[_C_ERROR] = ((values[_C_ERROR] or "") + note).strip()
