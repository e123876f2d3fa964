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

from sqlalchemy import Connection, and_, func, or_, select

from trimtab.store.rollups import plan
from trimtab.store.schema.call_log import rollups

#: What a spend table may be grouped by, and where each lives in a rollup row.
SPEND_BY = ("model", "user", "tag")


@dataclass(frozen=True)
class Spent:
    value: str
    calls: int
    cost_micro_usd: int
    cost_unknown: int  # calls whose price was unknown


def by_group(conn: Connection, start: datetime, end: datetime, *, by: str, system: str,
             tag: str | None = None, top: int = 20) -> tuple[list[Spent], Spent | None]:
    """The ``top`` values of ``by`` with the most spend in [start, end) for ``system``
    (then the most calls), and the rest summed into one ``Spent`` (None when there is
    no rest). User and tag rows exist per hour and day only, so their edges widen
    to whole hours (as in ``rollups.summarize``).

    One query over the window's rollup rows, one range per resolution: the
    database groups, orders and cuts, so a table of 20 lines fetches 20 rows, not
    one per user; the number of groups and the grand totals come with them (window
    functions over the groups), not from a second pass over the same rows, which
    at 10,000,000 calls is tens of thousands of user rows a day."""
    if by not in SPEND_BY:
        raise ValueError(f"spend is grouped by one of {SPEND_BY}, not {by!r}")
    if by == "tag" and not tag:
        raise ValueError("spend by tag needs the tag key")
    dimension = {"model": "", "user": "user", "tag": f"tag:{tag}"}[by]
    column = rollups.c.model if by == "model" else rollups.c.value
    window = or_(*(and_(rollups.c.resolution == resolution, rollups.c.bucket >= lo,
                        rollups.c.bucket < hi)
                   for resolution, lo, hi in plan(start, end, finest="h" if dimension else "m")))
    groups = (select(column.label("value"), func.sum(rollups.c.calls).label("calls"),
                     func.sum(rollups.c.cost_micro_usd).label("cost"),
                     func.sum(rollups.c.cost_unknown).label("unknown"))
              .where(rollups.c.dimension == dimension, rollups.c.system == system, window)
              .group_by(column).subquery())
    found = conn.execute(
        select(groups.c.value, groups.c.calls, groups.c.cost, groups.c.unknown,
               func.count().over(), func.sum(groups.c.calls).over(),
               func.sum(groups.c.cost).over(), func.sum(groups.c.unknown).over())
        .order_by(groups.c.cost.desc(), groups.c.calls.desc(), groups.c.value)
        .limit(top)).all()
    named = [Spent(value, int(n), int(c), int(u)) for value, n, c, u, *_ in found]
    if not found or found[0][4] <= len(named):
        return named, None
    _, _, _, _, _, n, c, u = found[0]
    return named, Spent("", int(n) - sum(s.calls for s in named),
                        int(c) - sum(s.cost_micro_usd for s in named),
                        int(u) - sum(s.cost_unknown for s in named))


def by_system(conn: Connection, start: datetime, end: datetime) -> list[Spent]:
    """Every system's calls and spend in [start, end), largest spend first: the
    portfolio's month column, summed by the database (no latency sketch is read)."""
    window = or_(*(and_(rollups.c.resolution == resolution, rollups.c.bucket >= lo,
                        rollups.c.bucket < hi) for resolution, lo, hi in plan(start, end)))
    calls, cost = func.sum(rollups.c.calls), func.sum(rollups.c.cost_micro_usd)
    return [Spent(value, int(n), int(c), int(u)) for value, n, c, u in conn.execute(
        select(rollups.c.system, calls, cost, func.sum(rollups.c.cost_unknown))
        .where(rollups.c.dimension == "", window).group_by(rollups.c.system)
        .order_by(cost.desc(), calls.desc(), rollups.c.system)).all()]
