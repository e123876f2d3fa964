"""The JSON API's request and response models: the OpenAPI document is made from these.

Each response model is filled from the ``to_dict()`` the CLI's ``--json``
prints, so the API and the CLI say the same thing in the same words.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

#: System and environment names as the project file allows them (project/naming.py).
NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,99}$"
#: A release or call id, or a prefix of one (at least 4 hexadecimal digits).
REF_PATTERN = r"^[0-9a-fA-F]{4,64}$"

Name = Annotated[str, Field(pattern=NAME_PATTERN, examples=["complaint-router"])]
Ref = Annotated[str, Field(pattern=REF_PATTERN, examples=["3f2a9c41b7d0"])]
#: No NUL anywhere: PostgreSQL refuses it in any string.
NO_NUL = r"^[^\x00]*$"
Text = Annotated[str, Field(max_length=2000, pattern=NO_NUL)]


class Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Problem(Model):
    """Every 4xx and 5xx answer: what went wrong and how to fix it."""
    detail: str


class SystemOut(Model):
    name: str
    kind: str
    description: str
    owner: str
    tier: int
    risk: str
    customer_facing: bool
    target_stage: int
    created_at: datetime
    updated_at: datetime


class DeploymentOut(Model):
    id: int
    system: str
    env: str
    release_id: str
    action: str = Field(description="promote, rollback, canary or shadow")
    percent: int | None
    parent_id: int | None
    reason: str
    actor: str
    ci_url: str | None
    created_at: datetime


class ReleaseOut(Model):
    id: str
    system: str
    note: str
    author: str
    created_at: datetime
    git_commit: str | None
    git_dirty: bool | None


class ReleaseDetail(ReleaseOut):
    spec: dict[str, Any] = Field(description="What the release pins: prompts, model, params.")


class SystemDetail(Model):
    system: SystemOut
    environments: list[str] = Field(description="The project file's, lowest first.")
    active: dict[str, ReleaseOut | None] = Field(description="The stable release per env.")
    candidates: list[DeploymentOut] = Field(description="Canaries and shadows running now.")


class Status(Model):
    stable: list[DeploymentOut]
    candidates: list[DeploymentOut]


class Change(Model):
    path: str
    change: Literal["added", "removed", "changed"]
    old: Any = None
    new: Any = None


class DiffOut(Model):
    old: ReleaseOut
    new: ReleaseOut
    changes: list[Change]
    prompts: dict[str, str] = Field(description="A unified diff per changed prompt.")


class PromoteIn(Model):
    model_config = ConfigDict(extra="forbid")
    release: Ref
    env: Name
    reason: Text = ""
    canary: int | None = Field(None, ge=1, le=99, description="Answer this % of calls.")
    shadow: int | None = Field(None, ge=1, le=100, description="Copy this % of calls.")
    force: bool = Field(False, description="Past a failing gate or an incident freeze "
                        "(admin; needs a reason; audited).")


class FlagIn(Model):
    model_config = ConfigDict(extra="forbid")
    reason: Text | None = Field(None, description="Why the call needs a person's look.")


class FlagOut(Model):
    """A call flagged for review: it joins the review sample of its week."""
    call_id: str
    system: str
    env: str
    source: str
    reason: str | None
    actor: str
    time: datetime
    new: bool = Field(description="False when the call was flagged before (nothing changed).")


class ReleaseQualityOut(Model):
    """One sampled scorer's scores of one release's calls over the window."""
    release_id: str
    name: str = Field(description="The scorer.")
    scores: int
    mean: float = Field(description="The release's quality_score for this scorer.")
    passed: int
    judged: int = Field(description="Scores that say pass or fail.")


class JudgedShare(Model):
    calls: int
    passed: int
    interval: list[float] | None = Field(description="Wilson 95% interval; None: no calls.")


class WeekScoreOut(Model):
    week: str = Field(examples=["2026-W49"])
    score: float | None = Field(description="Share of calls judged good; None: no data.")
    source: Literal["people", "scorers"] | None
    interval: list[float] | None
    trend: Literal["up", "down", "flat"] | None
    change: float | None
    significant: bool = Field(description="The week's and the previous week's intervals part.")
    people: JudgedShare
    scorers: JudgedShare


class WeeklyQualityOut(Model):
    system: str
    weeks: list[WeekScoreOut]


class RollbackIn(Model):
    model_config = ConfigDict(extra="forbid")
    env: Name
    to: Ref | None = Field(None, description="A release; default: the one before.")
    reason: Text = ""
    force: bool = Field(False, description="Past an incident freeze (admin; needs a reason; "
                        "audited).")


class DeploymentChange(Model):
    changed: bool = Field(description="False when the release already was active there.")
    deployment: DeploymentOut | None


class CallOut(Model):
    id: str
    time: datetime
    system: str
    env: str
    release_id: str | None
    source: str
    route: str
    provider: str | None
    model: str | None
    status: str
    error_kind: str | None
    http_status: int | None
    latency_ms: float
    ttft_ms: float | None
    input_tokens: int | None
    output_tokens: int | None
    cost_micro_usd: int | None
    attempt_count: int
    fallback_used: bool
    user_id: str | None
    tags: dict[str, Any] | None


class CallDetail(CallOut):
    cached_input_tokens: int | None
    cache_write_tokens: int | None
    reasoning_tokens: int | None
    price_version: str | None
    api_key_id: str | None
    attempts: list[Any] | None
    logging_mode: str
    request: str | None = Field(description="As the system's logging mode stored it.")
    response: str | None
    error: str | None
    response_id: str | None = Field(None, description="The provider's id for its answer "
                                    "(at most 200 characters); null on failures and on calls "
                                    "recorded before trimtab stored it.")
    finish_reasons: list[str] | None = Field(None, description="Why the answer ended, one "
                                             "per choice (`stop`, `length`, `tool_calls`...).")
    params: dict[str, Any] | None = Field(None, description="The sampling params sent "
                                          "(temperature, top_p, max_tokens, seed, stop...).")


class MetricRowOut(Model):
    model_config = ConfigDict(extra="allow")  # the group's columns (system, env, ...)
    calls: int
    errors: int
    error_rate: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    mean_ms: float | None
    input_tokens: int
    output_tokens: int
    cost_usd: str = Field(description="USD as a decimal string.")
    cost_per_call_usd: str | None
    cost_unknown_calls: int


class SeriesOut(Model):
    start: datetime
    end: datetime
    step_seconds: int
    points: list[MetricRowOut] = Field(description="One per step with calls; `start` "
                                       "is the step's start.")


class DriftResultOut(Model):
    id: str
    time: datetime
    system: str
    env: str
    baseline_id: str | None
    reference: str
    current: str
    current_start: datetime | None
    current_end: datetime | None
    n_reference: int
    n_current: int
    dataset_drift: bool
    share_drifted: float
    drift_share: float
    n_columns_tested: int
    n_columns_drifted: int
    columns: list[dict[str, Any]]
    actor: str


class AlertStateOut(Model):
    rule: str
    system: str
    env: str | None
    state: str = Field(description="ok, no_data, pending, firing or resolved")
    value: float | None
    since: datetime
    active_since: datetime | None
    evaluated_at: datetime


class AlertEventOut(Model):
    id: int
    time: datetime
    rule: str
    system: str
    env: str
    state: str = Field(description="firing or resolved")
    severity: str
    metric: str
    value: float | None
    threshold: float
    document: dict[str, Any] = Field(description="What the notification carried.")


class AuditEntryOut(Model):
    seq: int
    time: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    system: str | None
    payload: dict[str, Any]
    prev_hash: str
    hash: str


class ChainReportOut(Model):
    ok: bool
    entries: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str | None = None


class Ready(Model):
    status: Literal["ready"]
