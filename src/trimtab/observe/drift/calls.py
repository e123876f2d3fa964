"""Turn recorded calls into drift columns: inputs, outputs and operations.

A stored call keeps its request and response as JSON text. Inputs come from
the request: for ``ws.record(system, inputs, ...)`` every key of the inputs
dict is a column (nested dicts flattened with dots); for LLM calls the SDK
stores ``{"variables": {...}, "messages": [...]}``, so each template variable
is a column and the user messages' text is the text column ``input.messages``.
Outputs come from the response: JSON object fields, or a scalar label/value,
plus length, empty, refusal and JSON-validity flags. Operations are latency
and cost per call.

Free-text columns are not tested as strings; they become features (length,
character classes, script mix, unseen-token rate, optionally the embedding
distance to the reference centroid). Which string columns are free text, and
the reference vocabulary, are decided once on the reference window and kept
in an *extraction plan* stored with the baseline, so every later window is cut
into exactly the same columns.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from trimtab.observe.drift.columns import ops_features, output_features, text_features, vocabulary

PLAN_VERSION = 1
VOCABULARY_LIMIT = 10_000  # tokens kept per text column: keeps a baseline a few hundred KB
MAX_DEPTH = 3  # nested input dicts are flattened this deep
TEXT_MIN_WORDS = 3
TEXT_MIN_ROWS = 20


class Labels(list):
    """A column known to hold only strings and None (a table read by column):
    already typed, so it skips the per-value checks of the row path."""


def raw_columns(rows: Iterable[Mapping[str, Any]]) -> tuple[dict[str, list], int, list[str]]:
    """Raw values per column, one per row (None where a row lacks it), plus notes.

    ``rows`` are call rows (``request``/``response`` as stored JSON text, or
    already decoded) or file rows in the same shape.
    """
    cells: list[dict[str, Any]] = []
    notes: set[str] = set()
    for row in rows:
        cells.append(_row_cells(row, notes))
    names = list(dict.fromkeys(name for cell in cells for name in cell))
    columns = {name: [cell.get(name) for cell in cells] for name in names}
    return columns, len(cells), sorted(notes)


def plan(raw: Mapping[str, list], *, embeddings: bool = False,
         output_flags: bool = True) -> dict[str, Any]:
    """Decide, on the reference window, which string columns are free text.

    ``output_flags`` False (a classic system) keeps the LLM output features
    (``output.length``, ``output.empty``, ``output.refusal``, ...) out: a
    classifier's drift report shows only its own inputs and outputs.

    ``input.messages`` (LLM user turns) always is; other string columns when
    their values average at least ``TEXT_MIN_WORDS`` words, or by Evidently's
    rule (more than half of the values distinct) once there are at least
    ``TEXT_MIN_ROWS`` values: on a handful of calls that rule would call every
    label column text.
    """
    text: dict[str, Any] = {}
    for name, values in raw.items():
        if name in _NOT_FEATURES or isinstance(values, np.ndarray):
            continue  # an array (a table read by column) holds numbers
        if isinstance(values, Labels):
            strings = [v for v in values if v is not None]
        else:
            strings = [v for v in values if isinstance(v, str)]
        if not strings or (not isinstance(values, Labels)
                           and len(strings) < sum(v is not None for v in values)):
            continue  # numbers, bools, or mixed (mixed is stringified as labels)
        if name == "input.messages" or _is_free_text(strings):
            text[name] = {"vocabulary": vocabulary(strings, VOCABULARY_LIMIT)}
    out: dict[str, Any] = {"version": PLAN_VERSION, "text": text,
                           "expect_json": any(raw.get("output.json_object") or [])}
    if not output_flags:
        out["output_flags"] = False
    if embeddings:
        from trimtab.observe.drift import embeddings as emb

        out["embeddings"] = {name: emb.reference(_strings(raw[name])) for name in text}
    return out


def features(raw: Mapping[str, list], n_rows: int, extraction: Mapping[str, Any], *,
             reference: bool = False) -> dict[str, Any]:
    """The drift columns of one window, cut as ``extraction`` says."""
    text_plan = extraction.get("text", {})
    embedded = extraction.get("embeddings") or {}
    out: dict[str, Any] = {}
    for name, values in raw.items():
        if name in _NOT_FEATURES:
            continue
        if name in text_plan:
            texts = _strings(_as_values(values))
            # A scalar string output that is free text is the output's text, not a label.
            base = "output.text" if name == "output.label" else name
            cols = text_features(texts, text_plan[name]["vocabulary"], reference=reference,
                                 prefix=f"{base}.")
            if base == "output.text":
                cols.pop("output.text.length")  # output.length already says it
            out.update(cols)
            if name in embedded:
                from trimtab.observe.drift import embeddings as emb

                out[f"{base}.embedding_distance"] = emb.distances(
                    texts, embedded[name], reference=reference)
            continue
        out[name] = values if isinstance(values, (np.ndarray, Labels)) else _typed(values)
    responses = raw.get("output.response_text")
    if extraction.get("output_flags", True) and responses is not None \
            and any(r is not None for r in responses):
        flags = output_features(responses, expect_json=bool(extraction.get("expect_json")),
                                prefix="output.")
        for flag, values in flags.items():
            if flag == "output.length":
                out[flag] = values
            else:  # a missing response (failed call) is missing, not "empty"
                out[flag] = [None if r is None else bool(v)
                             for r, v in zip(responses, values, strict=True)]
    if "latency_ms" in raw or "cost_micro_usd" in raw:
        none = [None] * n_rows
        ops = ops_features(raw.get("cost_micro_usd", none), raw.get("latency_ms", none))
        out.update(ops)
    if "error" in raw:
        out["error"] = raw["error"]
    return out


# ----------------------------------------------------------------- one row

# Raw cells that are read by the flag and ops extractors, never columns themselves.
_NOT_FEATURES = {"output.json_object", "output.response_text", "latency_ms", "cost_micro_usd",
                 "error"}


def _row_cells(row: Mapping[str, Any], notes: set[str]) -> dict[str, Any]:
    cells: dict[str, Any] = {}
    failed = row.get("status") == "error"
    request = _decode(row.get("request"))
    if isinstance(request, Mapping) and "messages" in request:
        variables = request.get("variables")
        if isinstance(variables, Mapping):
            _flatten("input", variables, cells, notes)
        text = _user_text(request.get("messages"))
        if text is not None:
            cells["input.messages"] = text
    elif isinstance(request, Mapping):
        _flatten("input", request, cells, notes)
    elif request is not None:
        _scalar("input", request, cells, notes)
    response = None if failed else row.get("response")
    if response is not None:
        _output(response, cells, notes)
    for name in ("latency_ms", "cost_micro_usd"):
        if row.get(name) is not None:
            cells[name] = row[name]
    if "cost_usd" in row and row["cost_usd"] is not None and "cost_micro_usd" not in row:
        cells["cost_micro_usd"] = round(float(row["cost_usd"]) * 1e6)
    if row.get("status") is not None:
        cells["error"] = failed
    return cells


def _output(response: Any, cells: dict[str, Any], notes: set[str]) -> None:
    """Fields of a JSON object, or a scalar label/value, plus the response text."""
    text = response if isinstance(response, str) else json.dumps(response, ensure_ascii=False)
    decoded = _decode(response)
    if isinstance(decoded, Mapping) and "content" in decoded and "role" in decoded:
        content = decoded.get("content")  # an assistant message with tool calls
        text = content if isinstance(content, str) else ""
        decoded = _decode(text) if text else None
    cells["output.response_text"] = text
    if isinstance(decoded, Mapping):
        cells["output.json_object"] = True
        _flatten("output", decoded, cells, notes)
    elif decoded is not None:  # a label, a number, or free text (as the plan decides)
        _scalar("output", decoded, cells, notes)


def _scalar(prefix: str, value: Any, cells: dict[str, Any], notes: set[str]) -> None:
    if isinstance(value, str):
        cells[f"{prefix}.text" if prefix == "input" else f"{prefix}.label"] = value
    elif _is_number(value):
        cells[f"{prefix}.value"] = value
    elif isinstance(value, bool):
        cells[f"{prefix}.label"] = value
    elif isinstance(value, list):
        cells[f"{prefix}.items"] = len(value)
    else:
        notes.add(f"{prefix} holds {type(value).__name__} values; not checked")


def _flatten(prefix: str, data: Mapping[str, Any], cells: dict[str, Any], notes: set[str],
             depth: int = 1) -> None:
    for key, value in data.items():
        name = f"{prefix}.{key}"
        if isinstance(value, Mapping):
            if depth < MAX_DEPTH:
                _flatten(name, value, cells, notes, depth + 1)
            else:
                notes.add(f"{name} is nested deeper than {MAX_DEPTH} levels; not checked")
        elif isinstance(value, list):
            cells[f"{name}.items"] = len(value)
        elif value is None or isinstance(value, (str, int, float, bool)):
            cells[name] = value  # None too: a key that is always None is an all-missing column
        else:
            notes.add(f"{name} holds {type(value).__name__} values; not checked")


def _user_text(messages: Any) -> str | None:
    """The user turns' text: what varies from call to call (the system prompt does not)."""
    if not isinstance(messages, list):
        return None
    parts = []
    for message in messages:
        if not isinstance(message, Mapping) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(p.get("text", "") for p in content
                         if isinstance(p, Mapping) and isinstance(p.get("text"), str))
    return "\n".join(parts) if parts else None


def _is_free_text(strings: list[str]) -> bool:
    counts = Counter(strings)  # each distinct string split once
    words = sum(len(s.split()) * n for s, n in counts.items()) / len(strings)
    many_distinct = len(counts) > 0.5 * len(strings)
    return words >= TEXT_MIN_WORDS or (many_distinct and len(strings) >= TEXT_MIN_ROWS)


def _decode(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _strings(values: Sequence[Any]) -> list[str | None]:
    return [None if v is None else v if isinstance(v, str) else str(v) for v in values]


def _as_values(values: Any) -> list[Any]:
    """A column read as an array back as the row path's values (NaN is missing)."""
    if isinstance(values, np.ndarray):
        return [None if v != v else v for v in values.tolist()]
    return values


#: What an int64 array holds: a JSON integer past it (10**30 in a request) is read as a
#: float, and one past a float's range as infinite (a missing value, as inf is anywhere).
_INT64 = (-(2**63), 2**63 - 1)


def _as_float(value: int | float) -> float:
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _typed(values: list[Any]) -> Any:
    """One type per column: numbers as a float/int array, bools as bools, else strings."""
    present = [v for v in values if v is not None]
    if present and all(_is_number(v) for v in present):
        if len(present) == len(values) and all(isinstance(v, int) and _INT64[0] <= v <= _INT64[1]
                                               for v in present):
            return np.asarray(values, dtype=np.int64)
        return np.asarray([np.nan if v is None else _as_float(v) for v in values])
    if present and all(isinstance(v, bool) for v in present):
        return values
    return _strings(values)
