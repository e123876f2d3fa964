"""Read a reference or current window from a file: CSV, JSON Lines or Parquet.

Each row is read like a recorded call, so a training set can be the reference
for production calls: keys ``inputs``/``request`` hold the inputs (a dict),
``output``/``response`` the output, ``latency_ms``, ``cost_usd`` or
``cost_micro_usd`` and ``status`` the operations; every other key is one
input. A CSV training set with columns ``age,plan,output`` thus yields the
columns ``input.age``, ``input.plan`` and ``output.label``, the same names that
``ws.record(system, inputs={"age": ..., "plan": ...}, output=...)`` calls get.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from trimtab.errors import TrimtabError

SUFFIXES = (".csv", ".jsonl", ".ndjson", ".parquet")
_CALL_KEYS = {"request": "request", "inputs": "request", "response": "response",
              "output": "response", "latency_ms": "latency_ms", "cost_usd": "cost_usd",
              "cost_micro_usd": "cost_micro_usd", "status": "status"}


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows in call shape (``request``, ``response``, ...). Errors name file and line."""
    path = Path(path)
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
    return [as_call(row) for row in raw]


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
        with path.open(newline="", encoding="utf-8") as handle:
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
