"""Spend against the monthly budgets of trimtab.yaml (``budgets:``).

A budget's spend is read from rollups (day rows for the whole days of the
month, hour rows for the rest), never from the raw call log: the cost report,
the ``budget_used`` alert metric and the gateway's enforcement all ask the same
question cheaply. A team's spend is that of the calls carrying its ``team``
tag (a gateway key puts its tags on every call it makes).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from trimtab.observe.metrics import compute

if TYPE_CHECKING:
    from trimtab.project.budgets import BudgetSpec
    from trimtab.store import Store


@dataclass(frozen=True)
class BudgetLine:
    """One budget and what its month has spent so far."""

    name: str
    scope: str  # "system complaint-router" | "team support"
    monthly_usd: Decimal
    spent_usd: Decimal
    calls: int
    cost_unknown_calls: int
    enforce: bool

    @property
    def used(self) -> float:
        """The share spent: 0.5 is half, above 1 is over budget."""
        return float(self.spent_usd / self.monthly_usd)

    @property
    def left_usd(self) -> Decimal:
        return self.monthly_usd - self.spent_usd

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "scope": self.scope, "monthly_usd": str(self.monthly_usd),
                "spent_usd": str(self.spent_usd), "left_usd": str(self.left_usd),
                "used": round(self.used, 6), "calls": self.calls,
                "cost_unknown_calls": self.cost_unknown_calls, "enforce": self.enforce}


def month_start(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def spend(store: Store, name: str, budget: BudgetSpec, *, start: datetime,
          end: datetime) -> BudgetLine:
    """The budget's spend over [start, end): a whole month for a report, the month
    so far for an alert or the gateway."""
    if budget.system is not None:
        rows = compute(store, window=end - start, end=end, system=budget.system)
    else:
        rows = [row for row in compute(store, window=end - start, end=end, by=("tag",),
                                       tag="team") if row.group["tag"] == budget.team]
    spent = rows[0].cost_usd if rows else Decimal(0)
    return BudgetLine(
        name=name, scope=budget.scope, monthly_usd=Decimal(str(budget.monthly_usd)),
        spent_usd=spent, calls=rows[0].calls if rows else 0,
        cost_unknown_calls=rows[0].cost_unknown_calls if rows else 0, enforce=budget.enforce)


def this_month(store: Store, budgets: dict[str, BudgetSpec],
               now: datetime | None = None) -> list[BudgetLine]:
    """Every budget's spend from the first of this month (UTC) to ``now``."""
    now = now or datetime.now(UTC)
    start = month_start(now)
    if now <= start:  # the month's first instant: nothing spent yet
        return [BudgetLine(name, b.scope, Decimal(str(b.monthly_usd)), Decimal(0), 0, 0,
                           b.enforce) for name, b in budgets.items()]
    return [spend(store, name, budget, start=start, end=now) for name, budget in budgets.items()]
