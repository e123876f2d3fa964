"""Monthly budgets, as declared in trimtab.yaml under ``budgets:``.

A budget caps one system's, one team's or one gateway key's spend in a
calendar month (UTC), in USD. The team is the ``team`` tag a gateway key
carries onto every call it makes (``trimtab keys create --tag team=support``);
a key is named as at ``trimtab keys create NAME`` (LiteLLM's ``max_budget`` with
``budget_duration: 1mo`` on a virtual key), and its budget covers every key of
that name, so rotating a key (revoke, create it again) does not reset its
month. The cost report shows spend against each budget, an alert rule watches
one (``metric: budget_used``, the share spent), and ``enforce: true`` makes the gateway answer 429
``budget_exceeded`` once it is spent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from trimtab.project.models import ProjectFile


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class BudgetSpec(_Strict):
    """One monthly budget: exactly one of ``system:``, ``team:`` or ``key:``."""

    description: str = ""
    system: str | None = Field(None, description="the system whose spend counts")
    team: str | None = Field(None, description="the `team` tag whose spend counts")
    key: str | None = Field(None, description="the gateway key (by name, as at `trimtab keys "
                            "create NAME`) whose spend counts")
    monthly_usd: float = Field(gt=0, description="USD per calendar month (UTC)")
    enforce: bool = Field(False, description="the gateway answers 429 budget_exceeded once "
                          "the month's spend reaches monthly_usd")

    @property
    def scope(self) -> str:
        """``system complaint-router``, ``team support`` or ``key support-bot``: what the
        budget covers."""
        if self.system is not None:
            return f"system {self.system}"
        return f"key {self.key}" if self.key is not None else f"team {self.team}"


def check(spec: ProjectFile, problem) -> None:
    """What types alone cannot say about budgets; ``problem(loc, msg)`` records one at
    the YAML location of ``loc``."""
    from trimtab.project.naming import NAME, suggest

    for name, budget in spec.budgets.items():
        loc = ("budgets", name)
        if not NAME.match(name):
            problem(loc, f"{name!r} is not a valid budget name. Fix: use lowercase letters, "
                    "digits, '.', '_' or '-' (e.g. support-team).", key=True)
        if sum(x is not None for x in (budget.system, budget.team, budget.key)) != 1:
            problem(loc, "a budget covers exactly one of `system:` (a declared system), "
                    "`team:` (the team tag of the keys that call) or `key:` (a gateway key's "
                    "name). Fix: keep one of them.")
        if budget.system is not None and budget.system not in spec.systems:
            problem(loc + ("system",), f"unknown system {budget.system!r}."
                    f"{suggest(budget.system, spec.systems)} Fix: use a system declared under "
                    "`systems:`, or `team:` for a team's budget.")
        if budget.team is not None and not budget.team.strip():
            problem(loc + ("team",), "the team is empty. Fix: the value of the keys' team "
                    "tag, e.g. team: support.")
        if budget.key is not None and not budget.key.strip():
            problem(loc + ("key",), "the key name is empty. Fix: the name given at `trimtab "
                    "keys create NAME`, e.g. key: support-bot.")


def unknown_keys(spec: ProjectFile, key_names: set[str], where) -> list[str]:
    """Key budgets naming no key in the store (``key_names``: every key ever created,
    revoked ones too, since a rotated key's budget still counts its spend): one
    problem each, at ``where(loc)``, the YAML location. Keys live in the store, not
    in trimtab.yaml, so ``trimtab validate`` asks this when it can read the store."""
    from trimtab.project.naming import suggest

    problems = []
    for name, budget in spec.budgets.items():
        if budget.key is None or budget.key in key_names:
            continue
        names = sorted(key_names)
        known = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if names[10:] else "") \
            if names else "none created yet"
        problems.append(
            f"{where(('budgets', name, 'key'))}: budgets.{name}.key: no gateway key is named "
            f"{budget.key!r}.{suggest(budget.key, key_names)} Fix: create it (`trimtab keys "
            f"create {budget.key} --env ENV`) or name an existing key (known: {known}).")
    return problems
