"""What the review queue, the approvals inbox, the incidents page and the system
page's quality and maturity panels show, gathered from Workspace methods.

Presentation only, as in views.py: which numbers sit side by side. Every rule
(who may review or approve, one review per reviewer and call, the approval
quorum) is the domain's, applied by the same Workspace methods the CLI calls.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from trimtab.errors import TrimtabError

if TYPE_CHECKING:
    from trimtab.store.calls import Call
    from trimtab.workspace import Workspace

#: The newest calls the cost-by-tag panel looks at for tag keys to offer.
TAG_PROBE = 50
#: Eval runs and documents a system page lists.
EVAL_RUNS_SHOWN = 10
DOCUMENTS_SHOWN = 20


def due(moment: datetime | None, now: datetime | None = None) -> str:
    """'due in 3h 20m' or 'overdue by 2d 4h': a deadline as a person reads it."""
    if moment is None:
        return ""
    seconds = int((moment - (now or datetime.now(UTC))).total_seconds())
    text = span(abs(seconds))
    return f"due in {text}" if seconds >= 0 else f"overdue by {text}"


def span(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m"


def conversation(call: Call) -> list[tuple[str, str]] | None:
    """The call's messages as (role, text), the system prompt left out (as `trimtab
    review next` shows them); None when the request is not chat messages."""
    if not call.request:
        return None
    try:
        request = json.loads(call.request)
    except ValueError:
        return None
    messages = request.get("messages") if isinstance(request, dict) else None
    if not isinstance(messages, list):
        return None
    shown = []
    for m in messages:
        if isinstance(m, dict) and m.get("role") != "system":
            content = m.get("content")
            shown.append((str(m.get("role")), content if isinstance(content, str)
                          else json.dumps(content, ensure_ascii=False)))
    return shown


# --- the review queue -------------------------------------------------------------------------


def review_systems(ws: Workspace, reviewer: str | None) -> list[dict[str, Any]]:
    """Every declared system with its newest sample's progress (by anyone, by me)."""
    rows = []
    registered = {s.name for s in ws.systems()}  # a declared system has a page once released
    for name in declared(ws):
        progress = ws.review_progress(name, reviewer=reviewer, weeks=1)
        rows.append({"system": name, "progress": progress, "registered": name in registered})
    return rows


def review_page(ws: Workspace, system: str, reviewer: str | None) -> dict[str, Any]:
    """The next call this reviewer has not reviewed, with the sample's progress."""
    progress = ws.review_progress(system, reviewer=reviewer, weeks=1)
    pending = ws.review_next(system) if progress.sample is not None else None
    return {"system": system, "progress": progress, "pending": pending,
            # Other reviewers' verdicts stay hidden: each judges alone (their agreement
            # is measured).
            "messages": conversation(pending.call) if pending else None}


# --- approvals and incidents ------------------------------------------------------------------


def approvals_page(ws: Workspace, include_closed: bool) -> dict[str, Any]:
    """Requests (pending first), each with the release now active where it would go."""
    found = ws.approvals(include_closed=include_closed)
    found.sort(key=lambda r: (r.state not in ("pending", "approved"), r.requested_at),
               reverse=False)
    active = {}
    for r in found:
        key = (r.system, r.env)
        if key not in active:
            try:
                active[key] = ws.active_release(r.system, r.env)
            except TrimtabError:  # a system no longer registered
                active[key] = None
    return {"requests": found, "active": active, "include_closed": include_closed}


def incidents_page(ws: Workspace, include_closed: bool) -> dict[str, Any]:
    """Incidents, open first, each with its regulatory deadlines and notes timeline."""
    found = ws.incidents(include_closed=include_closed)
    deadlines: dict[str, list] = defaultdict(list)
    for deadline in ws.deadlines():
        deadlines[deadline.incident].append(deadline)
    found.sort(key=lambda i: (i.closed_at is not None, i.aware_at))
    return {"incidents": found, "deadlines": deadlines, "include_closed": include_closed,
            "frozen": {f.incident_id for f in ws.freezes()}, "now": datetime.now(UTC)}


# --- the system page's quality, cost and maturity panels --------------------------------------


def declared(ws: Workspace) -> list[str]:
    """The systems the project file declares (registered ones where there is no file)."""
    if ws.project_file is not None:
        return list(ws.project.spec.systems)
    return [s.name for s in ws.systems()]


def tag_keys(ws: Workspace, system: str) -> list[str]:
    """Tag keys on the system's newest calls: what cost can be broken down by."""
    keys: dict[str, None] = {}
    for call in ws.calls(system=system, limit=TAG_PROBE):
        if call.tags:
            try:
                keys.update(dict.fromkeys(json.loads(call.tags)))
            except ValueError:
                continue
    return sorted(keys)


def cost_panels(ws: Workspace, system: str, window: timedelta,
                tag: str | None) -> dict[str, Any]:
    """Cost over the window by model, by user and by one tag's values: each the top
    groups and "(all others)", summed by the database (no latency is shown here)."""
    keys = tag_keys(ws, system)
    tag = tag or (keys[0] if keys else None)
    by_tag = ws.spend(system, window=window, by="tag", tag=tag) if tag else []
    return {
        "by_model": ws.spend(system, window=window, by="model"),
        "by_user": ws.spend(system, window=window, by="user"),
        "by_tag": by_tag, "tag": tag, "tag_keys": keys,
    }


def quality_panels(ws: Workspace, system: str, reviewer: str | None) -> dict[str, Any]:
    """Eval runs with the environments each suite's gate guards, review progress and the
    weekly quality trend, the maturity checklist, and the documents generated."""
    declared_here = ws.project_file is not None and system in ws.project.spec.systems
    if not declared_here:
        return {"declared": False}
    suites = ws.project.system(system).evals
    runs = ws.eval_runs(system, limit=EVAL_RUNS_SHOWN)
    return {
        "declared": True,
        "eval_runs": runs,
        "gates": {name: list(s.gate.environments) for name, s in suites.items()},
        "review": ws.review_progress(system, reviewer=reviewer),
        "review_stats": ws.review_stats(system),
        "assessment": ws.assess(system, save=False, cached=True),
        "documents": ws.document_records(system)[:DOCUMENTS_SHOWN],
    }
