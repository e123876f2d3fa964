"""Human review: weekly samples of calls, and the verdicts people give them.

A sample and a review are each written with their audit entry. A review also
becomes a ``review`` score on its call (1 for pass, 0 for fail, or the 1-5
score scaled to 0-1), so ``quality_score`` alert rules read people's verdicts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select
from sqlalchemy.exc import IntegrityError

from trimtab.errors import TrimtabError
from trimtab.store import audit
from trimtab.store import scores as score_store
from trimtab.store.audit import text_hash
from trimtab.store.calls import Call
from trimtab.store.ids import new_call_id
from trimtab.store.schema.base import utcnow
from trimtab.store.schema.call_log import calls
from trimtab.store.schema.quality import review_items, review_samples, reviews

#: Calls a week's draw reads at most (their id, release and model only).
MAX_POPULATION = 2_000_000


@dataclass(frozen=True)
class Sample:
    id: str
    system: str
    env: str
    week: str
    seed: int
    size: int
    population: int
    strata: str  # JSON list of {release, model, calls, drawn}
    drawn_at: datetime
    actor: str

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["drawn_at"] = self.drawn_at.isoformat()
        data["strata"] = json.loads(self.strata)
        return data


@dataclass(frozen=True)
class Review:
    id: int
    call_id: str
    system: str
    sample_id: str | None
    reviewer: str
    verdict: str
    score: int | None
    labels: str | None
    comment: str | None
    time: datetime

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["time"] = self.time.isoformat()
        data["labels"] = json.loads(self.labels) if self.labels else []
        return data


def population(conn: Connection, *, system: str, env: str, start: datetime,
               end: datetime) -> list[tuple[str, str, str]]:
    """(call id, release id, model) of the answered calls in [start, end), oldest first:
    what a week's sample is drawn from (shadow calls answered no one: left out)."""
    query = (select(calls.c.id, calls.c.release_id, calls.c.model)
             .where(calls.c.system == system, calls.c.env == env, calls.c.time >= start,
                    calls.c.time < end, calls.c.status == "ok", calls.c.route != "shadow")
             .order_by(calls.c.id).limit(MAX_POPULATION))
    return [(r.id, r.release_id or "", r.model or "") for r in conn.execute(query)]


def find_sample(conn: Connection, *, system: str, env: str, week: str) -> Sample | None:
    row = conn.execute(select(review_samples).where(
        review_samples.c.system == system, review_samples.c.env == env,
        review_samples.c.week == week)).first()
    return Sample(**row._mapping) if row else None


def latest_sample(conn: Connection, *, system: str,
                  until: datetime | None = None) -> Sample | None:
    """The newest sample (``until``: the newest drawn by then)."""
    query = select(review_samples).where(review_samples.c.system == system)
    if until is not None:
        query = query.where(review_samples.c.drawn_at <= until)
    row = conn.execute(query
                       .order_by(review_samples.c.week.desc(), review_samples.c.id.desc())
                       .limit(1)).first()
    return Sample(**row._mapping) if row else None


def save_sample(conn: Connection, *, system: str, env: str, week: str, seed: int,
                population_size: int, strata: list[dict[str, Any]],
                items: list[tuple[str, str]], actor: str) -> Sample:
    """Store a drawn sample and its calls (``items``: call id, stratum); audited."""
    values = dict(id=new_call_id(), system=system, env=env, week=week, seed=seed,
                  size=len(items), population=population_size,
                  strata=json.dumps(strata, sort_keys=True), drawn_at=utcnow(), actor=actor)
    conn.execute(insert(review_samples).values(**values))
    if items:
        conn.execute(insert(review_items), [
            {"sample_id": values["id"], "position": i, "call_id": call_id, "stratum": stratum}
            for i, (call_id, stratum) in enumerate(items)])
    audit.append(conn, actor=actor, action="review.sample", object_type="review_sample",
                 object_id=values["id"], system=system,
                 payload={"env": env, "week": week, "seed": seed, "size": len(items),
                          "population": population_size, "strata": strata})
    return Sample(**values)


def items(conn: Connection, sample_id: str) -> list[str]:
    """The sample's call ids, in draw order."""
    return list(conn.execute(select(review_items.c.call_id)
                             .where(review_items.c.sample_id == sample_id)
                             .order_by(review_items.c.position)).scalars())


def reviewed_by(conn: Connection, reviewer: str, call_ids: list[str]) -> set[str]:
    if not call_ids:
        return set()
    return set(conn.execute(select(reviews.c.call_id).where(
        reviews.c.reviewer == reviewer, reviews.c.call_id.in_(call_ids))).scalars())


def add(conn: Connection, call: Call, *, reviewer: str, verdict: str, score: int | None,
        labels: list[str], comment: str | None, sample_id: str | None) -> Review:
    """One reviewer's verdict on one call (a second one by the same reviewer is refused)."""
    values = dict(call_id=call.id, system=call.system, sample_id=sample_id, reviewer=reviewer,
                  verdict=verdict, score=score,
                  labels=json.dumps(labels) if labels else None, comment=comment,
                  time=utcnow())
    try:
        with conn.begin_nested():
            review_id = conn.execute(insert(reviews).values(**values)).inserted_primary_key[0]
    except IntegrityError:
        raise TrimtabError(f"{reviewer} has already reviewed call {call.id[:12]}: one review "
                           "per reviewer and call.") from None
    audit.append(conn, actor=reviewer, action="review.add", object_type="call",
                 object_id=call.id, system=call.system,
                 payload={"review_id": review_id, "verdict": verdict, "score": score,
                          "labels": labels, "comment_sha256": text_hash(comment),
                          "sample": sample_id})
    value = (score - 1) / 4 if score is not None else 1.0 if verdict == "pass" else 0.0
    score_store.add(conn, call, name="review", value=value, comment=comment, actor=reviewer,
                    passed=verdict == "pass")
    return Review(id=review_id, **values)


def for_system(conn: Connection, system: str, *, since: datetime | None = None) -> list[Review]:
    query = select(reviews).where(reviews.c.system == system)
    if since is not None:
        query = query.where(reviews.c.time >= since)
    return [Review(**r._mapping) for r in conn.execute(query.order_by(reviews.c.id))]


def count(conn: Connection, system: str) -> int:
    return conn.execute(select(func.count()).select_from(reviews)
                        .where(reviews.c.system == system)).scalar_one()
