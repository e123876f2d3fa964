"""The dashboard: server-rendered pages (Jinja2), HTMX for partial updates, uPlot charts.

Every page works without JavaScript (filters are plain GET forms, windows
plain links); HTMX only swaps the part that changed. Every form that changes
something carries the CSRF token.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from trimtab.actor import acting_as, current_actor
from trimtab.store.calls import SEARCH_SCAN
from trimtab.web.api import WINDOW_PATTERN, WS, RefPath, SystemName, as_utc
from trimtab.web.schemas import NAME_PATTERN, NO_NUL, REF_PATTERN
from trimtab.web.security import (
    CSRF_FIELD,
    SESSION_COOKIE,
    SESSION_SECONDS,
    Caller,
    LoginRequired,
    check_csrf,
    set_cookie,
)
from trimtab.web.views import call_filters, portfolio, render, system_page


async def viewer(request: Request) -> Caller:
    """The signed-in caller; a browser without a session is sent to /login."""
    found = await request.app.state.guard.caller(request)
    if found is None:
        raise LoginRequired
    request.state.caller = found
    return found


Who = Annotated[Caller, Depends(viewer)]
Csrf = Annotated[str, Form(alias=CSRF_FIELD, max_length=200)]
Reason = Annotated[str, Form(max_length=2000, pattern=NO_NUL)]

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)


@router.get("/")
def portfolio_page(request: Request, ws: WS, who: Who):
    with ws.store.reading():  # the page's reads share one connection (Store.reading)
        context = portfolio(ws)
    return render(request, "portfolio.html", context)


@router.get("/systems/{system}")
def system_view(request: Request, system: SystemName, ws: WS, who: Who,
                window: Annotated[str, Query(pattern=WINDOW_PATTERN)] = "24h",
                tag: Annotated[str | None, Query(pattern=r"^[^\x00-\x1f\x7f]{1,100}$")] = None):
    with ws.store.reading():  # the page's reads share one connection (Store.reading)
        context = system_page(ws, system, window, tag=tag, reviewer=who.actor or current_actor())
    return render(request, "system.html", context)


@router.post("/systems/{system}/promote")
def promote_form(request: Request, system: SystemName, ws: WS, who: Who, csrf: Csrf,
                 release: Annotated[str, Form(pattern=REF_PATTERN)],
                 env: Annotated[str, Form(pattern=NAME_PATTERN)],
                 reason: Reason = ""):
    check_csrf(request, csrf)
    who.may_change(system)
    with acting_as(who.actor):
        ws.promote(system, release, env, reason)
    return RedirectResponse(f"/systems/{system}", 303)


@router.post("/systems/{system}/rollback")
def rollback_form(request: Request, system: SystemName, ws: WS, who: Who, csrf: Csrf,
                  env: Annotated[str, Form(pattern=NAME_PATTERN)],
                  reason: Reason = ""):
    check_csrf(request, csrf)
    who.may_change(system)
    with acting_as(who.actor):
        ws.rollback(system, env, None, reason)
    return RedirectResponse(f"/systems/{system}", 303)


def _moment(value: str | None, name: str) -> datetime | None:
    """A filter's time as a browser's datetime-local sends it (UTC), or ISO."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise HTTPException(400, f"{name} {value!r} is not a time. Fix: use "
                            "2026-11-01T09:00 (UTC).") from None
    return as_utc(moment)


Filter = Annotated[str | None, Query(pattern=r"^[^\x00-\x1f\x7f]{0,200}$")]


@router.get("/releases/{old}/diff/{new}")
def diff_page(request: Request, old: RefPath, new: RefPath, ws: WS, who: Who):
    before, after, changes = ws.diff(old, new)
    return render(request, "diff.html", {"old": before, "new": after, "changes": changes})


@router.get("/calls")
def calls_page(request: Request, ws: WS, who: Who, system: Filter = None, env: Filter = None,
               release: Filter = None, model: Filter = None, status: Filter = None,
               since: Filter = None, until: Filter = None, q: Filter = None,
               limit: Annotated[int, Query(ge=1, le=500)] = 100):
    if status and status not in ("ok", "error"):
        raise HTTPException(400, f"status {status!r}: choose ok or error.")
    # A form sends an empty field for "any".
    chosen = {"system": system or None, "env": env or None,
              "release": release.strip().lower() if release else None,
              "model": model or None, "status": status or None}
    found = ws.calls(**chosen, since=_moment(since, "since"), until=_moment(until, "until"),
                     text=q or None, limit=limit)
    return render(request, "calls.html", {
        "calls": found, "scan": SEARCH_SCAN,
        "chosen": {**chosen, "since": since or "", "until": until or "", "q": q or "",
                   "limit": limit}, **call_filters(ws)})


@router.get("/calls/{ref}")
def call_page(request: Request, ref: RefPath, ws: WS, who: Who):
    call = ws.call(ref)
    return render(request, "call.html", {"call": call, "data": call.to_dict(),
                                         "scores": ws.scores(call.id)})


@router.get("/audit")
def audit_page(request: Request, ws: WS, who: Who, system: Filter = None,
               action: Filter = None, limit: Annotated[int, Query(ge=1, le=1000)] = 200):
    entries = ws.audit_log(system=system or None, action=action or None, limit=limit)
    return render(request, "audit.html", {
        "report": ws.verify_audit(), "entries": list(reversed(entries)),
        "chosen": {"system": system or "", "action": action or "", "limit": limit}})


# --- signing in -----------------------------------------------------------------------------


def _local_target(target: str | None) -> str:
    """Only a path on this site: never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/login")
async def login_page(request: Request, next: Filter = None):
    if await request.app.state.guard.local():
        return RedirectResponse(_local_target(next), 303)
    return render(request, "login.html", {"next": _local_target(next), "error": None})


@router.post("/login")
async def login(request: Request, csrf: Csrf,
                key: Annotated[str, Form(pattern=r"^[\x21-\x7e]{1,500}$")],
                next: Annotated[str, Form(max_length=2000)] = "/"):
    check_csrf(request, csrf)
    guard = request.app.state.guard
    if await guard.local():
        return RedirectResponse(_local_target(next), 303)
    try:
        found = await guard.credential(key)
    except HTTPException as exc:  # said on the form, not as a bare error page
        return render(request, "login.html", {"next": _local_target(next),
                                              "error": exc.detail}, status=exc.status_code)
    response = RedirectResponse(_local_target(next), 303)
    set_cookie(response, request, SESSION_COOKIE, await guard.start_session(found),
               max_age=SESSION_SECONDS)
    return response


@router.post("/logout")
async def logout(request: Request, csrf: Csrf):
    """Sign out: the session ends on the server (a copied cookie is refused from now
    on, by every worker), and the browser forgets it."""
    check_csrf(request, csrf)
    await request.app.state.guard.end_session(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login", 303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
