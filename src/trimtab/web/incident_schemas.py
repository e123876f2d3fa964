"""The JSON models of the freeze, legal-hold, report and timeline routes
(api_incidents.py); filled from the same ``to_dict()`` the CLI's ``--json`` prints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ConfigDict, Field

from trimtab.web.schemas import NO_NUL, Model


class FreezeOut(Model):
    id: int
    system: str
    incident_id: str | None
    pinned: dict[str, str] = Field(description="The release each environment is pinned to.")
    reason: str
    frozen_at: datetime
    frozen_by: str
    lifted_at: datetime | None = Field(description="None while the freeze stands.")
    lifted_by: str | None
    lift_reason: str | None


class HoldOut(Model):
    id: int
    system: str
    incident_id: str | None
    since: datetime = Field(description="Calls from this time on are held.")
    until: datetime | None = Field(description="Held up to here; None: open-ended.")
    reason: str
    placed_at: datetime
    placed_by: str
    released_at: datetime | None
    released_by: str | None
    release_reason: str | None
    active: bool = Field(description="True until released: `trimtab prune` keeps its calls.")
    calls: int | None = Field(None, description="How many calls it keeps now (listings).")


class FrozenOut(Model):
    freeze: FreezeOut
    hold: HoldOut


class FreezeIn(Model):
    model_config = ConfigDict(extra="forbid")
    hold_since: datetime | None = Field(
        None, description="Where the legal hold starts (ISO time; UTC when no zone is given). "
        "Default: incidents.hold_before (7d) before the incident's awareness.")


class ReasonIn(Model):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000, pattern=NO_NUL,
                        description="Why; kept in the audit trail. Required.")


class ReportFieldOut(Model):
    section: str
    field: str
    value: Any = Field(description="None (and ``missing``) where trimtab cannot know it.")
    missing: bool
    source: str = Field(description="Where the value came from; for a gap, what to add.")


class ReportOut(Model):
    format: str
    title: str
    incident: str
    system: str
    generated_at: datetime
    deadline: dict[str, Any] | None
    fields: list[ReportFieldOut]
    gaps: list[str] = Field(description="The fields a person must fill in before sending.")
    markdown: str = Field(description="The same draft as `trimtab incident report` prints.")


class ActiveAtOut(Model):
    env: str
    release: str | None
    since: datetime | None
    by: str | None
    reason: str | None
    previous: str | None
    candidate: dict[str, Any] | None
    diff: dict[str, Any] | None


class TimelineOut(Model):
    system: str
    at: datetime
    start: datetime
    end: datetime
    active: list[ActiveAtOut] = Field(description="The release active in each environment "
                                      "at ``at`` and what changed from the one before.")
    deployments: list[dict[str, Any]]
    approvals: list[dict[str, Any]]
    alerts: list[dict[str, Any]]
    changes: list[dict[str, Any]] = Field(description="Other audited changes in the window.")
    rule_commits: list[dict[str, Any]] | None = Field(
        description="Commits to the project file in the window; None outside a git work tree.")
    metrics: dict[str, Any] = Field(description="Calls, errors, latency and cost before "
                                    "and after ``at``.")
    samples: list[dict[str, Any]] = Field(description="The calls nearest ``at``.")
    more: dict[str, int] = Field(description="Rows left out of each list (its bound).")
    limits: dict[str, int]
