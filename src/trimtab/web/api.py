"""The JSON API, ``/api/v1/...``: each handler a thin shell over one Workspace method.

Handlers are plain ``def``: FastAPI runs them in its thread pool, where the
workspace's blocking store reads belong. Bad input answers 4xx with a message
that says what to fix (app.py maps the workspace's errors); list endpoints
are bounded by ``limit``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from trimtab.actor import acting_as
from trimtab.project.alert_rules import parse_duration
from trimtab.web import views
from trimtab.web.schemas import (
    NAME_PATTERN,
    REF_PATTERN,
    AlertEventOut,
    AlertStateOut,
    AuditEntryOut,
    CallDetail,
    CallOut,
    ChainReportOut,
    DeploymentChange,
    DeploymentOut,
    DiffOut,
    DriftResultOut,
    FlagIn,
    FlagOut,
    MetricRowOut,
    Problem,
    PromoteIn,
    ReleaseDetail,
    ReleaseOut,
    ReleaseQualityOut,
    RollbackIn,
    SeriesOut,
    Status,
    SystemDetail,
    SystemOut,
    WeeklyQualityOut,
)
from trimtab.web.security import CSRF_HEADER, SAFE_METHODS, Caller, check_csrf
from trimtab.workspace import Workspace

WINDOW_PATTERN = r"^[1-9][0-9]{0,3}[mhdw]$"
#: Free text in a filter: printable, one line (PostgreSQL refuses NUL in any string).
TEXT_PATTERN = r"^[^\x00-\x1f\x7f]{1,200}$"
MAX_WINDOW = timedelta(days=400)


def workspace(request: Request) -> Workspace:
    return request.app.state.ws


async def caller(request: Request) -> Caller:
    """The authenticated caller (token, browser session, or local mode); 401 otherwise."""
    found = await request.app.state.guard.caller(request)
    if found is None:
        raise HTTPException(401, "this API needs a token. Fix: send `Authorization: Bearer "
                            "<token>` with a token from `trimtab tokens create` or a key "
                            "from `trimtab keys create`.",
                            headers={"www-authenticate": "Bearer"})
    if found.via == "session" and request.method not in SAFE_METHODS:
        # A page's script sends the CSRF cookie's value back; another site cannot read it.
        check_csrf(request, request.headers.get(CSRF_HEADER))
    return found


WS = Annotated[Workspace, Depends(workspace)]
Who = Annotated[Caller, Depends(caller)]
SystemName = Annotated[str, Path(pattern=NAME_PATTERN, description="A system's name.")]
RefPath = Annotated[str, Path(pattern=REF_PATTERN, description="An id or a prefix of one.")]
Env = Annotated[str | None, Query(pattern=NAME_PATTERN, description="An environment.")]
Limit = Annotated[int, Query(ge=1, le=1000, description="At most this many, newest first.")]
Since = Annotated[datetime | None, Query(description="ISO time; UTC when no zone is given.")]
Window = Annotated[str, Query(pattern=WINDOW_PATTERN, description="30m, 24h, 7d, 2w.")]

router = APIRouter(
    dependencies=[Depends(caller)],
    responses={code: {"model": Problem} for code in (400, 401, 403, 404, 503)},
)


def as_utc(moment: datetime | None) -> datetime | None:
    """A time as given (UTC when it has no zone) in UTC; 400 when out of range."""
    if moment is None:
        return None
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:  # year 1 with a positive offset
        raise HTTPException(400, f"{moment.isoformat()} is out of range.") from None


def _window(text: str) -> timedelta:
    window = parse_duration(text)  # the pattern admits only what parses
    if window > MAX_WINDOW:
        raise HTTPException(400, f"window {text!r} is longer than {MAX_WINDOW.days} days.")
    return window


# --- systems, releases, environments ---------------------------------------------------


@router.get("/systems", response_model=list[SystemOut], tags=["systems"])
def list_systems(ws: WS):
    """Every registered system."""
    return [s.to_dict() for s in ws.systems()]


@router.get("/systems/{system}", response_model=SystemDetail, tags=["systems"])
def show_system(system: SystemName, ws: WS):
    """A system, the stable release active in each environment, and any canary or shadow."""
    found = ws.get_system(system)
    environments = views.environments(ws)
    active = {env: ws.active_release(system, env) for env in environments}
    return {
        "system": found.to_dict(), "environments": environments,
        "active": {env: r.to_dict() if r else None for env, r in active.items()},
        "candidates": [d.to_dict() for d in ws.candidates() if d.system == system],
    }


@router.get("/systems/{system}/releases", response_model=list[ReleaseOut], tags=["releases"])
def list_releases(system: SystemName, ws: WS):
    """A system's releases, newest first."""
    return [r.to_dict() for r in ws.releases(system)]


@router.get("/releases/{ref}", response_model=ReleaseDetail, tags=["releases"])
def show_release(ref: RefPath, ws: WS):
    """One release with everything it pins."""
    return ws.get_release(ref).to_dict()


@router.get("/releases/{old}/diff/{new}", response_model=DiffOut, tags=["releases"])
def diff_releases(old: RefPath, new: RefPath, ws: WS):
    """What changed from ``old`` to ``new``: prompts line by line, settings key by key."""
    before, after, changes = ws.diff(old, new)
    return {"old": before.to_dict(), "new": after.to_dict(), **changes.to_dict()}


@router.get("/deployments", response_model=Status, tags=["environments"])
def deployments(ws: WS):
    """The stable deployment of every system and environment, and the candidates beside them."""
    return {"stable": [d.to_dict() for d in ws.status()],
            "candidates": [d.to_dict() for d in ws.candidates()]}


@router.get("/systems/{system}/history", response_model=list[DeploymentOut],
            tags=["environments"])
def deployment_history(system: SystemName, ws: WS, env: Env = None):
    """Every promotion, rollback, canary and shadow of a system, newest first."""
    return [d.to_dict() for d in ws.history(system, env)]


@router.post("/systems/{system}/promote", response_model=DeploymentChange,
             tags=["environments"])
def promote(system: SystemName, body: PromoteIn, ws: WS, who: Who):
    """Make a release active in an environment (or start a canary or shadow); audited."""
    who.may_change(system)
    with acting_as(who.actor):
        done = ws.promote(system, body.release, body.env, body.reason, canary=body.canary,
                          shadow=body.shadow, force=body.force)
    if getattr(done, "state", None) == "pending":  # an approval policy holds it
        return JSONResponse(status_code=202, content={
            "changed": False, "deployment": None, "approval": jsonable_encoder(done.to_dict())})
    return {"changed": done is not None, "deployment": done.to_dict() if done else None}


@router.post("/systems/{system}/rollback", response_model=DeploymentChange,
             tags=["environments"])
def rollback(system: SystemName, body: RollbackIn, ws: WS, who: Who):
    """Go back to the previous release (or ``to``) in an environment; audited."""
    who.may_change(system)
    with acting_as(who.actor):
        done = ws.rollback(system, body.env, body.to, body.reason, force=body.force)
    return {"changed": True, "deployment": done.to_dict()}


# --- calls and metrics --------------------------------------------------------------------


@router.get("/calls", response_model=list[CallOut], tags=["calls"])
def list_calls(
    ws: WS,
    system: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None,
    env: Env = None,
    release: Annotated[str | None, Query(pattern=REF_PATTERN)] = None,
    model: Annotated[str | None, Query(pattern=TEXT_PATTERN)] = None,
    status: Literal["ok", "error"] | None = None,
    since: Since = None,
    until: Since = None,
    q: Annotated[str | None, Query(pattern=TEXT_PATTERN, description=(
        "Text the stored request, response or error contains (case-insensitive), "
        "searched in the newest 20,000 calls the other filters keep: narrow since/until "
        "to search older ones."))] = None,
    limit: Limit = 50,
):
    """Recorded calls, newest first, filtered; ``q`` searches what the logging mode stored."""
    found = ws.calls(system=system, env=env, release=release and release.lower(),
                     model=model, status=status, since=as_utc(since), until=as_utc(until),
                     text=q, limit=limit)
    return [c.to_dict() for c in found]


@router.get("/calls/{ref}", response_model=CallDetail, tags=["calls"])
def show_call(ref: RefPath, ws: WS):
    """One call in full: what its logging mode stored, attempts, fallback, cost."""
    return ws.call(ref).to_dict()


@router.post("/calls/{ref}/flag", response_model=FlagOut, tags=["calls"])
def flag_call(ref: RefPath, body: FlagIn, ws: WS, who: Who):
    """Flag a call for human review (a user says the answer was wrong): it always joins
    the review sample of its week. Audited as the caller; flagging again changes nothing."""
    found = ws.call(ref)
    who.may_change(found.system)
    with acting_as(who.actor):
        made, new = ws.flag(found.id, body.reason)
    return {**made.to_dict(), "new": new}


@router.get("/systems/{system}/quality/releases", response_model=list[ReleaseQualityOut],
            tags=["quality"])
def quality_by_release(system: SystemName, ws: WS, window: Window = "7d"):
    """quality_score per release: each sampled scorer's mean and passes over the window."""
    return [q.to_dict() for q in ws.quality_by_release(system, window=_window(window))]


@router.get("/systems/{system}/quality/weekly", response_model=WeeklyQualityOut,
            tags=["quality"])
def quality_weekly(system: SystemName, ws: WS,
                   weeks: Annotated[int, Query(ge=1, le=104)] = 8):
    """The weekly quality score (people's, else the sampled scorers'), its Wilson 95%
    interval and trend, oldest week first."""
    return {"system": system, "weeks": [w.to_dict() for w in ws.quality_weekly(system,
                                                                              weeks=weeks)]}


GROUPS = Literal["system", "env", "release", "model", "outcome", "user", "tag"]


@router.get("/metrics", response_model=list[MetricRowOut], tags=["metrics"])
def metrics(
    ws: WS,
    window: Window = "24h",
    by: Annotated[list[GROUPS], Query(max_length=4)] = [],  # noqa: B006 - FastAPI copies it
    system: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None,
    env: Env = None,
    tag: Annotated[str | None, Query(pattern=TEXT_PATTERN)] = None,
):
    """Calls, errors, p50/p95/p99 latency, tokens and cost over a window, grouped."""
    rows = ws.metrics(window=_window(window), by=tuple(dict.fromkeys(by)), system=system,
                      env=env, tag=tag)
    return [r.to_dict() for r in rows]


@router.get("/metrics/series", response_model=SeriesOut, tags=["metrics"])
def metric_series(
    ws: WS,
    window: Window = "24h",
    system: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None,
    env: Env = None,
):
    """The same metrics per step over a window (at most 200 points): a chart's data."""
    found = ws.metric_series(window=_window(window), system=system, env=env)
    return {"start": found.start, "end": found.end,
            "step_seconds": int(found.step.total_seconds()),
            "points": [p.to_dict() for p in found.points]}


# --- drift, alerts, audit -------------------------------------------------------------------


@router.get("/systems/{system}/drift", response_model=list[DriftResultOut], tags=["drift"])
def drift_results(system: SystemName, ws: WS, env: Env = None, limit: Limit = 20):
    """Stored drift checks of a system, newest first."""
    ws.get_system(system)  # an unknown system is a 404, not an empty list
    return [r.to_dict() for r in ws.drift_history(system, env, limit)]


@router.get("/alerts/states", response_model=list[AlertStateOut], tags=["alerts"])
def alert_states(ws: WS):
    """The current state of every alert rule per system and environment."""
    return [s.to_dict() for s in ws.alert_states()]


@router.get("/alerts/events", response_model=list[AlertEventOut], tags=["alerts"])
def alert_events(
    ws: WS,
    rule: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None,
    system: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None,
    since: Since = None,
    limit: Limit = 50,
):
    """Firing and resolved events, newest first."""
    found = ws.alert_events(rule=rule, system=system, since=as_utc(since), limit=limit)
    return [{**e.__dict__, "document": e.document} for e in found]


@router.get("/audit", response_model=list[AuditEntryOut], tags=["audit"])
def audit_log(
    ws: WS,
    system: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None,
    action: Annotated[str | None, Query(pattern=r"^[a-z_.]{1,100}$")] = None,
    since: Since = None,
    limit: Limit = 100,
):
    """The newest ``limit`` audit entries, oldest first (as the chain runs)."""
    found = ws.audit_log(system=system, since=as_utc(since), action=action, limit=limit)
    return [e.to_dict() for e in found]


@router.get("/audit/verify", response_model=ChainReportOut, tags=["audit"])
def verify_audit(ws: WS):
    """Recompute the audit hash chain: ``ok`` false names the first entry that breaks it."""
    return ws.verify_audit().__dict__
