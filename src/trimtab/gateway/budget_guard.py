"""Budget enforcement at the gateway: 429 ``budget_exceeded`` once a budget is spent.

A budget declared with ``enforce: true`` (trimtab.yaml, ``budgets:``) stops the
calls it covers once this month's spend reaches it: a system's calls, or the
calls of every key whose ``team`` tag names the team. The spend is read from
the rollups in the background every ``ttl`` seconds (one small query per
enforced budget, off the event loop), so the request path only looks two
dictionaries up; a store that cannot be read keeps the last known verdicts.
Spend recorded since the last read is not seen until the next one, so a budget
can be overrun by what ``ttl`` seconds of traffic cost, as with LiteLLM.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from trimtab.gateway.errors import GatewayError
from trimtab.observe import budgets as budget_spend
from trimtab.observe.cost_report import usd

if TYPE_CHECKING:
    from trimtab.observe.budgets import BudgetLine
    from trimtab.workspace import Workspace

log = logging.getLogger("trimtab.gateway")


class BudgetGuard:
    def __init__(self, ws: Workspace, ttl: float = 15.0):
        self.ws = ws
        self.ttl = ttl
        #: Enforced budgets that are spent, by what they cover.
        self.systems: dict[str, BudgetLine] = {}
        self.teams: dict[str, BudgetLine] = {}
        self.loaded = False
        self.loaded_at = float("-inf")
        self._task: asyncio.Task | None = None

    def refresh(self) -> None:
        """Re-read this month's spend of every enforced budget (blocking: call from a
        thread or at start-up)."""
        project = self.ws.recent_project()
        enforced = {name: budget for name, budget in
                    (project.spec.budgets if project is not None else {}).items()
                    if budget.enforce}
        systems: dict[str, BudgetLine] = {}
        teams: dict[str, BudgetLine] = {}
        if enforced:
            now = datetime.now(UTC)
            for line in budget_spend.this_month(self.ws.store, enforced, now):
                if line.used < 1:
                    continue
                budget = enforced[line.name]
                if budget.system is not None:
                    systems[budget.system] = line
                else:
                    teams[budget.team or ""] = line
        self.systems, self.teams = systems, teams
        self.loaded, self.loaded_at = True, time.monotonic()

    async def start(self) -> None:
        try:
            await asyncio.to_thread(self.refresh)
        except Exception as exc:  # noqa: BLE001 - a store that is down must not stop the start
            log.warning("gateway: cannot read budget spend (%s); retrying in %gs",
                        type(exc).__name__, self.ttl)
        self._task = asyncio.get_running_loop().create_task(self._refresh_forever())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _refresh_forever(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(self.ttl)
            try:
                await asyncio.to_thread(self.refresh)
            except Exception as exc:  # noqa: BLE001 - keep the last known verdicts
                if not failing:
                    log.warning("gateway: cannot re-read budget spend (%s); keeping the last "
                                "verdicts", type(exc).__name__)
                failing = True
                continue
            failing = False

    def check(self, system: str, tags: dict[str, str] | None) -> None:
        """Raise 429 budget_exceeded when a spent, enforced budget covers this call."""
        if not (self.systems or self.teams):
            return
        line = self.systems.get(system)
        if line is None and tags:
            line = self.teams.get(tags.get("team", ""))
        if line is not None:
            raise exceeded(line)


def exceeded(line: BudgetLine) -> GatewayError:
    """OpenAI's error format; ``x-should-retry: false`` stops the OpenAI SDKs from
    retrying a refusal that lasts until the month ends."""
    return GatewayError(
        429, f"budget {line.name!r} ({line.scope}) is spent: {usd(line.spent_usd)} of "
        f"{usd(line.monthly_usd)} this month. Calls resume next month, or when "
        "trimtab.yaml raises `monthly_usd` or sets `enforce: false`.",
        type="budget_exceeded", code="budget_exceeded", headers={"x-should-retry": "false"})
