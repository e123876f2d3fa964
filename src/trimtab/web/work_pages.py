"""The pages people act on: the review queue, the approvals inbox, the incidents.

Each change goes through the Workspace method the CLI calls, as the signed-in
caller (``acting_as``), so the same rules hold whatever the front end: the
reviewer role to review (one review per reviewer and call, the reviewer
recorded), the approver role to approve or reject (not one's own request,
each approver once, only the release requested), the operator role for an
incident note. A refusal is the domain's message on an error page, except the review
form's own mistakes, said on the form with what was typed.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from trimtab.actor import acting_as, current_actor
from trimtab.errors import NotFound, StoreUnavailable, TrimtabError
from trimtab.govern.roles import PermissionDenied
from trimtab.quality.review import MAX_LABEL, MAX_LABELS
from trimtab.web.api import WS, RefPath, SystemName
from trimtab.web.pages import Csrf, Reason, Who
from trimtab.web.schemas import NO_NUL, REF_PATTERN
from trimtab.web.security import check_csrf
from trimtab.web.views import render
from trimtab.web.work_views import approvals_page, incidents_page, review_page, review_systems

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

Labels = Annotated[str, Form(max_length=500, pattern=r"^[^\x00-\x1f\x7f]*$")]


def _labels(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


# --- the review queue ---------------------------------------------------------------------------


@router.get("/reviews")
def reviews_page(request: Request, ws: WS, who: Who):
    return render(request, "reviews.html", {"rows": review_systems(ws, who.actor or _me(ws))})


@router.get("/reviews/{system}")
def review_next_page(request: Request, system: SystemName, ws: WS, who: Who,
                     saved: Annotated[str | None, Query(pattern=REF_PATTERN)] = None):
    with acting_as(who.actor):
        context = review_page(ws, system, who.actor or _me(ws))
    return render(request, "review.html", {**context, "saved": saved})


@router.post("/reviews/{system}")
def review_submit(request: Request, system: SystemName, ws: WS, who: Who, csrf: Csrf,
                  call: Annotated[str, Form(pattern=REF_PATTERN)],
                  verdict: Annotated[str, Form(pattern=r"^(pass|fail)$")],
                  score: Annotated[int | None, Form(ge=1, le=5)] = None,
                  labels: Labels = "",
                  comment: Annotated[str, Form(max_length=2000, pattern=NO_NUL)] = ""):
    check_csrf(request, csrf)
    who.may_change(system)
    # The call's own system is the one changed: a key limited to the URL's system must
    # not review another system's call by naming it in the form (nor learn its system).
    target = ws.call(call)
    if target.system != system:
        who.may_change(target.system)
        raise HTTPException(400, f"call: {target.id} is a call of {target.system}, not "
                            f"{system}. Fix: review it at /reviews/{target.system}.")
    problem = _labels_problem(_labels(labels))
    if problem is None:
        try:
            with acting_as(who.actor):
                done = ws.review(target.id, verdict, score=score, labels=_labels(labels),
                                 comment=comment.strip() or None)
        except (PermissionDenied, NotFound, StoreUnavailable):
            raise  # audited refusals and outages keep their own pages
        except TrimtabError as exc:  # e.g. reviewed already (a second tab)
            problem = str(exc)
        else:
            return RedirectResponse(f"/reviews/{system}?saved={done.call_id}", 303)
    # Said on the form, with what was typed (an error page lost the labels: the field is
    # autocomplete=off, so the browser's back button does not restore it).
    with acting_as(who.actor):
        context = review_page(ws, system, who.actor or _me(ws))
    same = context["pending"] is not None and context["pending"].call.id == target.id
    typed = {"verdict": verdict, "score": score, "labels": labels, "comment": comment}
    return render(request, "review.html", {**context, "saved": None, "problem": problem,
                                           "typed": typed if same else {}}, status=400)


def _labels_problem(labels: list[str]) -> str | None:
    """The form's words for labels a review may not hold (``ws.review`` names the CLI's
    --label)."""
    if len(labels) > MAX_LABELS:
        return (f"Labels: {len(labels)} labels, more than {MAX_LABELS}. Fix: keep the ones "
                "to count reviews by.")
    for label in labels:
        if len(label) > MAX_LABEL:
            shown = f"{label[:40]!r}{'…' if len(label) > 40 else ''}"
            return (f"Labels: {shown} has {len(label):,} characters, more than {MAX_LABEL}. "
                    "Fix: a short tag; say more in the comment.")
    return None


@router.post("/reviews/{system}/sample")
def review_sample(request: Request, system: SystemName, ws: WS, who: Who, csrf: Csrf):
    check_csrf(request, csrf)
    who.may_change(system)
    with acting_as(who.actor):
        ws.review_sample(system)
    return RedirectResponse(f"/reviews/{system}", 303)


def _me(ws) -> str:
    """Who acts in local mode: the person running the server."""
    return current_actor()


# --- the approvals inbox ---------------------------------------------------------------------


@router.get("/approvals")
def approvals_inbox(request: Request, ws: WS, who: Who,
                    all: Annotated[bool, Query()] = False,  # noqa: A002 - the query's name
                    done: Annotated[str | None, Query(pattern=REF_PATTERN)] = None):
    context = approvals_page(ws, include_closed=all)
    decided = ws.approval(done) if done else None
    return render(request, "approvals.html", {**context, "decided": decided})


@router.post("/approvals/{ref}/approve")
def approve_form(request: Request, ref: RefPath, ws: WS, who: Who,
                 csrf: Csrf, release: Annotated[str, Form(pattern=REF_PATTERN)],
                 comment: Reason = ""):
    check_csrf(request, csrf)
    pending = ws.approval(ref)
    who.may_change(pending.system)
    with acting_as(who.actor):
        done, _ = ws.approve(pending.id, release=release, comment=comment)
    return RedirectResponse(f"/approvals?done={quote(done.id)}", 303)


@router.post("/approvals/{ref}/reject")
def reject_form(request: Request, ref: RefPath, ws: WS, who: Who,
                csrf: Csrf, reason: Reason = ""):
    check_csrf(request, csrf)
    pending = ws.approval(ref)
    who.may_change(pending.system)
    with acting_as(who.actor):
        done = ws.reject(pending.id, reason=reason)
    return RedirectResponse(f"/approvals?done={quote(done.id)}", 303)


# --- incidents ------------------------------------------------------------------------------


@router.get("/incidents")
def incidents_list(request: Request, ws: WS, who: Who,
                   all: Annotated[bool, Query()] = False):  # noqa: A002 - the query's name
    return render(request, "incidents.html", incidents_page(ws, include_closed=all))


@router.post("/incidents/{ref}/notes")
def incident_note(request: Request, ref: RefPath, ws: WS, who: Who,
                  csrf: Csrf, text: Annotated[str, Form(min_length=1, max_length=2000,
                                                        pattern=NO_NUL)]):
    check_csrf(request, csrf)
    incident = ws.incident(ref)
    who.may_change(incident.system)
    with acting_as(who.actor):
        ws.note_incident(incident.id, text)
    return RedirectResponse(f"/incidents#incident-{incident.id}", 303)
