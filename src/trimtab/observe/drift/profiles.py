"""Compact, mergeable, JSON-serialisable profiles of a window of data.

A drift check compares two profiles, never two tables, so a baseline can sit in
the store for months and still be checked against today's calls. Each profile
keeps just what Evidently's default tests read:

* numeric columns: count, missing, exact moments (the Wasserstein norm is the
  reference std), min/max, a :class:`~trimtab.observe.drift.sketch.QuantileSketch`
  (Wasserstein, binned JS/PSI), exact value counts when a column has at most
  ``max_distinct`` values (chi-squared / Z / JS on few-valued columns, and
  Evidently's "integer with <= 10 values is categorical" rule), and the raw
  values while the window has at most ``raw_limit`` of them (KS on small
  references is computed from them exactly).
* categorical/text columns: category counts (up to ``max_categories``) and the
  number of distinct values (Evidently's text-vs-categorical rule).

Profiles built from in-memory data may also hold the raw values transiently
(``keep_raw``) so that a current window passed as rows gets exact rank tests;
those never go to JSON.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from trimtab.errors import TrimtabError
from trimtab.observe.drift.columns import (
    CATEGORICAL,
    NUMERICAL,
    TEXT,
    UNKNOWN,
    infer_kind,
    normalise,
)
from trimtab.observe.drift.sketch import DEFAULT_SIZE, QuantileSketch, summarise

SCHEMA = "trimtab.observe.drift.profile/1"
RAW_LIMIT = 1000  # Evidently's small-reference cut-off: KS/chi2/Z need the rows
MAX_DISTINCT = 64  # value counts kept for numeric columns up to this many values
MAX_CATEGORIES = 10_000


@dataclass(eq=False)
class NumericProfile:
    """A numeric column; ``kind`` is the one Evidently would infer for this window."""

    name: str
    kind: str
    integer: bool
    count: int
    missing: int
    mean: float
    m2: float
    minimum: float
    maximum: float
    sketch: QuantileSketch
    distinct: dict[float | int, int] | None
    values: np.ndarray | None = None  # sorted finite values, kept while count <= raw_limit
    raw: np.ndarray | None = field(default=None, repr=False)  # transient, never serialised

    @property
    def std(self) -> float:
        """Population std (ddof=0), as ``np.std`` in Evidently's Wasserstein norm."""
        return math.sqrt(self.m2 / self.count) if self.count else float("nan")

    def sample(self) -> tuple[np.ndarray, bool]:
        """The finite values (exact) or a pseudo-sample from the sketch (approximate)."""
        if self.values is not None:
            return self.values, True
        if self.raw is not None:
            return self.raw, True
        return self.sketch.expand(), False

    def merge(self, other: NumericProfile, raw_limit: int = RAW_LIMIT) -> NumericProfile:
        n = self.count + other.count
        if self.count == 0 or other.count == 0:
            base = self if other.count == 0 else other
            return replace(base, missing=self.missing + other.missing, raw=None)
        delta = other.mean - self.mean
        mean = self.mean + delta * other.count / n
        m2 = self.m2 + other.m2 + delta * delta * self.count * other.count / n
        distinct = _merge_counts(self.distinct, other.distinct, MAX_DISTINCT)
        values = None
        if self.values is not None and other.values is not None and n <= raw_limit:
            values = np.sort(np.concatenate([self.values, other.values]))
        integer = self.integer and other.integer
        kind = NUMERICAL
        if integer and distinct is not None and len(distinct) <= 10:
            kind = CATEGORICAL
        return NumericProfile(
            self.name, kind, integer, n, self.missing + other.missing, mean, m2,
            min(self.minimum, other.minimum), max(self.maximum, other.maximum),
            self.sketch.merge(other.sketch), distinct, values,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "numeric", "kind": self.kind, "integer": self.integer,
            "count": self.count, "missing": self.missing, "mean": self.mean, "m2": self.m2,
            "min": self.minimum, "max": self.maximum, "sketch": self.sketch.to_dict(),
            "distinct": _pairs(self.distinct),
            "values": None if self.values is None else [float(v) for v in self.values],
        }


@dataclass(eq=False)
class CategoricalProfile:
    """Category counts of a label/string/bool column (missing values excluded)."""

    name: str
    kind: str
    count: int
    missing: int
    distinct: int
    counts: dict[Any, int] | None  # None when more than max_categories categories

    def merge(self, other: CategoricalProfile, raw_limit: int = RAW_LIMIT) -> CategoricalProfile:
        counts = _merge_counts(self.counts, other.counts, MAX_CATEGORIES)
        n = self.count + other.count
        # Without counts the union's distinct number is only bounded; keep the larger.
        distinct = len(counts) if counts is not None else max(self.distinct, other.distinct)
        kind = TEXT if distinct > 0.5 * n else CATEGORICAL
        missing = self.missing + other.missing
        return CategoricalProfile(self.name, kind, n, missing, distinct, counts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "categorical", "kind": self.kind, "count": self.count,
            "missing": self.missing, "distinct": self.distinct,
            "counts": _pairs(self.counts),
        }


ColumnProfile = NumericProfile | CategoricalProfile


@dataclass(eq=False)
class DatasetProfile:
    """Profiles of all columns of one window; ``rows`` counts rows, missing included."""

    rows: int
    columns: dict[str, ColumnProfile]

    def merge(self, other: DatasetProfile) -> DatasetProfile:
        """Profile of both windows together (e.g. hourly profiles into a day)."""
        merged: dict[str, ColumnProfile] = {}
        for name in {**self.columns, **other.columns}:
            a, b = self.columns.get(name), other.columns.get(name)
            if a is None or b is None:
                # Rows of the window that lacked the column count as missing values.
                present, absent_rows = (b, self.rows) if a is None else (a, other.rows)
                merged[name] = replace(present, missing=present.missing + absent_rows)
                if isinstance(present, NumericProfile):
                    merged[name] = replace(merged[name], raw=None)
                continue
            if type(a) is not type(b):
                raise TrimtabError(
                    f"column {name!r} is numeric in one profile and categorical in the other; "
                    "profile it with the same kinds= in both windows before merging"
                )
            merged[name] = a.merge(b)
        return DatasetProfile(self.rows + other.rows, merged)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA, "rows": self.rows,
            "columns": {name: col.to_dict() for name, col in self.columns.items()},
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), allow_nan=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DatasetProfile:
        if data.get("schema") != SCHEMA:
            raise TrimtabError(
                f"drift profile has schema {data.get('schema')!r}, expected {SCHEMA!r}; "
                "rebuild the baseline with this version of trimtab"
            )
        columns = {n: _column_from_dict(n, c) for n, c in data["columns"].items()}
        return cls(int(data["rows"]), columns)

    @classmethod
    def from_json(cls, text: str) -> DatasetProfile:
        return cls.from_dict(json.loads(text))


def _column_from_dict(name: str, d: Mapping[str, Any]) -> ColumnProfile:
    if d["type"] == "numeric":
        return NumericProfile(
            name, d["kind"], bool(d["integer"]), int(d["count"]), int(d["missing"]),
            float(d["mean"]), float(d["m2"]), float(d["min"]), float(d["max"]),
            QuantileSketch.from_dict(d["sketch"]),
            None if d["distinct"] is None else {k: int(v) for k, v in d["distinct"]},
            None if d["values"] is None else np.asarray(d["values"], dtype=np.float64),
        )
    counts = None if d["counts"] is None else {k: int(v) for k, v in d["counts"]}
    return CategoricalProfile(
        name, d["kind"], int(d["count"]), int(d["missing"]), int(d["distinct"]), counts
    )


def _pairs(counts: dict | None) -> list | None:
    """JSON object keys must be strings; pairs keep 1, 1.5, True and "1" apart."""
    return None if counts is None else [[k, v] for k, v in counts.items()]


def _merge_counts(a: dict | None, b: dict | None, cap: int) -> dict | None:
    if a is None or b is None:
        return None
    out = dict(a)
    for key, value in b.items():
        out[key] = out.get(key, 0) + value
    return out if len(out) <= cap else None


def profile(
    data: Mapping[str, Any],
    *,
    kinds: Mapping[str, str] | None = None,
    sketch_size: int = DEFAULT_SIZE,
    raw_limit: int = RAW_LIMIT,
    keep_raw: bool = False,
) -> DatasetProfile:
    """Profile a window given as ``{column: values}`` (numpy arrays or lists).

    ``kinds`` forces a column's kind ("numerical" or "categorical") where
    Evidently's inference would guess wrong. ``keep_raw`` holds (does not copy)
    the numeric rows in memory for exact rank tests; it is never serialised.
    """
    if not data:
        raise TrimtabError("the window has no columns; pass at least one {column: values}")
    kinds = dict(kinds or {})
    bad = {n: k for n, k in kinds.items() if k not in (NUMERICAL, CATEGORICAL)}
    if bad:
        raise TrimtabError(f"kinds={bad} : a kind must be {NUMERICAL!r} or {CATEGORICAL!r}")
    unknown = set(kinds) - set(data)
    if unknown:
        raise TrimtabError(f"kinds= names column(s) {sorted(unknown)} that are not in the data")
    lengths = {name: len(values) for name, values in data.items()}
    rows = max(lengths.values())
    short = sorted(n for n, k in lengths.items() if k != rows)
    if short:
        raise TrimtabError(
            f"column(s) {short} have {lengths[short[0]]} values but others have {rows}; "
            "every column of a window must have one value per row (use None for missing)"
        )
    columns = {
        name: profile_column(name, values, kind=kinds.get(name), sketch_size=sketch_size,
                             raw_limit=raw_limit, keep_raw=keep_raw)
        for name, values in data.items()
    }
    return DatasetProfile(rows, columns)


def profile_column(
    name: str, values: Any, *, kind: str | None = None, sketch_size: int = DEFAULT_SIZE,
    raw_limit: int = RAW_LIMIT, keep_raw: bool = False,
) -> ColumnProfile:
    """Profile one column; missing values (None, NaN, +-inf) are counted, then dropped."""
    payload, missing = normalise(name, values, force_categorical=kind == CATEGORICAL)
    if isinstance(payload, np.ndarray):
        s = summarise(payload, sketch_size, MAX_DISTINCT)
        n_distinct = None if s.distinct is None else len(s.distinct)
        inferred = infer_kind(payload.dtype, s.count, n_distinct)
        return NumericProfile(
            name, kind or inferred, payload.dtype.kind in "iu", s.count, missing, s.mean, s.m2,
            s.minimum, s.maximum, s.sketch, s.distinct,
            np.sort(payload).astype(np.float64) if s.count <= raw_limit else None,
            payload if keep_raw else None,
        )
    if kind == NUMERICAL:
        raise TrimtabError(
            f"column {name!r} holds labels, not numbers, but kinds= says numerical; "
            "convert its values to numbers or drop it from kinds="
        )
    count, distinct = sum(payload.values()), len(payload)
    inferred = infer_kind(None, count, distinct) if count else UNKNOWN
    return CategoricalProfile(
        name, kind or inferred, count, missing, distinct,
        payload if distinct <= MAX_CATEGORIES else None,
    )
