"""Rollups: the call log pre-aggregated by minute, hour and day.

The recorder calls ``apply`` in the same transaction that inserts a batch,
with only the rows actually inserted, so every call is counted exactly once
even when a spool is replayed. Queries stitch a window together from day rows
in the middle, hour rows next to the edges and minute rows at the edges, so
their cost depends on the window, not on how many calls were made.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, insert, or_, select, update

from trimtab.sketch import LatencySketch
from trimtab.store.schema import rollups

GRAIN = ("system", "env", "release_id", "model", "outcome")
KEY = ("resolution", "bucket", *GRAIN, "dimension", "value")
GROUPABLE = ("system", "env", "release", "model", "outcome", "user", "tag")
STEP = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}


def floor(moment: datetime, resolution: str) -> datetime:
    moment = moment.replace(second=0, microsecond=0)
    if resolution in "hd":
        moment = moment.replace(minute=0)
    if resolution == "d":
        moment = moment.replace(hour=0)
    return moment


def ceil(moment: datetime, resolution: str) -> datetime:
    floored = floor(moment, resolution)
    return floored if floored == moment else floored + STEP[resolution]


@dataclass
class Totals:
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_micro_usd: int = 0
    cost_unknown: int = 0
    errors: int = 0
    sketch: LatencySketch = field(default_factory=LatencySketch)

    def add_totals(self, other: Totals) -> None:
        self.calls += other.calls
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cost_micro_usd += other.cost_micro_usd
        self.cost_unknown += other.cost_unknown
        self.errors += other.errors
        self.sketch.merge(other.sketch)


def _dimensions(row: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    if row.get("user_id"):
        found.append(("user", str(row["user_id"])[:200]))
    tags = row.get("tags")
    if isinstance(tags, str):
        tags = json.loads(tags)
    for key, value in (tags or {}).items():
        found.append((f"tag:{key}"[:100], str(value)[:200]))
    return found


def aggregate(rows: Iterable[dict[str, Any]]) -> dict[tuple, Totals]:
    out: dict[tuple, Totals] = {}
    for row in rows:
        grain = (row["system"], row["env"], row.get("release_id") or "", row.get("model") or "",
                 row["status"])
        keys = [(r, floor(row["time"], r), *grain, "", "") for r in "mhd"]
        for dimension, value in _dimensions(row):
            keys += [(r, floor(row["time"], r), *grain, dimension, value) for r in "hd"]
        cost = row.get("cost_micro_usd")
        for key in keys:
            totals = out.get(key)
            if totals is None:
                totals = out[key] = Totals()
            totals.calls += 1
            totals.input_tokens += row.get("input_tokens") or 0
            totals.output_tokens += row.get("output_tokens") or 0
            if cost is None:
                totals.cost_unknown += 1
            else:
                totals.cost_micro_usd += cost
            totals.sketch.add(row["latency_ms"])
    return out


def apply(conn: Connection, rows: list[dict[str, Any]], writer: str) -> None:
    """Fold newly inserted call rows into this writer's rollup rows."""
    fresh = aggregate(rows)
    if not fresh:
        return
    buckets = {(k[0], k[1]) for k in fresh}
    existing: dict[tuple, Any] = {}
    query = select(rollups).where(
        rollups.c.writer == writer,
        or_(*(and_(rollups.c.resolution == r, rollups.c.bucket == b) for r, b in buckets)),
    )
    for row in conn.execute(query):
        existing[tuple(row._mapping[c] for c in KEY)] = row
    inserts, updates = [], []
    for key, totals in fresh.items():
        old = existing.get(key)
        if old is not None:
            totals.add_totals(_totals(old))
        values = {
            "calls": totals.calls, "input_tokens": totals.input_tokens,
            "output_tokens": totals.output_tokens, "cost_micro_usd": totals.cost_micro_usd,
            "cost_unknown": totals.cost_unknown, "sketch": totals.sketch.to_json(),
        }
        if old is None:
            inserts.append({**dict(zip(KEY, key, strict=True)), "writer": writer, **values})
        else:
            updates.append({**{f"k_{c}": v for c, v in zip(KEY, key, strict=True)}, **values})
    if inserts:
        conn.execute(insert(rollups), inserts)
    if updates:
        statement = update(rollups).where(
            rollups.c.writer == writer,
            *(rollups.c[c] == bindparam(f"k_{c}") for c in KEY),
        ).values(**{c: bindparam(c) for c in (
            "calls", "input_tokens", "output_tokens", "cost_micro_usd", "cost_unknown", "sketch")})
        conn.execute(statement, [{**u, "writer": writer} for u in updates])


def _totals(row: Any) -> Totals:
    return Totals(
        calls=row.calls, input_tokens=row.input_tokens, output_tokens=row.output_tokens,
        cost_micro_usd=row.cost_micro_usd, cost_unknown=row.cost_unknown,
        errors=row.calls if row.outcome == "error" else 0,
        sketch=LatencySketch.from_json(row.sketch),
    )


Segment = tuple[str, datetime, datetime]


def plan(start: datetime, end: datetime, *, finest: str = "m") -> list[Segment]:
    """Cover [start, end) with the fewest rollup buckets: days, then hours, then minutes.

    With ``finest="h"`` (user and tag rows have no minute rows) the edges widen
    to whole hours.
    """
    if finest == "h":
        start, end = floor(start, "h"), ceil(end, "h")
    else:
        start, end = floor(start, "m"), ceil(end, "m")
    segments: list[Segment] = []

    def cover(lo: datetime, hi: datetime, levels: str) -> None:
        if lo >= hi:
            return
        level, rest = levels[0], levels[1:]
        if not rest:
            segments.append((level, lo, hi))
            return
        inner_lo, inner_hi = ceil(lo, level), floor(hi, level)
        if inner_lo >= inner_hi:
            cover(lo, hi, rest)
            return
        cover(lo, inner_lo, rest)
        segments.append((level, inner_lo, inner_hi))
        cover(inner_hi, hi, rest)

    cover(start, end, "dhm" if finest == "m" else "dh")
    return segments


def summarize(
    conn: Connection,
    start: datetime,
    end: datetime,
    *,
    by: tuple[str, ...] = (),
    tag: str | None = None,
    system: str | None = None,
    env: str | None = None,
) -> list[tuple[dict[str, str], Totals]]:
    """Totals over [start, end), grouped by ``by`` (system, env, release, model,
    outcome, user, tag). Returns (group, totals) pairs, largest cost first."""
    dimension = ""
    if "user" in by:
        dimension = "user"
    elif "tag" in by:
        dimension = f"tag:{tag}"
    columns = {"release": "release_id", "user": "value", "tag": "value"}
    groups: dict[tuple, Totals] = {}
    for resolution, lo, hi in plan(start, end, finest="h" if dimension else "m"):
        query = select(rollups).where(
            rollups.c.resolution == resolution, rollups.c.dimension == dimension,
            rollups.c.bucket >= lo, rollups.c.bucket < hi,
        )
        if system is not None:
            query = query.where(rollups.c.system == system)
        if env is not None:
            query = query.where(rollups.c.env == env)
        for row in conn.execute(query):
            key = tuple(row._mapping[columns.get(b, b)] for b in by)
            totals = groups.get(key)
            if totals is None:
                totals = groups[key] = Totals()
            totals.add_totals(_totals(row))
    result = [(dict(zip(by, key, strict=True)), totals) for key, totals in groups.items()]
    result.sort(key=lambda item: (-item[1].cost_micro_usd, -item[1].calls))
    return result
