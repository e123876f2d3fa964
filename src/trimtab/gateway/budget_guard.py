"""Budget enforcement at the gateway: 429 ``budget_exceeded`` once a budget is spent.

A budget declared with ``enforce: true`` (trimtab.yaml, ``budgets:``) stops the
calls it covers once this month's spend reaches it: a system's calls, the
calls of every key whose ``team`` tag names the team, or the calls made with a
key of the budget's ``key:`` name, or with a key created with ``--monthly-budget
USD --enforce-budget`` (LiteLLM's ``max_budget`` on a virtual key).
The spend is read from the rollups in the background every ``ttl`` seconds
(refresher.py: one query per enforced system budget plus one for all teams and
one for all keys, off the event loop, also while no request comes), so the
request path only looks three dictionaries up; a store that cannot be read
keeps the last known verdicts. Spend recorded since the last read is not seen
until the next one, so a budget can be overrun by what ``ttl`` seconds of
traffic cost, as with LiteLLM. Verdicts hold for the month they were read in:
at midnight UTC on the first, every spent budget opens again at once, not a
refresh later.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from trimtab.gateway.errors import GatewayError
from trimtab.gateway.refresher import Refresher
from trimtab.observe import budgets as budget_spend
from trimtab.observe.cost_report import usd

if TYPE_CHECKING:
    from trimtab.observe.budgets import BudgetLine
    from trimtab.store.keys import ApiKey
    from trimtab.workspace import Workspace

log = logging.getLogger("trimtab.gateway")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class BudgetGuard:
    def __init__(self, ws: Workspace, ttl: float = 15.0,
                 clock: Callable[[], datetime] = _utcnow):
        self.ws = ws
        self.ttl = ttl
        #: What "now" is (tests move it across a month's end).
        self.clock = clock
        #: Enforced budgets that are spent, by what they cover (keys by name).
        self.systems: dict[str, BudgetLine] = {}
        self.teams: dict[str, BudgetLine] = {}
        self.keys: dict[str, BudgetLine] = {}
        #: The verdicts' month: [start, end) in UTC.
        self.month = (datetime.min.replace(tzinfo=UTC), datetime.min.replace(tzinfo=UTC))
        self.loaded = False
        self.loaded_at = float("-inf")
        self._refresher = Refresher(self.refresh, ttl, "budget spend",
                                    lambda: "keeping the last verdicts")

    def refresh(self) -> None:
        """Re-read this month's spend of every enforced budget (blocking: call from a
        thread or at start-up)."""
        project = self.ws.recent_project()
        budgets = budget_spend.with_key_budgets(
            self.ws.store, project.spec.budgets if project is not None else {})
        enforced = {name: budget for name, budget in budgets.items() if budget.enforce}
        systems: dict[str, BudgetLine] = {}
        teams: dict[str, BudgetLine] = {}
        keys: dict[str, BudgetLine] = {}
        now = self.clock()
        if enforced:
            for line in budget_spend.this_month(self.ws.store, enforced, now):
                if line.used < 1:
                    continue
                budget = enforced[line.name]
                if budget.system is not None:
                    systems[budget.system] = line
                elif budget.key is not None:
                    keys[budget.key] = line
                else:
                    teams[budget.team or ""] = line
        self.systems, self.teams, self.keys = systems, teams, keys
        self.month = month_of(now)
        self.loaded, self.loaded_at = True, time.monotonic()

    async def start(self) -> None:
        await self._refresher.start(must_load=False)

    async def stop(self) -> None:
        await self._refresher.stop()

    def check(self, system: str, tags: dict[str, str] | None, key: ApiKey | None = None) -> None:
        """Raise 429 budget_exceeded when a spent, enforced budget covers this call."""
        if not (self.systems or self.teams or self.keys):
            return
        now = self.clock()
        start, end = self.month
        if not start <= now < end:  # read last month: a new month starts unspent
            return
        line = self.systems.get(system)
        if line is None and key is not None:
            line = self.keys.get(key.name)
        if line is None and tags:
            line = self.teams.get(tags.get("team", ""))
        if line is not None:
            raise exceeded(line, start, end, now)


def month_of(moment: datetime) -> tuple[datetime, datetime]:
    """[first instant, first instant of the next month) holding ``moment``, UTC."""
    start = budget_spend.month_start(moment)
    end = start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
    return start, end


def exceeded(line: BudgetLine, start: datetime, end: datetime, now: datetime) -> GatewayError:
    """OpenAI's error format; ``x-should-retry: false`` stops the OpenAI SDKs from
    retrying a refusal that lasts until the month ends, and ``retry-after`` says
    when that is (seconds to the next month's first instant, UTC)."""
    wait = max(1, int((end - now).total_seconds() + 0.999))
    return GatewayError(
        429, f"budget {line.name!r} ({line.scope}) is spent: {usd(line.spent_usd)} of "
        f"{usd(line.monthly_usd)} this month. The month is {start:%Y-%m} (UTC); calls resume "
        f"on {end:%Y-%m-%d} at 00:00 UTC, or when trimtab.yaml raises `monthly_usd` or sets "
        "`enforce: false`.",
        type="budget_exceeded", code="budget_exceeded",
        headers={"x-should-retry": "false", "retry-after": str(wait)})
