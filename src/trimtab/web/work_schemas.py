"""The JSON models of the eval, review, approval, incident, assessment and document
routes (api_work.py); filled from the same ``to_dict()`` the CLI's ``--json`` prints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from trimtab.web.schemas import NO_NUL, REF_PATTERN, CallDetail, DeploymentOut, Model, Text

Label = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f,]+$")]


class EvalRunOut(Model):
    id: str
    system: str
    suite: str
    release_id: str
    dataset_path: str
    dataset_sha256: str
    cases: int
    passed_cases: int
    errors: int
    passed: bool = Field(description="Whether the run passed its gate's thresholds.")
    baseline_run_id: str | None
    cost_micro_usd: int | None
    summary: dict[str, Any]
    started_at: datetime
    finished_at: datetime
    actor: str
    ci_url: str | None
    gates: list[str] = Field(description="The environments this suite's gate guards.")


class CaseResultOut(Model):
    position: int
    case_id: str
    passed: bool
    output: str | None
    error: str | None
    latency_ms: float
    cost_micro_usd: int | None
    model: str | None
    scores: dict[str, Any]
    tags: dict[str, Any]


class EvalRunDetail(EvalRunOut):
    results: list[CaseResultOut]


class SampleOut(Model):
    id: str
    system: str
    env: str
    week: str
    seed: int
    size: int
    population: int
    strata: list[dict[str, Any]]
    drawn_at: datetime
    actor: str


class SampleDrawn(SampleOut):
    new: bool = Field(description="False when this week's sample had been drawn already.")


class SampleIn(Model):
    model_config = ConfigDict(extra="forbid")
    week: str | None = Field(None, pattern=r"^\d{4}-W\d{2}$", examples=["2026-W49"])
    size: int | None = Field(None, ge=1, le=1000)


class ReviewNext(Model):
    done: bool = Field(description="True when nothing in the newest sample is left for you.")
    left: int = Field(description="Calls left for you, this one included.")
    sample: SampleOut
    call: CallDetail | None


class ReviewIn(Model):
    model_config = ConfigDict(extra="forbid")
    verdict: Literal["pass", "fail"]
    score: int | None = Field(None, ge=1, le=5)
    labels: list[Label] = Field(default_factory=list, max_length=20)
    comment: str | None = Field(None, max_length=2000, pattern=NO_NUL)


class ReviewOut(Model):
    id: int
    call_id: str
    system: str
    sample_id: str | None
    reviewer: str
    verdict: str
    score: int | None
    labels: list[str]
    comment: str | None
    time: datetime


class WeekOut(Model):
    week: str
    calls: int
    passed: int
    pass_rate: float | None


class Agreement(Model):
    reviewers: list[str]
    calls: int
    kappa: float | None


class ReviewProgressOut(Model):
    system: str
    sample: SampleOut | None
    size: int
    reviewed: int = Field(description="Sampled calls with at least one review.")
    mine: int | None = Field(description="Sampled calls you reviewed.")
    gone: int = Field(description="Sampled calls retention deleted before anyone reviewed "
                      "them; they can no longer be reviewed.")
    reviewable: int = Field(description="The sample's size less `gone`.")
    left: int | None = Field(description="Sampled calls you can still review; 0: done.")
    weeks: list[WeekOut] = Field(description="The quality trend: reviewed calls that "
                                 "passed, per ISO week, oldest first.")
    reviews: int
    calls: int
    passed: int
    pass_rate: float | None
    interval: list[float] = Field(description="Wilson 95% interval of the pass rate.")
    agreement: list[Agreement]


class VoteOut(Model):
    approver: str
    decision: str
    release_id: str
    reason: str
    time: datetime


class ApprovalOut(Model):
    id: str
    system: str
    env: str
    release_id: str
    mode: str
    percent: int | None
    reason: str
    requested_by: str
    required: int
    state: str = Field(description="pending, approved, applied, rejected or expired")
    deployment_id: int | None
    requested_at: datetime
    expires_at: datetime
    decided_at: datetime | None
    votes: list[VoteOut]


class ApproveIn(Model):
    model_config = ConfigDict(extra="forbid")
    release: str | None = Field(None, pattern=REF_PATTERN,
                                description="The release you reviewed; refused if the "
                                "request is for another one.")
    comment: Text = ""


class RejectIn(Model):
    model_config = ConfigDict(extra="forbid")
    reason: Text = Field(description="Why; the requester reads it. Required.")


class ApprovalDecision(Model):
    request: ApprovalOut
    deployment: DeploymentOut | None = Field(description="When the approval applied it.")


class NoteOut(Model):
    time: datetime
    actor: str
    text: str


class DeadlineOut(Model):
    incident: str
    system: str
    regime: str
    name: str
    due: datetime
    overdue: bool


class IncidentOut(Model):
    id: str
    system: str
    severity: str
    summary: str
    categories: list[str]
    opened_by: str
    closed_by: str | None
    root_cause: str | None
    actions: str | None
    aware_at: datetime
    opened_at: datetime
    closed_at: datetime | None
    notes: list[NoteOut]
    deadlines: list[DeadlineOut] = Field(description="Open incidents only, soonest first.")


class NoteIn(Model):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=2000, pattern=NO_NUL)


class CheckOut(Model):
    id: str
    stage: int
    title: str
    state: str
    passes: bool
    evidence: str
    fix: str = Field(description="The command or trimtab.yaml snippet that fixes it.")


class StepOut(Model):
    id: str
    title: str
    fix: str


class AssessmentOut(Model):
    system: str
    track: str
    stage: int
    stage_name: str
    target: int
    target_name: str
    gap: int
    assessed_at: datetime
    checks: list[CheckOut]
    next_steps: list[StepOut]
    skip: list[dict[str, Any]]
    notes: list[str]


class DocumentOut(Model):
    id: str
    system: str
    kind: str
    format: str
    sha256: str
    as_of: datetime
    generated_at: datetime
    owner: str
    missing: int = Field(description="Facts the document says are missing.")
    location: str | None
    actor: str
