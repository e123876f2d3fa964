"""Incident drills: who rehearsed which scenario, when, and what they found.
Evidence for check G5; recording one is audited like any other change."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select

from trimtab.store import audit
from trimtab.store.ids import new_call_id
from trimtab.store.schema.base import utcnow
from trimtab.store.schema.governance import drills


@dataclass(frozen=True)
class Drill:
    id: str
    system: str
    held_at: datetime
    scenario: str
    participants: str  # JSON list
    findings: str
    restore_minutes: float | None
    recorded_at: datetime
    actor: str

    @property
    def people(self) -> list[str]:
        return json.loads(self.participants)

    def to_dict(self) -> dict:
        data = dict(self.__dict__)
        data["participants"] = self.people
        data["held_at"] = self.held_at.isoformat()
        data["recorded_at"] = self.recorded_at.isoformat()
        return data


def record(conn: Connection, *, system: str, held_at: datetime, scenario: str,
           participants: list[str], findings: str, restore_minutes: float | None,
           actor: str) -> Drill:
    row = {"id": new_call_id(), "system": system, "held_at": held_at, "scenario": scenario,
           "participants": json.dumps(participants), "findings": findings,
           "restore_minutes": restore_minutes, "recorded_at": utcnow(), "actor": actor}
    conn.execute(insert(drills).values(**row))
    audit.append(conn, actor=actor, action="drill.record", object_type="drill",
                 object_id=row["id"], system=system,
                 payload={"held_at": held_at.isoformat(), "scenario": scenario,
                          "participants": participants, "restore_minutes": restore_minutes})
    return Drill(**row)


def for_system(conn: Connection, system: str | None = None, limit: int = 200) -> list[Drill]:
    """Newest first."""
    query = select(drills).order_by(drills.c.held_at.desc(), drills.c.id.desc()).limit(limit)
    if system is not None:
        query = query.where(drills.c.system == system)
    return [Drill(**r._mapping) for r in conn.execute(query)]
