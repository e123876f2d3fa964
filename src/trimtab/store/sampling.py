"""Sampled scoring of real outputs, as stored: the cursor that says how far each
system's calls have been read, per-release counts of calls seen and drawn, and
the scores themselves (rows of ``scores`` with the release and pass/fail).

``advance`` writes a tick's scores and moves the cursor in one transaction, and
only if the cursor is where the tick read it: two monitors sharing a store may
both score a batch, but only one stores it, so no call is scored twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, case, func, insert, or_, select, update

from trimtab.store import audit
from trimtab.store.calls import Call
from trimtab.store.schema.base import utcnow
from trimtab.store.schema.call_log import calls
from trimtab.store.schema.quality import scores, scoring_counts, scoring_cursors

#: The actor of every sampled score: scores people give carry their own name.
SAMPLER = "trimtab:sampled"


def cursor(conn: Connection, system: str) -> tuple[datetime, str] | None:
    row = conn.execute(select(scoring_cursors.c.call_time, scoring_cursors.c.last_call_id)
                       .where(scoring_cursors.c.system == system)).first()
    return (row.call_time, row.last_call_id) if row else None


def candidates(conn: Connection, *, system: str, env: str, after: tuple[datetime, str] | None,
               until: datetime, limit: int) -> list[tuple[str, datetime, str]]:
    """(id, time, release id) of the system's calls in ``env`` after the cursor and up to
    ``until``, oldest first: answered ones, shadows included (a shadow release's quality
    is worth knowing). Only the columns the draw needs: the drawn calls are read whole
    with ``calls_by_id``."""
    query = select(calls.c.id, calls.c.time, calls.c.release_id).where(
        calls.c.system == system, calls.c.env == env, calls.c.status == "ok",
        calls.c.time <= until)
    if after is not None:
        query = query.where(or_(calls.c.time > after[0],
                                and_(calls.c.time == after[0], calls.c.id > after[1])))
    query = query.order_by(calls.c.time, calls.c.id).limit(limit)
    return [(r.id, r.time, r.release_id or "") for r in conn.execute(query)]


def calls_by_id(conn: Connection, ids: list[str]) -> list[Call]:
    """The calls with these ids, in the order given."""
    if not ids:
        return []
    found = {r.id: Call(**r._mapping) for r in conn.execute(
        select(calls).where(calls.c.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


def counts(conn: Connection, system: str) -> dict[str, tuple[int, int]]:
    """release id -> (calls seen, calls drawn) so far."""
    query = select(scoring_counts).where(scoring_counts.c.system == system)
    return {r.release_id: (r.seen, r.sampled) for r in conn.execute(query)}


def advance(conn: Connection, system: str, *, was: tuple[datetime, str] | None,
            to: tuple[datetime, str], counted: dict[str, tuple[int, int]],
            rows: list[dict[str, Any]], summary: dict[str, Any]) -> bool:
    """Store a tick (its score rows, counts, cursor); False, storing nothing, when
    another process moved the cursor since ``was`` was read."""
    now = utcnow()
    if was is None:
        if cursor(conn, system) is not None:
            return False
        conn.execute(insert(scoring_cursors).values(system=system, call_time=to[0],
                                                    last_call_id=to[1], updated_at=now))
    else:
        moved = conn.execute(update(scoring_cursors).where(
            scoring_cursors.c.system == system, scoring_cursors.c.call_time == was[0],
            scoring_cursors.c.last_call_id == was[1]).values(call_time=to[0], last_call_id=to[1],
                                                        updated_at=now))
        if moved.rowcount != 1:
            return False
    before = counts(conn, system)
    for release_id, (seen, drawn) in counted.items():
        if release_id in before:
            conn.execute(update(scoring_counts).where(
                scoring_counts.c.system == system, scoring_counts.c.release_id == release_id)
                .values(seen=seen, sampled=drawn))
        else:
            conn.execute(insert(scoring_counts).values(system=system, release_id=release_id,
                                                       seen=seen, sampled=drawn))
    if rows:
        conn.execute(insert(scores), [{**row, "actor": SAMPLER, "time": now} for row in rows])
        audit.append(conn, actor=SAMPLER, action="score.sampled", object_type="system",
                     object_id=system, system=system, payload=summary)
    return True


@dataclass(frozen=True)
class ReleaseQuality:
    """One scorer's scores of one release's calls over a window."""

    release_id: str
    name: str
    scores: int
    mean: float
    passed: int  # scores that passed (of those that say pass or fail)
    judged: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def by_release(conn: Connection, *, system: str, start: datetime, end: datetime,
               env: str | None = None, name: str | None = None,
               sampled_only: bool = True) -> list[ReleaseQuality]:
    """The mean score and passes per release and score name in (start, end]."""
    passed = func.sum(case((scores.c.passed.is_(True), 1), else_=0))
    judged = func.count(scores.c.passed)
    query = (select(scores.c.release_id, scores.c.name, func.count(), func.avg(scores.c.value),
                    passed, judged)
             .where(scores.c.system == system, scores.c.time > start, scores.c.time <= end)
             .group_by(scores.c.release_id, scores.c.name)
             .order_by(scores.c.release_id, scores.c.name))
    if sampled_only:
        query = query.where(scores.c.actor == SAMPLER)
    if env is not None:
        query = query.where(scores.c.env == env)
    if name is not None:
        query = query.where(scores.c.name == name)
    return [ReleaseQuality(r[0] or "", r[1], r[2], float(r[3]), int(r[4] or 0), int(r[5]))
            for r in conn.execute(query)]


def verdicts(conn: Connection, *, system: str, call_ids: list[str]
             ) -> list[tuple[str, str, bool]]:
    """(call id, scorer name, passed) of the sampled scores of these calls."""
    if not call_ids:
        return []
    out = []
    for start in range(0, len(call_ids), 500):
        chunk = call_ids[start:start + 500]
        query = select(scores.c.call_id, scores.c.name, scores.c.passed).where(
            scores.c.system == system, scores.c.actor == SAMPLER, scores.c.passed.is_not(None),
            scores.c.call_id.in_(chunk))
        out += [(r.call_id, r.name, bool(r.passed)) for r in conn.execute(query)]
    return out


def sampled_verdicts(conn: Connection, *, system: str, start: datetime,
                     end: datetime) -> list[tuple[str, datetime, bool]]:
    """(call id, time, passed) of the sampled scores in [start, end) that say pass or fail."""
    query = select(scores.c.call_id, scores.c.time, scores.c.passed).where(
        scores.c.system == system, scores.c.time >= start, scores.c.time < end,
        scores.c.actor == SAMPLER, scores.c.passed.is_not(None))
    return [(r.call_id, r.time, bool(r.passed)) for r in conn.execute(query)]
