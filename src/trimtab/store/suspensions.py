"""The kill switch's state: which (system, env) are suspended, and what they answer.

Suspend and resume append a row each, with its audit entry, which moves the
store's change counter, so every runtime re-reads its routes (and with them
this state) within a second (releases/active.py).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import Connection, func, insert, select

from trimtab.store import audit
from trimtab.store.schema.base import utcnow
from trimtab.store.schema.governance import suspensions


@dataclass(frozen=True)
class Suspension:
    id: int
    system: str
    env: str
    mode: str  # reply | refusal | error
    message: str
    reason: str
    actor: str
    time: datetime

    def to_dict(self) -> dict:
        data = asdict(self)
        data["time"] = self.time.isoformat()
        return data


def _latest(conn: Connection, system: str | None = None, env: str | None = None):
    newest = select(func.max(suspensions.c.id)).group_by(suspensions.c.system,
                                                         suspensions.c.env)
    if system is not None:
        newest = newest.where(suspensions.c.system == system)
    if env is not None:
        newest = newest.where(suspensions.c.env == env)
    query = select(suspensions).where(suspensions.c.id.in_(newest.scalar_subquery()))
    return [r for r in conn.execute(query.order_by(suspensions.c.system, suspensions.c.env))
            if r.action == "suspend"]


def _suspension(row) -> Suspension:
    return Suspension(id=row.id, system=row.system, env=row.env, mode=row.mode,
                      message=row.message, reason=row.reason, actor=row.actor, time=row.time)


def current(conn: Connection, system: str, env: str) -> Suspension | None:
    rows = _latest(conn, system, env)
    return _suspension(rows[0]) if rows else None


def all_current(conn: Connection) -> list[Suspension]:
    return [_suspension(r) for r in _latest(conn)]


def suspend(conn: Connection, *, system: str, env: str, mode: str, message: str, reason: str,
            actor: str) -> Suspension:
    conn.execute(insert(suspensions).values(
        system=system, env=env, action="suspend", mode=mode, message=message, reason=reason,
        actor=actor, time=utcnow()))
    audit.append(conn, actor=actor, action="system.suspend", object_type="system",
                 object_id=system, system=system,
                 payload={"env": env, "mode": mode, "message": message, "reason": reason})
    found = current(conn, system, env)
    assert found is not None
    return found


def resume(conn: Connection, *, system: str, env: str, reason: str, actor: str,
           was: Suspension) -> None:
    conn.execute(insert(suspensions).values(
        system=system, env=env, action="resume", reason=reason, actor=actor, time=utcnow()))
    audit.append(conn, actor=actor, action="system.resume", object_type="system",
                 object_id=system, system=system,
                 payload={"env": env, "reason": reason, "suspended_since": was.time.isoformat()})
