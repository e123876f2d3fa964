"""Chart series from the rollups: counters summed by the database, sketches merged here.

A system page's 24-hour chart has 15-minute steps, so it reads minute rows: at
10,000,000 calls over 30 days, every minute of the day for each of the system's
release, model and outcome grains, thousands to tens of thousands of rows.
Fetched one by one (a row object, a time parsed, each counter added in
Python) they were half the page (bench/dashboard_pages.py). Here the database
works out each row's step, sums the counters per step and hands the step's
latency sketches over as one JSON array, so Python sees one row per step; only
the bucket counts are merged here (a dict loop beats the databases' JSON
functions with a GROUP BY over every bucket). The totals are those the
row-by-row sum gave (tests/store/test_rollup_series.py keeps that version and
pins them).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
from sqlalchemy import Connection, text

from trimtab.store.latency_sketch import LatencySketch
from trimtab.store.rollups import STEP, Totals, ceil, floor_to

_SLOT = {"sqlite": "(CAST(strftime('%s', bucket) AS INTEGER) - :origin) / :seconds",
         "postgresql": "(CAST(EXTRACT(EPOCH FROM bucket) AS BIGINT) - :origin) / :seconds"}
_SKETCHES = {"sqlite": "group_concat(sketch, ',')", "postgresql": "string_agg(sketch, ',')"}


def series(
    conn: Connection,
    start: datetime,
    end: datetime,
    step: timedelta,
    *,
    system: str | None = None,
    env: str | None = None,
) -> list[tuple[datetime, Totals]]:
    """Totals per ``step`` over [start, end), oldest first, one entry per step that
    has calls. ``start`` is floored to the step (``floor_to``); a step of whole
    hours reads hour rows, any other minute rows, so every row falls inside one step."""
    if step <= timedelta(0) or step % STEP["m"]:
        raise ValueError(f"a series step must be whole minutes, not {step}")
    resolution = "h" if step % STEP["h"] == timedelta(0) else "m"
    start = floor_to(start, step)
    end = ceil(end, resolution)
    dialect = conn.dialect.name
    where = ["resolution = :resolution", "dimension = ''", "bucket >= :lo", "bucket < :hi"]
    if system is not None:
        where.append("system = :system")
    if env is not None:
        where.append("env = :env")
    query = text(
        f"SELECT {_SLOT[dialect]} AS slot, SUM(calls), SUM(input_tokens), "
        "SUM(output_tokens), SUM(cost_micro_usd), SUM(cost_unknown), "
        "SUM(CASE WHEN outcome = 'error' THEN calls ELSE 0 END), "
        f"{_SKETCHES[dialect]} FROM rollups WHERE {' AND '.join(where)} GROUP BY 1")
    params = {"resolution": resolution, "lo": _stored(dialect, start),
              "hi": _stored(dialect, end), "origin": int(start.timestamp()),
              "seconds": int(step.total_seconds()), "system": system, "env": env}
    found = []
    loads = orjson.loads
    for slot, calls, tokens_in, tokens_out, cost, unknown, errors, sketches in conn.execute(
            query, params):
        merged: dict[str, int] = {}
        count, total, top = 0, 0.0, 0.0
        for sketch in loads(f"[{sketches}]"):
            for index, n in sketch["b"].items():
                merged[index] = merged.get(index, 0) + n
            count += sketch["n"]
            total += sketch["s"]
            if sketch["m"] > top:
                top = sketch["m"]
        latency = LatencySketch()
        latency.buckets = {int(index): n for index, n in merged.items()}
        latency.count, latency.total, latency.max = count, total, top
        found.append((start + int(slot) * step, Totals(
            calls=int(calls), input_tokens=int(tokens_in), output_tokens=int(tokens_out),
            cost_micro_usd=int(cost), cost_unknown=int(unknown), errors=int(errors),
            sketch=latency)))
    found.sort(key=lambda item: item[0])
    return found


def _stored(dialect: str, moment: datetime):
    """A time as the bucket column holds it: naive UTC text on SQLite (UTCDateTime)."""
    if dialect == "sqlite":
        return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    return moment
