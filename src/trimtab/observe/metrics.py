"""Operational metrics over a window: calls, errors, latency percentiles, tokens, cost.

Read from rollups, never from the raw call log, so a 30-day query costs the
same at ten thousand calls as at ten million.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from trimtab.errors import TrimtabError
from trimtab.store import Store, rollup_series
from trimtab.store import rollups as rollup_store


@dataclass(frozen=True)
class MetricRow:
    group: dict[str, str]
    calls: int
    errors: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    mean_ms: float | None
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal
    cost_unknown_calls: int

    @property
    def error_rate(self) -> float:
        return self.errors / self.calls if self.calls else 0.0

    @property
    def cost_per_call_usd(self) -> Decimal | None:
        priced = self.calls - self.cost_unknown_calls
        return (self.cost_usd / priced).quantize(Decimal("0.000001")) if priced else None

    def to_dict(self) -> dict[str, Any]:
        per_call = self.cost_per_call_usd
        return {
            **self.group, "calls": self.calls, "errors": self.errors,
            "error_rate": round(self.error_rate, 6), "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms, "p99_ms": self.p99_ms, "mean_ms": self.mean_ms,
            "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
            "cost_usd": str(self.cost_usd), "cost_per_call_usd": None if per_call is None
            else str(per_call), "cost_unknown_calls": self.cost_unknown_calls,
        }


def compute(
    store: Store,
    *,
    window: timedelta,
    by: tuple[str, ...] = (),
    system: str | None = None,
    env: str | None = None,
    tag: str | None = None,
    end: datetime | None = None,
) -> list[MetricRow]:
    unknown = [b for b in by if b not in rollup_store.GROUPABLE]
    if unknown:
        raise TrimtabError(
            f"cannot group by {', '.join(unknown)}. "
            f"Fix: use one of {', '.join(rollup_store.GROUPABLE)}."
        )
    dimensions = [b for b in by if b in rollup_store.DIMENSIONS]
    if len(dimensions) > 1:
        raise TrimtabError(f"group by one of user, tag or key, not {' and '.join(dimensions)} "
                           "in one query.")
    if "tag" in by and not tag:
        raise TrimtabError("--by tag needs the tag key. Fix: add --tag KEY (e.g. --tag team).")
    if window <= timedelta(0):
        raise TrimtabError("the window must be positive (e.g. 24h, 7d).")
    end = end or datetime.now(UTC)
    with store.read() as conn:
        groups = rollup_store.summarize(
            conn, end - window, end, by=by, tag=tag, system=system, env=env
        )
    return [_row(group, totals) for group, totals in groups]


#: Steps a series may use, finest first: the first that keeps it within MAX_POINTS.
STEPS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1),
         timedelta(hours=6), timedelta(days=1))
MAX_POINTS = 200


@dataclass(frozen=True)
class Series:
    """Metrics per step over a window, for charts: ``points[i].group["start"]``
    is the step's start (ISO, UTC); steps without calls are left out. ``start``
    is the first step's start."""
    start: datetime
    end: datetime
    step: timedelta
    points: list[MetricRow]


def series(
    store: Store,
    *,
    window: timedelta,
    system: str | None = None,
    env: str | None = None,
    end: datetime | None = None,
) -> Series:
    """Calls, errors, p50/p95/p99 and cost per step over ``window``, read from
    rollups; the step is the finest that keeps the window within MAX_POINTS."""
    if window <= timedelta(0):
        raise TrimtabError("the window must be positive (e.g. 24h, 7d).")
    step = next((s for s in STEPS if window / s <= MAX_POINTS), None)
    if step is None:
        raise TrimtabError(f"a window of {window} is too long for a chart. "
                           f"Fix: ask for {MAX_POINTS} days or fewer.")
    end = end or datetime.now(UTC)
    start = rollup_store.floor_to(end - window, step)
    with store.read() as conn:
        rows = rollup_series.series(conn, start, end, step, system=system, env=env)
    points = [_row({"start": moment.isoformat()}, totals) for moment, totals in rows]
    return Series(start=start, end=end, step=step, points=points)


def _row(group: dict[str, str], totals: rollup_store.Totals) -> MetricRow:
    sketch = totals.sketch

    def q(p: float) -> float | None:
        value = sketch.quantile(p)
        return None if value is None else round(value, 3)

    return MetricRow(
        group=group, calls=totals.calls, errors=totals.errors, p50_ms=q(0.5), p95_ms=q(0.95),
        p99_ms=q(0.99), mean_ms=None if sketch.mean is None else round(sketch.mean, 3),
        input_tokens=totals.input_tokens, output_tokens=totals.output_tokens,
        cost_usd=Decimal(totals.cost_micro_usd) / Decimal(1_000_000),
        cost_unknown_calls=totals.cost_unknown,
    )


#: Groups a spend table names; the rest are summed into one ALL_OTHERS line.
SPEND_TOP = 20
ALL_OTHERS = "(all others)"


@dataclass(frozen=True)
class SpendRow:
    """Calls and spend of one group: a cost table's line (no latency)."""
    group: dict[str, str]
    calls: int
    cost_usd: Decimal
    cost_unknown_calls: int

    @property
    def cost_per_call_usd(self) -> Decimal | None:
        priced = self.calls - self.cost_unknown_calls
        return (self.cost_usd / priced).quantize(Decimal("0.000001")) if priced else None


def spend(
    store: Store,
    *,
    window: timedelta,
    by: str,
    system: str,
    tag: str | None = None,
    end: datetime | None = None,
    top: int = SPEND_TOP,
) -> list[SpendRow]:
    """One system's calls and spend over ``window`` by model, user or one tag's values,
    largest first: the ``top`` groups, then the rest as one ALL_OTHERS line, so a
    table stays ``top + 1`` lines when every call has a user of its own."""
    from trimtab.store import spend as spend_store
    from trimtab.store.spend import Spent

    if by not in spend_store.SPEND_BY:
        raise TrimtabError(f"cannot show spend by {by}. Fix: use one of "
                           f"{', '.join(spend_store.SPEND_BY)}.")
    if by == "tag" and not tag:
        raise TrimtabError("spend by tag needs the tag key (e.g. team).")
    if window <= timedelta(0):
        raise TrimtabError("the window must be positive (e.g. 24h, 7d).")
    end = end or datetime.now(UTC)
    with store.read() as conn:
        named, rest = spend_store.by_group(conn, end - window, end, by=by, system=system,
                                           tag=tag, top=top)
    found = named if rest is None else [*named, Spent(ALL_OTHERS, rest.calls,
                                                      rest.cost_micro_usd, rest.cost_unknown)]
    rows = [SpendRow({by: s.value}, s.calls, Decimal(s.cost_micro_usd) / Decimal(1_000_000),
                     s.cost_unknown) for s in found]
    return rows


def system_spend(store: Store, *, window: timedelta, end: datetime | None = None
                 ) -> list[SpendRow]:
    """Every system's calls and spend over ``window``, largest first (no latency)."""
    from trimtab.store import spend as spend_store

    if window <= timedelta(0):
        raise TrimtabError("the window must be positive (e.g. 24h, 7d).")
    end = end or datetime.now(UTC)
    with store.read() as conn:
        found = spend_store.by_system(conn, end - window, end)
    return [SpendRow({"system": s.value}, s.calls, Decimal(s.cost_micro_usd) / Decimal(1_000_000),
                     s.cost_unknown) for s in found]
