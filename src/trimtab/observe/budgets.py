"""Spend against the monthly budgets of trimtab.yaml (``budgets:``).

A budget's spend is read from rollups (day rows for the whole days of the
month, hour rows for the rest), never from the raw call log: the cost report,
the ``budget_used`` alert metric and the gateway's enforcement all ask the same
question cheaply. A team's spend is that of the calls carrying its ``team``
tag (a gateway key puts its tags on every call it makes); a key's is that of
the calls made with any key of its name (the rollups' ``key`` rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from trimtab.observe.metrics import MetricRow, compute
from trimtab.store import keys as key_store

if TYPE_CHECKING:
    from trimtab.project.budgets import BudgetSpec
    from trimtab.store import Store


@dataclass(frozen=True)
class BudgetLine:
    """One budget and what its month has spent so far."""

    name: str
    scope: str  # "system complaint-router" | "team support" | "key support-bot"
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


def with_key_budgets(store: Store, declared: dict[str, BudgetSpec]) -> dict[str, BudgetSpec]:
    """trimtab.yaml's budgets plus each key's own (``trimtab keys create NAME
    --monthly-budget USD``), named ``key:NAME``. A key name a declared budget already
    covers keeps the declared one (trimtab.yaml, reviewed in Git, wins); of several
    keys of one name with budgets, the newest sets it."""
    from trimtab.project.budgets import BudgetSpec

    covered = {b.key for b in declared.values() if b.key is not None}
    own: dict[str, BudgetSpec] = {}
    with store.read() as conn:
        for key in key_store.list_all(conn):  # oldest first: the newest is kept
            if key.monthly_budget_usd is None or key.name in covered:
                continue
            own[f"key:{key.name}"] = BudgetSpec(
                description=f"set by `trimtab keys create {key.name} --monthly-budget`",
                key=key.name, monthly_usd=float(key.monthly_budget_usd),
                enforce=key.budget_enforced)
    return {**declared, **own}


def spend(store: Store, name: str, budget: BudgetSpec, *, start: datetime,
          end: datetime) -> BudgetLine:
    """The budget's spend over [start, end): a whole month for a report, the month
    so far for an alert or the gateway."""
    [line] = spend_all(store, {name: budget}, start=start, end=end)
    return line


def spend_all(store: Store, budgets: dict[str, BudgetSpec], *, start: datetime,
              end: datetime) -> list[BudgetLine]:
    """Every budget's spend over [start, end). The team and key rollup rows are read
    once for all budgets of their kind, so a refresh costs one query per system
    budget plus two, however many keys and teams have budgets."""
    window = end - start
    teams: dict[str, MetricRow] = {}
    keys: dict[str, MetricRow] = {}
    ids_of: dict[str, list[str]] = {}
    if any(b.team is not None for b in budgets.values()):
        teams = _by(compute(store, window=window, end=end, by=("tag",), tag="team"), "tag")
    if any(b.key is not None for b in budgets.values()):
        keys = _by(compute(store, window=window, end=end, by=("key",)), "key")
        with store.read() as conn:
            for key in key_store.list_all(conn):
                ids_of.setdefault(key.name, []).append(key.id)
    lines = []
    for name, budget in budgets.items():
        if budget.system is not None:
            rows = compute(store, window=window, end=end, system=budget.system)
        elif budget.key is not None:  # every key of that name: a rotated key keeps its month
            rows = [keys[i] for i in ids_of.get(budget.key, ()) if i in keys]
        else:
            rows = [teams[budget.team]] if budget.team in teams else []
        lines.append(BudgetLine(
            name=name, scope=budget.scope, monthly_usd=Decimal(str(budget.monthly_usd)),
            spent_usd=sum((row.cost_usd for row in rows), Decimal(0)),
            calls=sum(row.calls for row in rows),
            cost_unknown_calls=sum(row.cost_unknown_calls for row in rows),
            enforce=budget.enforce))
    return lines


def _by(rows: list[MetricRow], group: str) -> dict[str, MetricRow]:
    return {row.group[group]: row for row in rows}


def this_month(store: Store, budgets: dict[str, BudgetSpec],
               now: datetime | None = None) -> list[BudgetLine]:
    """Every budget's spend from the first of this month (UTC) to ``now``."""
    now = now or datetime.now(UTC)
    start = month_start(now)
    if now <= start:  # the month's first instant: nothing spent yet
        return [BudgetLine(name, b.scope, Decimal(str(b.monthly_usd)), Decimal(0), 0, 0,
                           b.enforce) for name, b in budgets.items()]
    return spend_all(store, budgets, start=start, end=now)
