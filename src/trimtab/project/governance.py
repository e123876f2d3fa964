"""Governance settings in trimtab.yaml: audit checkpoints, approval policies per
environment, and each system's safe state while suspended.

The models say what types the settings have; ``check`` says what types cannot
(environments that must be declared, spans that must parse, exactly one kind of
safe answer) and reports each problem at its file:line:column through the
project file's own problem list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from trimtab.project.alert_rules import parse_duration

if TYPE_CHECKING:
    from trimtab.project.models import ProjectFile

Risk = Literal["minimal", "limited", "high"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class AuditSpec(_Strict):
    """Where signed checkpoints of the audit chain's head go, and the key that signs them."""

    checkpoints: str = Field(
        "audit-checkpoints.jsonl",
        description="a file (relative to the project) or any fsspec URL; outside the store")
    checkpoint_key: str | None = Field(
        None, description="the Ed25519 private key (PEM); default .trimtab/keys/ in the project")
    checkpoint_every: str | None = Field(
        None, description="the monitor writes a checkpoint this often when the head moved")


class PolicySpec(_Strict):
    """An environment's promotion policy: how many people other than the requester
    must approve before a promotion applies."""

    approvals: int = Field(ge=1, le=10)
    risk: list[Risk] | None = Field(
        None, description="only for systems of these risk levels (default: every system)")
    expires: str = Field("72h", description="a request not decided by then is void")


class SuspendedSpec(_Strict):
    """What a suspended system answers instead of calling a model: exactly one of
    a fixed reply, a refusal, or an error the application handles."""

    reply: str | None = None
    refusal: str | None = None
    error: str | None = None

    @property
    def mode(self) -> str:
        return "reply" if self.reply is not None else "refusal" if self.refusal is not None \
            else "error"

    @property
    def message(self) -> str:
        return self.reply if self.reply is not None else self.refusal \
            if self.refusal is not None else (self.error or "")


def check(spec: ProjectFile, problem) -> None:
    """What types alone cannot say; ``problem(loc, msg)`` records one at its YAML place."""
    from trimtab.project.naming import suggest

    for env, policy in spec.policies.items():
        loc = ("policies", env)
        if env not in spec.environments:
            problem(loc, f"unknown environment {env!r}.{suggest(env, spec.environments)} "
                    f"Fix: use one of: {', '.join(spec.environments)}.", key=True)
        _span(policy.expires, loc + ("expires",), problem)
    if spec.audit.checkpoint_every is not None:
        _span(spec.audit.checkpoint_every, ("audit", "checkpoint_every"), problem)
    for name, system in spec.systems.items():
        safe = system.when_suspended
        if safe is not None and sum(
                v is not None for v in (safe.reply, safe.refusal, safe.error)) != 1:
            problem(("systems", name, "when_suspended"), "give exactly one of `reply:`, "
                    "`refusal:` or `error:`: what the system answers while suspended.")


def _span(value: str, loc: tuple, problem) -> None:
    try:
        span = parse_duration(value)
    except ValueError:
        span = None
    if span is None or span.total_seconds() <= 0:
        problem(loc, f"{value!r} is not a span. Fix: a number and a unit, like 30m, 24h, 7d.")
