"""Read a reference or current window from a file: CSV, JSON Lines or Parquet.

JSON Lines rows are read like recorded calls: ``inputs``/``request`` hold the
inputs (a dict), ``output``/``response`` the output, ``latency_ms``,
``cost_usd`` or ``cost_micro_usd`` and ``status`` the operations; every other
key is one input.

A CSV or Parquet file is a team's own table, so every column is a feature
(``input.<column>``): a churn table's ``status`` going from active to churned
must drift as a feature, not turn into the call's error flag. A column becomes
a call field only when mapped (``fields={"output": "churned"}``, or
``--fields output=churned``); a column named like a call field but not mapped
is reported in a note, never reinterpreted silently.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from trimtab.errors import TrimtabError

SUFFIXES = (".csv", ".jsonl", ".ndjson", ".parquet")
_CALL_KEYS = {"request": "request", "inputs": "request", "response": "response",
              "output": "response", "latency_ms": "latency_ms", "cost_usd": "cost_usd",
              "cost_micro_usd": "cost_micro_usd", "status": "status"}


CALL_FIELDS = ("inputs", "request", "output", "response", "latency_ms", "cost_usd",
               "cost_micro_usd", "status")


def read_rows(path: Path, fields: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Rows in call shape (``request``, ``response``, ...). Errors name file and line."""
    return read_window(path, fields)[0]


def read_window(path: Path, fields: Mapping[str, str] | None = None
                ) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows in call shape and notes about columns named like call fields.

    ``fields`` maps a call field (``output``, ``latency_ms``, ...) to the column
    of a CSV or Parquet table that holds it."""
    path = Path(path)
    fields = dict(fields or {})
    unknown = sorted(set(fields) - set(CALL_FIELDS))
    if unknown:
        raise TrimtabError(
            f"fields: {', '.join(map(repr, unknown))} is no call field. Fix: map one of "
            f"{', '.join(CALL_FIELDS)} to a column, e.g. output=churned."
        )
    if not path.is_file():
        raise TrimtabError(f"{path}: no such file. Fix: check the path given to --file.")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        raw = list(_csv(path))
    elif suffix in (".jsonl", ".ndjson"):
        raw = list(_jsonl(path))
    elif suffix == ".parquet":
        raw = _parquet(path)
    else:
        raise TrimtabError(
            f"{path}: cannot read {suffix or 'files without a suffix'}. "
            f"Fix: give a {', '.join(SUFFIXES)} file."
        )
    if not raw:
        raise TrimtabError(f"{path}: holds no rows. Fix: give a file with at least one row.")
    if suffix in (".jsonl", ".ndjson"):
        if fields:
            raise TrimtabError(f"{path}: fields= maps a table's columns; JSON Lines rows name "
                               "their call fields themselves. Fix: leave fields out.")
        return [as_call(row) for row in raw], []
    return _table_rows(path, raw, fields)


def _table_rows(path: Path, raw: list[dict[str, Any]], fields: Mapping[str, str]
                ) -> tuple[list[dict[str, Any]], list[str]]:
    """A table's rows: every column a feature, except the columns ``fields`` maps."""
    columns = list(raw[0])
    missing = sorted(column for column in fields.values() if column not in columns)
    if missing:
        raise TrimtabError(
            f"{path}: no column {', '.join(map(repr, missing))} to map. "
            f"Its columns: {', '.join(columns)}."
        )
    target = {column: _CALL_KEYS[field] for field, column in fields.items()}
    notes = _collision_notes(path, columns, target)
    rows = []
    for row in raw:
        call: dict[str, Any] = {}
        inputs = {}
        for key, value in row.items():
            if key in target:
                call[target[key]] = value
            else:
                inputs[key] = value
        if inputs:
            request = call.get("request")
            call["request"] = {**inputs, **request} if isinstance(request, dict) else inputs
        rows.append(call)
    return rows, notes


def _collision_notes(path: Path, columns: list[str], target: Mapping[str, str]) -> list[str]:
    return [
        f"{path.name}: column {column!r} is read as a feature (input.{column}), not as the "
        f"call's {column}; to read it as the call's {column}, map it: --fields "
        f"{column}={column} (fields={{{column!r}: {column!r}}} in Python)"
        for column in columns if column in _CALL_KEYS and column not in target
    ]


def as_call(row: dict[str, Any]) -> dict[str, Any]:
    call: dict[str, Any] = {}
    inputs: dict[str, Any] = {}
    for key, value in row.items():
        target = _CALL_KEYS.get(key)
        if target is None:
            inputs[key] = value
        else:
            call[target] = value
    if inputs:
        request = call.get("request")
        call["request"] = {**inputs, **request} if isinstance(request, dict) else inputs
    return call


def _csv(path: Path) -> Iterator[dict[str, Any]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if not header:
                return
            for row in reader:
                line = reader.line_num
                if not row:
                    continue
                if len(row) != len(header):
                    raise TrimtabError(
                        f"{path}:{line}: {len(row)} fields, but the header has {len(header)}. "
                        "Fix: quote values that contain commas, or repair that line."
                    )
                yield {k: _cell(v) for k, v in zip(header, row, strict=True)}
    except UnicodeDecodeError as exc:
        raise TrimtabError(f"{path}: not UTF-8 text ({exc.reason}). "
                           "Fix: save the file as UTF-8.") from None
    except csv.Error as exc:
        raise TrimtabError(f"{path}:{reader.line_num}: {exc}. Fix: repair that line.") from None


def _cell(text: str) -> Any:
    """CSV has no types: empty is missing, numbers are numbers, the rest is text."""
    if text == "":
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    try:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except ValueError as exc:
                    raise TrimtabError(
                        f"{path}:{number}: not valid JSON ({exc}). "
                        "Fix: one JSON object per line."
                    ) from None
                if not isinstance(value, dict):
                    raise TrimtabError(
                        f"{path}:{number}: a {type(value).__name__}, not a JSON object. "
                        "Fix: one JSON object per line, e.g. {\"inputs\": {...}, \"output\": ...}."
                    )
                yield value
    except UnicodeDecodeError as exc:
        raise TrimtabError(f"{path}: not UTF-8 text ({exc.reason}). "
                           "Fix: save the file as UTF-8.") from None


def _parquet(path: Path) -> list[dict[str, Any]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise TrimtabError("reading Parquet needs pyarrow. Fix: pip install 'trimtab[drift]'.") \
            from None
    try:
        table = pq.read_table(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for a bad file
        raise TrimtabError(f"{path}: not a readable Parquet file ({exc}). "
                           "Fix: write it again with pyarrow or pandas.to_parquet().") from None
    return table.to_pylist()
