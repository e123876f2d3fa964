"""Monthly budgets, as declared in trimtab.yaml under ``budgets:``.

A budget caps one system's or one team's spend in a calendar month (UTC), in
USD. The team is the ``team`` tag a gateway key carries onto every call it
makes (``trimtab keys create --tag team=support``). The cost report shows
spend against each budget, an alert rule watches one (``metric: budget_used``,
the share spent), and ``enforce: true`` makes the gateway answer 429
``budget_exceeded`` once it is spent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from trimtab.project.models import ProjectFile


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class BudgetSpec(_Strict):
    """One monthly budget: exactly one of ``system:`` or ``team:``."""

    description: str = ""
    system: str | None = Field(None, description="the system whose spend counts")
    team: str | None = Field(None, description="the `team` tag whose spend counts")
    monthly_usd: float = Field(gt=0, description="USD per calendar month (UTC)")
    enforce: bool = Field(False, description="the gateway answers 429 budget_exceeded once "
                          "the month's spend reaches monthly_usd")

    @property
    def scope(self) -> str:
        """``system complaint-router`` or ``team support``: what the budget covers."""
        return f"system {self.system}" if self.system else f"team {self.team}"


def check(spec: ProjectFile, problem) -> None:
    """What types alone cannot say about budgets; ``problem(loc, msg)`` records one at
    the YAML location of ``loc``."""
    from trimtab.project.naming import NAME, suggest

    for name, budget in spec.budgets.items():
        loc = ("budgets", name)
        if not NAME.match(name):
            problem(loc, f"{name!r} is not a valid budget name. Fix: use lowercase letters, "
                    "digits, '.', '_' or '-' (e.g. support-team).", key=True)
        if (budget.system is None) == (budget.team is None):
            problem(loc, "a budget covers exactly one of `system:` (a declared system) or "
                    "`team:` (the team tag of the keys that call). Fix: keep one of them.")
        if budget.system is not None and budget.system not in spec.systems:
            problem(loc + ("system",), f"unknown system {budget.system!r}."
                    f"{suggest(budget.system, spec.systems)} Fix: use a system declared under "
                    "`systems:`, or `team:` for a team's budget.")
        if budget.team is not None and not budget.team.strip():
            problem(loc + ("team",), "the team is empty. Fix: the value of the keys' team "
                    "tag, e.g. team: support.")
