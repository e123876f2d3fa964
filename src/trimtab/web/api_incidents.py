"""The JSON API's freezes, legal holds, incident reports and timelines.

Thin, as in api.py: each handler calls the Workspace method the CLI's
``trimtab incident freeze|unfreeze|release-hold|holds|report`` and ``trimtab
timeline`` call, as the authenticated caller (``acting_as``), so the govern
roles apply where the change is made: the operator freezes, an approver lifts
a freeze, an admin releases a legal hold (and only an admin overrides a freeze,
with ``force`` on promote and rollback). A freeze already standing, or nothing
left to lift or release, is a 409 that names the incident.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query

from trimtab.actor import acting_as
from trimtab.govern.reports import FORMATS
from trimtab.web.api import WINDOW_PATTERN, WS, RefPath, SystemName, Who, as_utc, caller
from trimtab.web.incident_schemas import (
    FreezeIn,
    FreezeOut,
    FrozenOut,
    HoldOut,
    ReasonIn,
    ReportOut,
    TimelineOut,
)
from trimtab.web.schemas import NAME_PATTERN, REF_PATTERN, Problem

router = APIRouter(
    dependencies=[Depends(caller)],
    responses={code: {"model": Problem} for code in (400, 401, 403, 404, 409, 503)},
)
SystemFilter = Annotated[str | None, Query(pattern=NAME_PATTERN, description="Only this system.")]
IncidentFilter = Annotated[str | None, Query(pattern=REF_PATTERN,
                                             description="Only this incident's (an id).")]
All = Annotated[bool, Query(alias="all", description="Also lifted freezes / released holds.")]
Format = Literal[FORMATS]  # type: ignore[valid-type] - the regimes' report formats
TimelineWindow = Annotated[str, Query(pattern=WINDOW_PATTERN, description=(
    "How much time around ``at``, half before and half after (at most 31d)."))]
Samples = Annotated[int, Query(ge=0, le=20, description="Calls nearest ``at`` to include.")]


def _matches(incident_id: str | None, wanted: str | None) -> bool:
    return wanted is None or (incident_id or "").startswith(wanted.lower())


# --- freezes and legal holds -----------------------------------------------------------------


@router.get("/freezes", response_model=list[FreezeOut], tags=["incidents"])
def freezes(ws: WS, system: SystemFilter = None, incident: IncidentFilter = None,
            include_lifted: All = False):
    """Standing freezes (with ``all``, lifted ones too): each pins a system's releases
    until an approver lifts it."""
    return [f.to_dict() for f in ws.freezes(system=system, include_lifted=include_lifted)
            if _matches(f.incident_id, incident)]


@router.get("/holds", response_model=list[HoldOut], tags=["incidents"])
def holds(ws: WS, system: SystemFilter = None, incident: IncidentFilter = None,
          include_released: All = False):
    """Active legal holds (with ``all``, released ones too), each with how many calls it
    keeps: `trimtab prune` never deletes them."""
    return [h.to_dict() | {"calls": n}
            for h, n in ws.holds(system=system, include_released=include_released)
            if _matches(h.incident_id, incident)]


@router.post("/incidents/{ref}/freeze", response_model=FrozenOut, tags=["incidents"])
def freeze(ref: RefPath, body: FreezeIn, ws: WS, who: Who):
    """Freeze an open incident's system: its releases are pinned (promote and rollback
    refused, 409, without an admin's ``force``) and its calls go on legal hold. The
    operator role; audited; 409 when the incident already froze it or is closed."""
    found = ws.incident(ref)
    who.may_change(found.system)
    with acting_as(who.actor):
        made, hold = ws.freeze_incident(found.id, hold_since=as_utc(body.hold_since))
    return {"freeze": made.to_dict(), "hold": hold.to_dict()}


@router.post("/incidents/{ref}/unfreeze", response_model=list[FreezeOut], tags=["incidents"])
def unfreeze(ref: RefPath, body: ReasonIn, ws: WS, who: Who):
    """Lift an incident's freeze so releases move again; its legal hold stays. The
    approver role; audited with the reason; 409 when no freeze of it stands."""
    found = ws.incident(ref)
    who.may_change(found.system)
    with acting_as(who.actor):
        return [f.to_dict() for f in ws.unfreeze_incident(found.id, reason=body.reason)]


@router.post("/incidents/{ref}/release-hold", response_model=list[HoldOut],
             tags=["incidents"])
def release_hold(ref: RefPath, body: ReasonIn, ws: WS, who: Who):
    """Release an incident's legal holds: its calls follow retention again. The admin
    role; audited with the reason; 409 when it has no active hold."""
    found = ws.incident(ref)
    who.may_change(found.system)
    with acting_as(who.actor):
        return [h.to_dict() for h in ws.release_holds(found.id, reason=body.reason)]


# --- reports and timelines -------------------------------------------------------------------


@router.get("/incidents/{ref}/report/{fmt}", response_model=ReportOut, tags=["incidents"])
def report(ref: RefPath, fmt: Annotated[Format, Path(description="The report to draft.")],
           ws: WS):
    """Draft a regulatory report (NIS2 early warning, notification or final report; AI Act
    serious incident) from recorded evidence, each field with its source and each gap
    marked, never invented. Reads only: trimtab sends nothing."""
    drafted = ws.incident_report(ref, fmt)
    return {**drafted.to_dict(), "markdown": drafted.markdown()}


@router.get("/incidents/{ref}/timeline", response_model=TimelineOut, tags=["incidents"])
def incident_timeline(ref: RefPath, ws: WS,
                      at: Annotated[datetime | None, Query(description=(
                          "The moment (ISO time; UTC when no zone is given). Default: when "
                          "the team became aware."))] = None,
                      window: TimelineWindow = "6h", samples: Samples = 5):
    """What ran, what changed and what it produced around the incident: `trimtab
    timeline` for its system, at the moment of awareness unless ``at`` says otherwise."""
    found = ws.incident(ref)
    return _timeline(ws, found.system, as_utc(at) or found.aware_at, window, samples)


@router.get("/systems/{system}/timeline", response_model=TimelineOut, tags=["incidents"])
def system_timeline(system: SystemName, ws: WS,
                    at: Annotated[datetime, Query(description=(
                        "The moment (ISO time; UTC when no zone is given)."))],
                    window: TimelineWindow = "6h", samples: Samples = 5):
    """What ran, what changed and what it produced around a moment (`trimtab timeline`):
    active releases and their diffs, deployments, approvals, alerts, other audited
    changes, metrics before and after, the nearest calls. Every list is bounded."""
    return _timeline(ws, system, as_utc(at), window, samples)


def _timeline(ws, system: str, at: datetime | None, window: str, samples: int) -> dict:
    from trimtab.project.alert_rules import parse_duration

    assert at is not None
    try:
        found = ws.timeline(system, at=at, window=parse_duration(window), samples=samples)
    except OverflowError:  # a window reaching past year 1 or 9999
        raise HTTPException(400, f"at {at.isoformat()} with window {window}: the window "
                            "runs out of the calendar. Fix: choose a moment in this era.") from None
    return found.to_dict()
