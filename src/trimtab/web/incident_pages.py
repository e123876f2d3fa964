"""The incident page, its report drafts, and the freeze and legal-hold forms.

An incident's page puts side by side what someone answering an authority needs:
the deadlines, the notes, the freeze pinning the system's releases, the legal
holds keeping its calls, the reconstructed timeline around the moment the team
became aware, and links to the report drafts. The forms go through the
Workspace methods the CLI calls, as the signed-in caller (``acting_as``), so the
govern roles hold whatever the front end: the operator freezes, an approver
lifts a freeze, an admin releases a hold; a refusal is the domain's message on
an error page.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from trimtab.actor import acting_as
from trimtab.errors import TrimtabError
from trimtab.govern.reports import FORMATS
from trimtab.web.api import WS, RefPath
from trimtab.web.pages import Csrf, Who
from trimtab.web.schemas import NO_NUL
from trimtab.web.security import check_csrf
from trimtab.web.views import render

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

#: The reconstructed timeline on an incident's page: around awareness, this wide.
TIMELINE_WINDOW = timedelta(hours=6)
Required = Annotated[str, Form(min_length=1, max_length=2000, pattern=NO_NUL)]
Format = Literal[FORMATS]  # type: ignore[valid-type] - the regimes' report formats


def incident_page(ws, ref: str) -> dict[str, Any]:
    """One incident with its deadlines, freezes, holds and reconstructed timeline."""
    incident = ws.incident(ref)
    deadlines = [d for d in ws.deadlines(system=incident.system)
                 if d.incident == incident.id] if incident.closed_at is None else []
    freezes = [f for f in ws.freezes(system=incident.system, include_lifted=True)
               if f.incident_id == incident.id]
    holds = [(h, n) for h, n in ws.holds(system=incident.system, include_released=True)
             if h.incident_id == incident.id]
    try:
        timeline = ws.timeline(incident.system, at=incident.aware_at, window=TIMELINE_WINDOW)
    except TrimtabError as exc:  # e.g. the system is no longer registered
        timeline, timeline_problem = None, str(exc)
    else:
        timeline_problem = None
    return {"i": incident, "deadlines": deadlines, "freezes": freezes, "holds": holds,
            "events": events(timeline) if timeline else [],
            "standing": [f for f in freezes if f.lifted_at is None],
            "active_holds": [h for h, _ in holds if h.active],
            "timeline": timeline, "timeline_problem": timeline_problem,
            "formats": FORMATS, "now": datetime.now(UTC)}


def events(timeline) -> list[dict[str, Any]]:
    """The timeline's deployments, approval steps, other audited changes and alert
    events as one list in time order (the JSON keeps them apart)."""
    rows = [{"time": d["time"], "what": f"{d['action']} {d['env']}"
             + (f" {d['percent']}%" if d["percent"] else ""), "release": d["release"],
             "who": d["actor"], "details": d["reason"] or ""} for d in timeline.deployments]
    rows += [{"time": e["time"], "what": e["action"], "who": e["actor"],
              "details": e["object"]} for e in timeline.approvals + timeline.changes]
    rows += [{"time": e["time"], "what": f"alert {e['rule']} {e['state']}", "who": e["env"],
              "details": e["summary"] or ""} for e in timeline.alerts]
    return sorted(rows, key=lambda r: r["time"])


@router.get("/incidents/{ref}")
def incident_view(request: Request, ref: RefPath, ws: WS, who: Who):
    return render(request, "incident.html", incident_page(ws, ref))


@router.get("/incidents/{ref}/report/{fmt}")
def report_view(request: Request, ref: RefPath,
                fmt: Annotated[Format, Path()], ws: WS, who: Who):
    drafted = ws.incident_report(ref, fmt)
    return render(request, "report.html", {"report": drafted, "markdown": drafted.markdown(),
                                           "formats": FORMATS})


@router.post("/incidents/{ref}/freeze")
def freeze_form(request: Request, ref: RefPath, ws: WS, who: Who, csrf: Csrf):
    return _change(request, csrf, ws, who, ref, ws.freeze_incident)


@router.post("/incidents/{ref}/unfreeze")
def unfreeze_form(request: Request, ref: RefPath, ws: WS, who: Who, csrf: Csrf,
                  reason: Required):
    return _change(request, csrf, ws, who, ref,
                   lambda incident: ws.unfreeze_incident(incident, reason=reason))


@router.post("/incidents/{ref}/release-hold")
def release_hold_form(request: Request, ref: RefPath, ws: WS, who: Who, csrf: Csrf,
                      reason: Required):
    return _change(request, csrf, ws, who, ref,
                   lambda incident: ws.release_holds(incident, reason=reason))


def _change(request: Request, csrf: str, ws, who, ref: str,
            change: Callable[[str], object]) -> RedirectResponse:
    """What every form here does around its one change: the CSRF token first, then
    the caller's reach over the incident's system, then the change as the caller
    (the Workspace method checks the govern role), then back to the incident."""
    check_csrf(request, csrf)
    incident = ws.incident(ref)
    who.may_change(incident.system)
    with acting_as(who.actor):
        change(incident.id)
    return RedirectResponse(f"/incidents/{incident.id}", 303)
