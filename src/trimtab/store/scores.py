"""Quality scores on recorded calls: a reviewer's or evaluator's verdict.

Each score is a judgement someone made, so it is audited like any other
change; the ``quality_score`` alert averages them per system over a window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select

from trimtab.store import audit
from trimtab.store.audit import text_hash
from trimtab.store.calls import Call
from trimtab.store.schema.base import utcnow
from trimtab.store.schema.quality import scores


@dataclass(frozen=True)
class Score:
    id: int
    call_id: str
    system: str
    env: str
    name: str
    value: float
    comment: str | None
    actor: str
    time: datetime
    release_id: str | None = None
    passed: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "time": self.time.isoformat()}


def add(conn: Connection, call: Call, *, name: str, value: float, comment: str | None,
        actor: str, passed: bool | None = None) -> Score:
    row = dict(call_id=call.id, system=call.system, env=call.env, name=name, value=value,
               comment=comment, actor=actor, time=utcnow(), release_id=call.release_id,
               passed=passed)
    score_id = conn.execute(insert(scores).values(**row)).inserted_primary_key[0]
    audit.append(
        conn, actor=actor, action="score.add", object_type="call", object_id=call.id,
        system=call.system, payload={"score_id": score_id, "name": name, "value": value,
                                     "comment_sha256": text_hash(comment)},
    )
    return Score(id=score_id, **row)


def for_call(conn: Connection, call_id: str) -> list[Score]:
    query = select(scores).where(scores.c.call_id == call_id).order_by(scores.c.id)
    return [Score(**r._mapping) for r in conn.execute(query)]


def mean(
    conn: Connection,
    *,
    system: str,
    start: datetime,
    end: datetime,
    env: str | None = None,
    name: str | None = None,
) -> tuple[float | None, int]:
    """The mean score and how many scores it is over (None, 0 when there are none)."""
    query = select(func.avg(scores.c.value), func.count()).where(
        scores.c.system == system, scores.c.time > start, scores.c.time <= end)
    if env is not None:
        query = query.where(scores.c.env == env)
    if name is not None:
        query = query.where(scores.c.name == name)
    average, count = conn.execute(query).one()
    return (None if average is None else float(average)), count


def mean_by_release(conn: Connection, *, system: str, start: datetime, end: datetime,
                    env: str | None = None, name: str | None = None
                    ) -> list[tuple[str | None, float, int]]:
    """(release id, mean, count) of the scores in (start, end], lowest mean first."""
    query = (select(scores.c.release_id, func.avg(scores.c.value), func.count())
             .where(scores.c.system == system, scores.c.time > start, scores.c.time <= end)
             .group_by(scores.c.release_id))
    if env is not None:
        query = query.where(scores.c.env == env)
    if name is not None:
        query = query.where(scores.c.name == name)
    rows = [(r[0], float(r[1]), int(r[2])) for r in conn.execute(query)]
    return sorted(rows, key=lambda r: (r[1], r[0] or ""))


def lowest(conn: Connection, *, system: str, start: datetime, end: datetime,
           env: str | None = None, name: str | None = None, below: float | None = None,
           limit: int = 5) -> list[str]:
    """The call ids of the lowest scores in (start, end), lowest first (a quality alert
    flags them for review)."""
    query = select(scores.c.call_id).where(
        scores.c.system == system, scores.c.time > start, scores.c.time <= end)
    if env is not None:
        query = query.where(scores.c.env == env)
    if name is not None:
        query = query.where(scores.c.name == name)
    if below is not None:
        query = query.where(scores.c.value < below)
    found = conn.execute(query.order_by(scores.c.value, scores.c.id).limit(limit * 4)).scalars()
    return list(dict.fromkeys(found))[:limit]
