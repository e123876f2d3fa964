"""The JSON API's eval, review, approval, incident, assessment and document routes.

Thin, as in api.py: each handler calls the Workspace method the CLI calls, as
the authenticated caller (``acting_as``), so the domain's role checks apply
(reviewer to review, approver to approve or reject, operator for incident
notes) and each refusal is audited. Reads are bounded by ``limit``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from trimtab.actor import acting_as, current_actor
from trimtab.web.api import WS, Limit, RefPath, SystemName, Who, caller
from trimtab.web.schemas import NAME_PATTERN, REF_PATTERN, Problem
from trimtab.web.work_schemas import (
    ApprovalDecision,
    ApprovalOut,
    ApproveIn,
    AssessmentOut,
    DocumentOut,
    EvalRunDetail,
    EvalRunOut,
    IncidentOut,
    NoteIn,
    RejectIn,
    ReviewIn,
    ReviewNext,
    ReviewOut,
    ReviewProgressOut,
    SampleDrawn,
    SampleIn,
)

router = APIRouter(
    dependencies=[Depends(caller)],
    responses={code: {"model": Problem} for code in (400, 401, 403, 404, 503)},
)
SystemFilter = Annotated[str | None, Query(pattern=NAME_PATTERN)]
All = Annotated[bool, Query(alias="all", description="Also the closed ones.")]


# --- evals ----------------------------------------------------------------------------------


def _gates(ws, system: str) -> dict[str, list[str]]:
    if ws.project_file is None or system not in ws.project.spec.systems:
        return {}
    return {name: list(s.gate.environments)
            for name, s in ws.project.system(system).evals.items()}


@router.get("/systems/{system}/evals", response_model=list[EvalRunOut], tags=["evals"])
def eval_runs(system: SystemName, ws: WS,
              suite: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None,
              release: Annotated[str | None, Query(pattern=REF_PATTERN)] = None,
              limit: Limit = 20):
    """Stored eval runs of a system, newest first, with the environments each gate guards."""
    gates = _gates(ws, system)
    runs = ws.eval_runs(system, suite=suite, release=release and release.lower(), limit=limit)
    return [{**r.to_dict(), "gates": gates.get(r.suite, [])} for r in runs]


@router.get("/evals/{ref}", response_model=EvalRunDetail, tags=["evals"])
def eval_run(ref: RefPath, ws: WS):
    """One eval run (an id or a prefix) and its cases."""
    run, results = ws.eval_results(ref)
    return {**run.to_dict(), "gates": _gates(ws, run.system).get(run.suite, []),
            "results": [r.to_dict() for r in results]}


# --- reviews --------------------------------------------------------------------------------


@router.get("/systems/{system}/reviews/next", response_model=ReviewNext, tags=["reviews"])
def review_next(system: SystemName, ws: WS, who: Who):
    """The next call of the newest sample you have not reviewed (``done`` when none)."""
    with acting_as(who.actor):
        pending = ws.review_next(system)
        if pending is None:
            progress = ws.review_progress(system, weeks=1)
            return {"done": True, "left": 0, "sample": progress.sample.to_dict(),
                    "call": None}
    return {"done": False, "left": pending.left, "sample": pending.sample.to_dict(),
            "call": pending.call.to_dict()}


@router.post("/calls/{ref}/reviews", response_model=ReviewOut, tags=["reviews"])
def review_call(ref: RefPath, body: ReviewIn, ws: WS, who: Who):
    """Your verdict on a call: pass or fail, an optional 1-5 score, labels, a comment.
    Once per reviewer and call; needs the reviewer role; audited."""
    call = ws.call(ref)
    who.may_change(call.system)
    with acting_as(who.actor):
        done = ws.review(call.id, body.verdict, score=body.score, labels=list(body.labels),
                         comment=body.comment)
    return done.to_dict()


@router.post("/systems/{system}/reviews/sample", response_model=SampleDrawn,
             tags=["reviews"])
def review_sample(system: SystemName, body: SampleIn, ws: WS, who: Who):
    """Draw this ISO week's (or ``week``'s) review sample; drawn once, then returned."""
    who.may_change(system)
    with acting_as(who.actor):
        sample, new = ws.review_sample(system, week=body.week, size=body.size)
    return {**sample.to_dict(), "new": new}


@router.get("/systems/{system}/reviews/progress", response_model=ReviewProgressOut,
            tags=["reviews"])
def review_progress(system: SystemName, ws: WS, who: Who,
                    weeks: Annotated[int, Query(ge=1, le=52)] = 8):
    """The newest sample's progress, the weekly pass rate of reviewed calls, and the
    pass rate's Wilson interval with the reviewers' agreement (Cohen's kappa)."""
    with acting_as(who.actor):
        progress = ws.review_progress(system, reviewer=_reviewer(ws, who), weeks=weeks)
    stats = ws.review_stats(system)
    return {**progress.to_dict(), "reviews": stats.reviews, "calls": stats.calls,
            "passed": stats.passed, "pass_rate": stats.pass_rate,
            "interval": list(stats.interval),
            "agreement": [{"reviewers": [a, b], "calls": n, "kappa": k}
                          for a, b, n, k in stats.agreement]}


def _reviewer(ws, who) -> str:
    return who.actor or current_actor()


# --- approvals ------------------------------------------------------------------------------


@router.get("/approvals", response_model=list[ApprovalOut], tags=["approvals"])
def approvals(ws: WS, system: SystemFilter = None, include_closed: All = False):
    """Promotion requests waiting for approval (with ``all``, decided and expired too)."""
    return [r.to_dict() for r in ws.approvals(include_closed=include_closed, system=system)]


@router.get("/approvals/{ref}", response_model=ApprovalOut, tags=["approvals"])
def approval(ref: RefPath, ws: WS):
    """One promotion request (an id or a prefix) with its votes."""
    return ws.approval(ref).to_dict()


@router.post("/approvals/{ref}/approve", response_model=ApprovalDecision, tags=["approvals"])
def approve(ref: RefPath, body: ApproveIn, ws: WS, who: Who):
    """Approve a pending promotion; at the quorum it applies. Needs the approver role;
    the requester cannot approve, each approver counts once; refusals are audited."""
    pending = ws.approval(ref)
    who.may_change(pending.system)
    with acting_as(who.actor):
        done, deployment = ws.approve(pending.id, release=body.release and body.release.lower(),
                                      comment=body.comment)
    return {"request": done.to_dict(), "deployment": deployment.to_dict() if deployment
            else None}


@router.post("/approvals/{ref}/reject", response_model=ApprovalOut, tags=["approvals"])
def reject(ref: RefPath, body: RejectIn, ws: WS, who: Who):
    """Reject a pending promotion with a reason: it will not apply. Needs the approver role."""
    pending = ws.approval(ref)
    who.may_change(pending.system)
    with acting_as(who.actor):
        return ws.reject(pending.id, reason=body.reason).to_dict()


# --- incidents ------------------------------------------------------------------------------


def _incident(ws, incident, deadlines=None) -> dict:
    now = datetime.now(UTC)
    found = deadlines if deadlines is not None else \
        [d for d in ws.deadlines(system=incident.system) if d.incident == incident.id]
    return {**incident.to_dict(),
            "deadlines": [{**d.to_dict(), "overdue": d.due < now} for d in found]}


@router.get("/incidents", response_model=list[IncidentOut], tags=["incidents"])
def incidents(ws: WS, system: SystemFilter = None, include_closed: All = False,
              limit: Limit = 100):
    """Incidents (open ones; with ``all``, closed too), each with its reporting deadlines
    and its notes timeline."""
    found = ws.incidents(include_closed=include_closed, system=system)[:limit]
    deadlines: dict[str, list] = {}
    for d in ws.deadlines(system=system):
        deadlines.setdefault(d.incident, []).append(d)
    return [_incident(ws, i, deadlines.get(i.id, [])) for i in found]


@router.get("/incidents/{ref}", response_model=IncidentOut, tags=["incidents"])
def incident(ref: RefPath, ws: WS):
    """One incident (an id or a prefix) with its deadlines and timeline."""
    found = ws.incident(ref)
    return _incident(ws, found, None if found.closed_at is None else [])


@router.post("/incidents/{ref}/notes", response_model=IncidentOut, tags=["incidents"])
def incident_note(ref: RefPath, body: NoteIn, ws: WS, who: Who):
    """Add a note to an incident's timeline (the operator role; audited)."""
    found = ws.incident(ref)
    who.may_change(found.system)
    with acting_as(who.actor):
        noted = ws.note_incident(found.id, body.text)
    return _incident(ws, noted, None if noted.closed_at is None else [])


# --- assessment and documents ---------------------------------------------------------------


@router.get("/systems/{system}/assessment", response_model=AssessmentOut, tags=["assessment"])
def assessment(system: SystemName, ws: WS):
    """The system's maturity stage from evidence, each check with the command that fixes
    it, and the next smallest steps (not stored: `trimtab assess` keeps the history)."""
    return ws.assess(system, save=False).to_dict()


@router.get("/systems/{system}/documents", response_model=list[DocumentOut],
            tags=["documents"])
def documents(system: SystemName, ws: WS, limit: Limit = 50):
    """The compliance documents generated for a system, newest first, with their hashes."""
    ws.get_system(system)  # an unknown system is a 404, not an empty list
    return [r.__dict__ for r in ws.document_records(system)[:limit]]
