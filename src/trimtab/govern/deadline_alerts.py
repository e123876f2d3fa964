"""Alerts before reporting deadlines: an open incident's deadline coming within
``incidents.warn_before`` (12h) raises one ``incident-deadline`` alert event,
sent through the project's alert channels (``incidents.channels``) by the same
outbox, retries and history as any alert rule (observe/monitor.py delivers it).

One event per deadline, ever: the monitor runs this every cycle, and an event
already stored for (incident, regime, deadline) is not raised again. A deadline
already past when first seen (the monitor was down) raises at once, as
overdue, with critical severity. Closing the incident stops further alerts.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from trimtab.govern.incidents import Deadline, due
from trimtab.project.alert_rules import parse_duration
from trimtab.project.models import Project
from trimtab.store import Store
from trimtab.store import alerts as alert_store
from trimtab.store.alerts import AlertEvent

RULE = "incident-deadline"
METRIC = "incident_deadline"
#: How far back an earlier event counts as "already raised" (the longest deadline
#: runs a month past a 72h notification; a year is ample).
REMEMBER = timedelta(days=400)

log = logging.getLogger("trimtab.observe.alerts")


def raise_due(store: Store, project: Project, *, actor: str,
              now: datetime | None = None) -> list[AlertEvent]:
    """Store (with audit entry and one delivery per channel) an alert for each
    deadline now within the lead time and not alerted yet; returns them."""
    now = now or datetime.now(UTC)
    lead = parse_duration(project.spec.incidents.warn_before)
    near = [d for d in due(store) if d.due - lead <= now]
    if not near:
        return []
    raised = []
    with store.write() as conn:  # the change lock: two monitors never raise one twice
        seen = {_key(e.document) for e in alert_store.events(
            conn, rule=RULE, since=now - REMEMBER, limit=None)}
        for deadline in near:
            if (deadline.incident, deadline.regime, deadline.name) in seen:
                continue
            raised.append(alert_store.add_event(
                conn, document=document(project, deadline, now=now, lead=lead),
                targets=list(project.spec.incidents.channels), actor=actor))
    for event in raised:  # the monitor's log shows it even where no channel is named
        log.warning("alert %s firing for %s: %s", RULE, event.system,
                    event.document["summary"])
    return raised


def _key(document: dict[str, Any]) -> tuple[str, str, str]:
    return document.get("incident", ""), document.get("regime", ""), document.get("deadline", "")


def _left(seconds: float) -> str:
    seconds = int(abs(seconds))
    if seconds >= 86400:
        return f"{seconds // 86400}d {seconds % 86400 // 3600}h"
    return f"{seconds // 3600}h {seconds % 3600 // 60}m"


def document(project: Project, deadline: Deadline, *, now: datetime,
             lead: timedelta) -> dict[str, Any]:
    """The JSON every channel receives: the alert document's fields (so every
    channel, webhook or plugin, reads it as it reads a rule's alert) plus
    ``incident``, ``regime``, ``deadline`` and ``due``."""
    left = (deadline.due - now).total_seconds()
    overdue = left < 0
    when = f"overdue by {_left(left)}" if overdue else f"in {_left(left)}"
    summary = (f"{deadline.system}: {deadline.regime}: {deadline.name} for incident "
               f"{deadline.incident} due {deadline.due:%Y-%m-%d %H:%M} UTC ({when})")
    return {
        "kind": "trimtab.alert", "version": 1, "event_id": None, "test": False,
        "project": project.spec.project, "state": "firing", "rule": RULE,
        "description": "A reporting deadline of an open incident is near: draft the report "
                       "with `trimtab incident report`.",
        "system": deadline.system, "env": None,
        "severity": "critical" if overdue else "warning", "metric": METRIC,
        "value": round(left / 3600, 2), "comparator": "<=",
        "threshold": round(lead.total_seconds() / 3600, 2),
        "window": project.spec.incidents.warn_before, "for": "0", "time": now.isoformat(),
        "active_since": now.isoformat(),
        "reason": "deadline passed" if overdue else "deadline near",
        "detail": f"incident {deadline.incident}, {deadline.regime}", "summary": summary,
        "incident": deadline.incident, "regime": deadline.regime, "deadline": deadline.name,
        "due": deadline.due.isoformat(),
    }
