"""Legal holds: a system's calls in a time window kept as evidence.

An incident under investigation (or a regulator's or court's request) needs
the calls of its window to survive any retention policy. A hold names the
system and the window (``until`` open: up to now, for as long as it lasts);
every path that deletes calls (``trimtab prune``, partition drops, erasure
where the law lets a hold win) filters with ``held_call_filter`` so a held
call is never deleted. Placing and releasing a hold are audited; releasing
one is an explicit act with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, exists, func, insert, or_, select, update

from trimtab.errors import TrimtabError
from trimtab.store import audit
from trimtab.store.schema.base import utcnow
from trimtab.store.schema.call_log import calls
from trimtab.store.schema.governance import legal_holds


@dataclass(frozen=True)
class Hold:
    id: int
    system: str
    incident_id: str | None
    since: datetime
    until: datetime | None
    reason: str
    placed_at: datetime
    placed_by: str
    released_at: datetime | None
    released_by: str | None
    release_reason: str | None

    @property
    def active(self) -> bool:
        return self.released_at is None

    def to_dict(self) -> dict:
        data = dict(self.__dict__)
        for key in ("since", "until", "placed_at", "released_at"):
            data[key] = data[key].isoformat() if data[key] else None
        data["active"] = self.active
        return data


def held_call_filter(table=calls) -> ColumnElement[bool]:
    """A SQL condition true for each row of ``table`` (the call log, or any
    table with ``system`` and ``time`` columns) that an active legal hold
    covers. Deleting code adds ``~held_call_filter()`` to its WHERE clause."""
    return exists(select(legal_holds.c.id).where(
        legal_holds.c.system == table.c.system,
        legal_holds.c.released_at.is_(None),
        legal_holds.c.since <= table.c.time,
        or_(legal_holds.c.until.is_(None), legal_holds.c.until >= table.c.time),
    ))


def _hold(row) -> Hold:
    return Hold(**row._mapping)


def place(conn: Connection, *, system: str, since: datetime, until: datetime | None,
          reason: str, actor: str, incident_id: str | None = None) -> Hold:
    if until is not None and until < since:
        raise TrimtabError("a legal hold's end is before its start. Fix: swap them.")
    hold_id = conn.execute(insert(legal_holds).values(
        system=system, incident_id=incident_id, since=since, until=until, reason=reason,
        placed_at=utcnow(), placed_by=actor)).inserted_primary_key[0]
    audit.append(conn, actor=actor, action="hold.place", object_type="legal_hold",
                 object_id=str(hold_id), system=system,
                 payload={"incident": incident_id, "since": since.isoformat(),
                          "until": until.isoformat() if until else None, "reason": reason})
    return get(conn, hold_id)


def get(conn: Connection, hold_id: int) -> Hold:
    row = conn.execute(select(legal_holds).where(legal_holds.c.id == hold_id)).first()
    if row is None:
        raise TrimtabError(f"no legal hold {hold_id}. Fix: see `trimtab incident holds --all`.")
    return _hold(row)


def list_all(conn: Connection, *, system: str | None = None, incident_id: str | None = None,
             include_released: bool = False) -> list[Hold]:
    query = select(legal_holds).order_by(legal_holds.c.id)
    if system is not None:
        query = query.where(legal_holds.c.system == system)
    if incident_id is not None:
        query = query.where(legal_holds.c.incident_id == incident_id)
    if not include_released:
        query = query.where(legal_holds.c.released_at.is_(None))
    return [_hold(r) for r in conn.execute(query)]


def end_at(conn: Connection, hold: Hold, until: datetime, *, actor: str) -> Hold:
    """Fix an open hold's end (its incident closed): calls after it are no longer held."""
    conn.execute(update(legal_holds).where(legal_holds.c.id == hold.id).values(until=until))
    audit.append(conn, actor=actor, action="hold.end", object_type="legal_hold",
                 object_id=str(hold.id), system=hold.system,
                 payload={"incident": hold.incident_id, "until": until.isoformat()})
    return get(conn, hold.id)


def release(conn: Connection, hold: Hold, *, reason: str, actor: str) -> Hold:
    if not hold.active:
        raise TrimtabError(f"legal hold {hold.id} was already released "
                           f"({hold.released_at:%Y-%m-%d %H:%M} by {hold.released_by}).")
    conn.execute(update(legal_holds).where(legal_holds.c.id == hold.id).values(
        released_at=utcnow(), released_by=actor, release_reason=reason))
    audit.append(conn, actor=actor, action="hold.release", object_type="legal_hold",
                 object_id=str(hold.id), system=hold.system,
                 payload={"incident": hold.incident_id, "reason": reason})
    return get(conn, hold.id)


def calls_in(conn: Connection, hold: Hold) -> int:
    """How many calls ``hold`` keeps (its system's calls in its window)."""
    query = select(func.count()).select_from(calls).where(calls.c.system == hold.system,
                                                          calls.c.time >= hold.since)
    if hold.until is not None:
        query = query.where(calls.c.time <= hold.until)
    return conn.execute(query).scalar_one()
