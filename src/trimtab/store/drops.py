"""Call records a process could not spool (its disk full or failing), as counts per
system and environment. The recording process reports them straight to the store
(the spool is what failed), a few seconds apart; the built-in alert rule
``recording-dropped`` reads them, so a monitor running anywhere sees the gap.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, insert, select

from trimtab.store.ids import new_call_id
from trimtab.store.schema.call_log import recording_drops


def add(conn: Connection, reporter: str, time: datetime,
        counts: dict[tuple[str, str], int]) -> None:
    """One row per (system, env) that dropped records since the last report."""
    rows = [{"id": new_call_id(), "time": time, "reporter": reporter[:200],
             "system": system[:200], "env": env[:100], "dropped": count}
            for (system, env), count in counts.items() if count > 0]
    if rows:
        conn.execute(insert(recording_drops), rows)


def count(conn: Connection, *, since: datetime, until: datetime | None = None,
          system: str | None = None, env: str | None = None) -> int:
    """Records dropped since ``since`` (for ``system`` and ``env``, when given)."""
    query = select(func.coalesce(func.sum(recording_drops.c.dropped), 0)).where(
        recording_drops.c.time >= since)
    if until is not None:
        query = query.where(recording_drops.c.time <= until)
    if system is not None:
        query = query.where(recording_drops.c.system == system)
    if env is not None:
        query = query.where(recording_drops.c.env == env)
    return int(conn.execute(query).scalar_one())
