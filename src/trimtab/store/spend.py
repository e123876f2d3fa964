"""Calls and spend per group (model, user, or one tag's values), summed by the database.

A system page's cost tables need no latency, so they skip what ``rollups.summarize``
does per row (parse a latency sketch, merge its buckets) and let the database add
the rows up: at 10,000,000 calls over 30 days, a day of user rows is tens of
thousands of rollup rows (every user, hour, release, model and outcome), and
summing them in Python dominated the page (bench/dashboard_pages.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select

from trimtab.store.rollups import plan
from trimtab.store.schema import rollups

#: What a spend table may be grouped by, and where each lives in a rollup row.
SPEND_BY = ("model", "user", "tag")


@dataclass(frozen=True)
class Spent:
    value: str
    calls: int
    cost_micro_usd: int
    cost_unknown: int  # calls whose price was unknown


def by_group(conn: Connection, start: datetime, end: datetime, *, by: str, system: str,
             tag: str | None = None) -> list[Spent]:
    """Every value of ``by`` with calls in [start, end) for ``system``, largest spend
    first. User and tag rows exist per hour and day only, so their edges widen to
    whole hours (as in ``rollups.summarize``)."""
    if by not in SPEND_BY:
        raise ValueError(f"spend is grouped by one of {SPEND_BY}, not {by!r}")
    if by == "tag" and not tag:
        raise ValueError("spend by tag needs the tag key")
    dimension = {"model": "", "user": "user", "tag": f"tag:{tag}"}[by]
    column = rollups.c.model if by == "model" else rollups.c.value
    sums: dict[str, list[int]] = {}
    for resolution, lo, hi in plan(start, end, finest="h" if dimension else "m"):
        query = (select(column, func.sum(rollups.c.calls), func.sum(rollups.c.cost_micro_usd),
                        func.sum(rollups.c.cost_unknown))
                 .where(rollups.c.resolution == resolution, rollups.c.dimension == dimension,
                        rollups.c.system == system, rollups.c.bucket >= lo,
                        rollups.c.bucket < hi)
                 .group_by(column))
        for value, calls, cost, unknown in conn.execute(query):
            acc = sums.setdefault(value, [0, 0, 0])
            acc[0] += int(calls)
            acc[1] += int(cost)
            acc[2] += int(unknown)
    found = [Spent(value, *acc) for value, acc in sums.items()]
    found.sort(key=lambda s: (-s.cost_micro_usd, -s.calls, s.value))
    return found
