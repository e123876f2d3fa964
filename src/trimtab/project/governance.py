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

from trimtab.project.alert_rules import (
    MAX_DURATION,
    MAX_DURATION_TEXT,
    DurationTooLong,
    parse_duration,
    too_long,
)

if TYPE_CHECKING:
    from trimtab.project.models import ProjectFile

Risk = Literal["minimal", "limited", "high"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class AuditSpec(_Strict):
    """Where signed checkpoints of the audit chain's head go, and the key that signs them."""

    checkpoints: str = Field(
        "audit-checkpoints.jsonl",
        description="a file (relative to the project) or any fsspec URL; outside the store")
    checkpoint_key: str | None = Field(
        None, description="the Ed25519 private key (PEM); default .trimtab/keys/ in the project")
    checkpoint_every: str | None = Field(
        None, description="the monitor writes a checkpoint this often when the head moved")


class IncidentsSpec(_Strict):
    """How incidents warn before their reporting deadlines, and how far back a
    freeze's legal hold reaches."""

    warn_before: str = Field(
        "12h", description="an alert fires this long before each reporting deadline")
    channels: list[str] = Field(
        default_factory=list, description="where deadline alerts go (names under channels:); "
        "none: the monitor's log and the alert history only")
    hold_before: str = Field(
        "7d", description="a freeze's legal hold keeps the calls from this long before the "
        "team became aware")


class PolicySpec(_Strict):
    """An environment's promotion policy: how many people other than the requester
    must approve before a promotion applies."""

    approvals: int = Field(ge=1, le=10)
    risk: list[Risk] | None = Field(
        None, description="only for systems of these risk levels (default: every system)")
    expires: str = Field("72h", description="a request not decided by then is void")


#: The EU AI Act's floor for the logs of a high-risk system: at least six months
#: (Art. 19 for providers, Art. 26(6) for deployers), unless other law says otherwise.
HIGH_RISK_MIN_DAYS = 180


class RetentionSpec(_Strict):
    """How many days `trimtab prune` keeps a system's raw calls when the system
    declares no ``retention_days``, by risk level. None keeps them all."""

    minimal: int | None = Field(None, ge=1, description="days; absent: kept")
    limited: int | None = Field(None, ge=1, description="days; absent: kept")
    high: int = Field(HIGH_RISK_MIN_DAYS, ge=1, description=(
        f"days; at least {HIGH_RISK_MIN_DAYS} (EU AI Act Arts. 19 and 26(6))"))

    def days(self, risk: str) -> int | None:
        return getattr(self, risk)


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
    floor = (f"is below the {HIGH_RISK_MIN_DAYS} days the EU AI Act requires a high-risk "
             "system's logs to be kept (Arts. 19 and 26(6))")
    if spec.retention.high < HIGH_RISK_MIN_DAYS:
        problem(("retention", "high"), f"{spec.retention.high} {floor}. "
                f"Fix: retention: {{high: {HIGH_RISK_MIN_DAYS}}} or more, or remove it.")
    for key in ("warn_before", "hold_before"):
        _span(getattr(spec.incidents, key), ("incidents", key), problem)
    for i, channel in enumerate(spec.incidents.channels):
        if channel not in spec.channels:
            problem(("incidents", "channels", i), f"unknown channel {channel!r}. Fix: declare "
                    f"it under `channels:` or use one of: {', '.join(spec.channels) or 'none'}.")
    for name, system in spec.systems.items():
        days = system.retention_days
        if system.risk == "high" and days is not None and days < HIGH_RISK_MIN_DAYS:
            problem(("systems", name, "retention_days"), f"{days} {floor}. Fix: "
                    f"retention_days: {HIGH_RISK_MIN_DAYS} or more, or remove it (high-risk "
                    f"systems default to retention.high, {spec.retention.high}).")
        safe = system.when_suspended
        if safe is not None and sum(
                v is not None for v in (safe.reply, safe.refusal, safe.error)) != 1:
            problem(("systems", name, "when_suspended"), "give exactly one of `reply:`, "
                    "`refusal:` or `error:`: what the system answers while suspended.")


def _span(value: str, loc: tuple, problem) -> None:
    try:
        span = parse_duration(value)
    except DurationTooLong:
        span = MAX_DURATION * 2
    except ValueError:
        span = None
    if span is None or span.total_seconds() <= 0:
        problem(loc, f"{value!r} is not a span. Fix: a number and a unit, like 30m, 24h, 7d.")
    elif too_long(span):
        problem(loc, f"{value!r} is too long: at most {MAX_DURATION_TEXT}. Fix: e.g. 24h or 7d.")
