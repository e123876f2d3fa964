"""Freezes: a system's releases pinned while a serious incident is investigated.

While a freeze stands, every deployment change of the system (promote, canary,
shadow, rollback, an approved request applying) is refused in the same
transaction that would make it, so no path around the domain functions that
reaches the store's deployment writers can move it; an admin override with a
reason is recorded beside the change (``freeze.override``). Freezing and
lifting are audited.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from trimtab.errors import Conflict
from trimtab.store import audit
from trimtab.store.schema.base import utcnow
from trimtab.store.schema.governance import freezes


class Frozen(Conflict):
    """A deployment change of a frozen system, without an override."""


@dataclass(frozen=True)
class Freeze:
    id: int
    system: str
    incident_id: str | None
    pinned: dict[str, str]
    reason: str
    frozen_at: datetime
    frozen_by: str
    lifted_at: datetime | None
    lifted_by: str | None
    lift_reason: str | None

    def to_dict(self) -> dict:
        data = dict(self.__dict__)
        for key in ("frozen_at", "lifted_at"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


def _freeze(row) -> Freeze:
    return Freeze(**{**row._mapping, "pinned": json.loads(row.pinned)})


def current(conn: Connection, system: str) -> Freeze | None:
    """The freeze standing on ``system`` (the oldest, when several do)."""
    row = conn.execute(select(freezes).where(freezes.c.system == system,
                                             freezes.c.lifted_at.is_(None))
                       .order_by(freezes.c.id).limit(1)).first()
    return _freeze(row) if row else None


def list_all(conn: Connection, *, system: str | None = None,
             include_lifted: bool = False) -> list[Freeze]:
    query = select(freezes).order_by(freezes.c.id)
    if system is not None:
        query = query.where(freezes.c.system == system)
    if not include_lifted:
        query = query.where(freezes.c.lifted_at.is_(None))
    return [_freeze(r) for r in conn.execute(query)]


def of_incident(conn: Connection, incident_id: str) -> list[Freeze]:
    return [_freeze(r) for r in conn.execute(
        select(freezes).where(freezes.c.incident_id == incident_id).order_by(freezes.c.id))]


def freeze(conn: Connection, *, system: str, pinned: dict[str, str], reason: str, actor: str,
           incident_id: str | None = None) -> Freeze:
    freeze_id = conn.execute(insert(freezes).values(
        system=system, incident_id=incident_id, pinned=json.dumps(pinned, sort_keys=True),
        reason=reason, frozen_at=utcnow(), frozen_by=actor)).inserted_primary_key[0]
    audit.append(conn, actor=actor, action="system.freeze", object_type="system",
                 object_id=system, system=system,
                 payload={"freeze": freeze_id, "incident": incident_id, "pinned": pinned,
                          "reason": reason})
    return _freeze(conn.execute(select(freezes).where(freezes.c.id == freeze_id)).one())


def lift(conn: Connection, found: Freeze, *, reason: str, actor: str) -> Freeze:
    conn.execute(update(freezes).where(freezes.c.id == found.id).values(
        lifted_at=utcnow(), lifted_by=actor, lift_reason=reason))
    audit.append(conn, actor=actor, action="system.unfreeze", object_type="system",
                 object_id=found.system, system=found.system,
                 payload={"freeze": found.id, "incident": found.incident_id, "reason": reason})
    return _freeze(conn.execute(select(freezes).where(freezes.c.id == found.id)).one())


def guard(conn: Connection, system: str, *, change: str, env: str,
          override: str | None, actor: str) -> None:
    """Refuse ``change`` (promote, rollback, canary, shadow) of a frozen system;
    with ``override`` (the admin's reason, the role checked by the caller) let it
    through and record the override in this transaction."""
    found = current(conn, system)
    if found is None:
        return
    if override is None or not override.strip():
        pinned = ", ".join(f"{e}={r[:12]}" for e, r in sorted(found.pinned.items())) or "none"
        raise Frozen(
            f"{system} is frozen since {found.frozen_at:%Y-%m-%d %H:%M} UTC"
            + (f" by incident {found.incident_id}" if found.incident_id else "")
            + f" (pinned: {pinned}); {change} in {env} refused. Fix: lift it with "
            f"`trimtab incident unfreeze {found.incident_id or system} --reason ...`, or, "
            "as an admin, override with --force --reason.")
    audit.append(conn, actor=actor, action="freeze.override", object_type="system",
                 object_id=system, system=system,
                 payload={"freeze": found.id, "incident": found.incident_id, "change": change,
                          "env": env, "reason": override})
