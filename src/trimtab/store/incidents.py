"""Incidents: what went wrong with a system, when the team became aware, and
which reporting regimes apply; timeline notes; closing with root cause and actions.

The deadlines are computed from this record and the regimes table
(trimtab.govern.incidents), never stored, so a corrected table moves them.
Opening, noting and closing are audited.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from trimtab.errors import NotFound, TrimtabError
from trimtab.store import audit
from trimtab.store.schema.base import utcnow
from trimtab.store.schema.governance import incident_notes, incidents


@dataclass(frozen=True)
class Note:
    time: datetime
    actor: str
    text: str


@dataclass(frozen=True)
class Incident:
    id: str
    system: str
    severity: str
    summary: str
    categories: list[str]
    aware_at: datetime
    opened_at: datetime
    opened_by: str
    closed_at: datetime | None
    closed_by: str | None
    root_cause: str | None
    actions: str | None
    notes: tuple[Note, ...] = ()

    def to_dict(self) -> dict:
        data = {k: getattr(self, k) for k in (
            "id", "system", "severity", "summary", "categories", "opened_by", "closed_by",
            "root_cause", "actions")}
        for k in ("aware_at", "opened_at", "closed_at"):
            value = getattr(self, k)
            data[k] = value.isoformat() if value else None
        data["notes"] = [{"time": n.time.isoformat(), "actor": n.actor, "text": n.text}
                         for n in self.notes]
        return data


def _incident(conn: Connection, row) -> Incident:
    notes = tuple(Note(time=n.time, actor=n.actor, text=n.text) for n in conn.execute(
        select(incident_notes).where(incident_notes.c.incident_id == row.id)
        .order_by(incident_notes.c.id)))
    return Incident(
        id=row.id, system=row.system, severity=row.severity, summary=row.summary,
        categories=json.loads(row.categories), aware_at=row.aware_at, opened_at=row.opened_at,
        opened_by=row.opened_by, closed_at=row.closed_at, closed_by=row.closed_by,
        root_cause=row.root_cause, actions=row.actions, notes=notes)


def open_(conn: Connection, *, system: str, severity: str, summary: str,
          categories: list[str], aware_at: datetime, actor: str) -> Incident:
    incident_id = secrets.token_hex(4)
    conn.execute(insert(incidents).values(
        id=incident_id, system=system, severity=severity, summary=summary,
        categories=json.dumps(categories), aware_at=aware_at, opened_at=utcnow(),
        opened_by=actor))
    audit.append(conn, actor=actor, action="incident.open", object_type="incident",
                 object_id=incident_id, system=system,
                 payload={"severity": severity, "summary": summary, "categories": categories,
                          "aware_at": aware_at.isoformat()})
    return get(conn, incident_id)


def get(conn: Connection, ref: str) -> Incident:
    rows = conn.execute(select(incidents).where(incidents.c.id.startswith(ref, autoescape=True))
                        .limit(2)).all() if ref else []
    if len(rows) != 1:
        what = "no" if not rows else "more than one"
        error = TrimtabError if rows else NotFound
        raise error(f"{what} incident matches {ref!r}. Fix: see `trimtab incidents --all` "
                    "for the ids.")
    return _incident(conn, rows[0])


def list_all(conn: Connection, *, include_closed: bool = False,
             system: str | None = None) -> list[Incident]:
    query = select(incidents).order_by(incidents.c.aware_at)
    if not include_closed:
        query = query.where(incidents.c.closed_at.is_(None))
    if system is not None:
        query = query.where(incidents.c.system == system)
    return [_incident(conn, r) for r in conn.execute(query)]


def note(conn: Connection, incident: Incident, text: str, *, actor: str) -> Incident:
    conn.execute(insert(incident_notes).values(incident_id=incident.id, time=utcnow(),
                                               actor=actor, text=text))
    audit.append(conn, actor=actor, action="incident.note", object_type="incident",
                 object_id=incident.id, system=incident.system, payload={"text": text})
    return get(conn, incident.id)


def close(conn: Connection, incident: Incident, *, root_cause: str, actions: str,
          actor: str) -> Incident:
    if incident.closed_at is not None:
        raise TrimtabError(f"incident {incident.id} is already closed.")
    conn.execute(update(incidents).where(incidents.c.id == incident.id).values(
        closed_at=utcnow(), closed_by=actor, root_cause=root_cause, actions=actions))
    audit.append(conn, actor=actor, action="incident.close", object_type="incident",
                 object_id=incident.id, system=incident.system,
                 payload={"root_cause": root_cause, "actions": actions})
    return get(conn, incident.id)
