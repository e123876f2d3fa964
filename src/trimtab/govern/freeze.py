"""Freezing a system for a serious incident, and the legal hold on its calls.

Opening an incident that has a reporting category (an AI Act serious incident,
a NIS2 significant incident, a personal-data breach) or critical severity
freezes its system unless told not to (``freeze=False``); any other incident
freezes when asked (``freeze=True``, or ``trimtab incident freeze`` later).
A freeze does two things in the transaction that opens it:

- pins the system's releases: every promote, canary, shadow and rollback of
  it, from the CLI, the Python API, the HTTP API or an approval applying, is
  refused in the store transaction that would make it (store/freezes.py),
  unless an admin overrides with ``force`` and a reason (audited);
- places a legal hold on the system's calls from ``incidents.hold_before``
  (7 days) before the team became aware, open-ended: ``trimtab prune`` never
  deletes a held call (store/holds.py).

Ending them is explicit and audited: ``unfreeze`` (an approver, with a
reason) lifts the pin; closing the incident fixes the hold's end at the close;
``release_holds`` (an admin, with a reason) releases the hold itself, which
outlives the incident as long as the matter (a complaint, an authority's
request) needs the evidence. An incident closes only once unfrozen.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from trimtab.errors import Conflict, TrimtabError
from trimtab.project.alert_rules import parse_duration
from trimtab.project.models import Project
from trimtab.store import Store
from trimtab.store import deployments as deployment_store
from trimtab.store import freezes as freeze_store
from trimtab.store import holds as hold_store
from trimtab.store import incidents as incident_store
from trimtab.store.freezes import Freeze
from trimtab.store.holds import Hold
from trimtab.store.incidents import Incident

DEFAULT_HOLD_BEFORE = timedelta(days=7)


def serious(incident: Incident) -> bool:
    """Freezes by default: any reporting category applies, or the severity is critical."""
    return bool(incident.categories) or incident.severity == "critical"


def hold_before(project: Project | None) -> timedelta:
    if project is None:
        return DEFAULT_HOLD_BEFORE
    return parse_duration(project.spec.incidents.hold_before)


def freeze_in(conn, incident: Incident, *, since: datetime, actor: str) -> tuple[Freeze, Hold]:
    """Freeze ``incident``'s system and hold its calls from ``since``, in the
    caller's transaction."""
    if incident.closed_at is not None:
        raise Conflict(f"incident {incident.id} is closed; open a new one to freeze "
                           f"{incident.system}.")
    if any(f.lifted_at is None for f in freeze_store.of_incident(conn, incident.id)):
        raise Conflict(f"incident {incident.id} already froze {incident.system}.")
    pinned = {d.env: d.release_id for d in deployment_store.current_all(conn)
              if d.system == incident.system}
    why = f"incident {incident.id} ({incident.severity}): {incident.summary}"
    made = freeze_store.freeze(conn, system=incident.system, pinned=pinned, reason=why,
                               actor=actor, incident_id=incident.id)
    hold = hold_store.place(conn, system=incident.system, since=since, until=None, reason=why,
                            actor=actor, incident_id=incident.id)
    return made, hold


def freeze(store: Store, project: Project | None, ref: str, *, actor: str,
           since: datetime | None = None) -> tuple[Freeze, Hold]:
    """Freeze an open incident's system now (one opened without a freeze)."""
    with store.write() as conn:
        incident = incident_store.get(conn, ref)
        if since is not None and since.tzinfo is None:
            raise TrimtabError("--hold-since (hold_since): give a timezone-aware time "
                               "(datetime.now(UTC)).")
        if since is not None and since > incident.aware_at:
            # A hold from later keeps none of the calls the incident is about.
            raise TrimtabError(
                f"--hold-since (hold_since) {since.isoformat()} is after incident "
                f"{incident.id}'s awareness ({incident.aware_at.isoformat()}): the hold must "
                "cover the calls before the team became aware. Fix: give an earlier time, "
                "or none for the default.")
        start = since or incident.aware_at - hold_before(project)
        return freeze_in(conn, incident, since=start, actor=actor)


def unfreeze(store: Store, ref: str, *, reason: str, actor: str) -> list[Freeze]:
    """Lift the pin ``ref``'s incident put on its system; its legal hold stays."""
    if not reason.strip():
        raise TrimtabError("unfreezing needs --reason: it is kept in the audit trail.")
    with store.write() as conn:
        incident = incident_store.get(conn, ref)
        standing = [f for f in freeze_store.of_incident(conn, incident.id) if f.lifted_at is None]
        if not standing:
            raise Conflict(f"incident {incident.id} has no freeze standing on "
                               f"{incident.system}; nothing to lift.")
        return [freeze_store.lift(conn, f, reason=reason, actor=actor) for f in standing]


def release_holds(store: Store, ref: str, *, reason: str, actor: str) -> list[Hold]:
    """Release ``ref``'s legal holds: its calls fall under retention again."""
    if not reason.strip():
        raise TrimtabError("releasing a legal hold needs --reason: it is kept in the audit "
                           "trail.")
    with store.write() as conn:
        incident = incident_store.get(conn, ref)
        active = hold_store.list_all(conn, incident_id=incident.id)
        if not active:
            raise Conflict(f"incident {incident.id} has no active legal hold; nothing to "
                               "release.")
        return [hold_store.release(conn, h, reason=reason, actor=actor) for h in active]


def before_close(conn, incident: Incident, *, actor: str) -> None:
    """Closing: refused while the incident's freeze stands; its open holds end
    at the close (the calls after it are ordinary again)."""
    if any(f.lifted_at is None for f in freeze_store.of_incident(conn, incident.id)):
        raise Conflict(
            f"incident {incident.id} still freezes {incident.system}. Fix: lift it first "
            f"(`trimtab incident unfreeze {incident.id} --reason ...`, an approver).")
    now = datetime.now(UTC)
    for hold in hold_store.list_all(conn, incident_id=incident.id):
        if hold.until is None:
            hold_store.end_at(conn, hold, now, actor=actor)


def freezes(store: Store, *, system: str | None = None,
            include_lifted: bool = False) -> list[Freeze]:
    with store.read() as conn:
        return freeze_store.list_all(conn, system=system, include_lifted=include_lifted)


def holds(store: Store, *, system: str | None = None,
          include_released: bool = False) -> list[tuple[Hold, int]]:
    """Each legal hold with how many calls it keeps now."""
    with store.read() as conn:
        found = hold_store.list_all(conn, system=system, include_released=include_released)
        return [(h, hold_store.calls_in(conn, h)) for h in found]
