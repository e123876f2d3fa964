"""Stored maturity assessments: the trend of a system's stage over time.

An assessment is evidence about the system, not a change to it, so it is not
written to the audit chain; it is append-only and never edited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select

from trimtab.store.ids import new_call_id
from trimtab.store.schema.maturity import assessments


@dataclass(frozen=True)
class StoredAssessment:
    id: str
    time: datetime
    system: str
    track: str
    stage: int
    target: int
    failing: str
    result: str
    actor: str

    @property
    def failing_checks(self) -> list[str]:
        return [c for c in self.failing.split(",") if c]


def save(conn: Connection, *, time: datetime, system: str, track: str, stage: int, target: int,
         failing: list[str], result: str, actor: str) -> StoredAssessment:
    row = {"id": new_call_id(), "time": time, "system": system, "track": track, "stage": stage,
           "target": target, "failing": ",".join(failing), "result": result, "actor": actor}
    conn.execute(insert(assessments).values(**row))
    return StoredAssessment(**row)


def history(conn: Connection, system: str, limit: int = 50) -> list[StoredAssessment]:
    """Newest first."""
    rows = conn.execute(select(assessments).where(assessments.c.system == system)
                        .order_by(assessments.c.time.desc(), assessments.c.id.desc()).limit(limit))
    return [StoredAssessment(**row._mapping) for row in rows]


def latest(conn: Connection, system: str) -> StoredAssessment | None:
    found = history(conn, system, limit=1)
    return found[0] if found else None
