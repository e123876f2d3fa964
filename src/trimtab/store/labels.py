"""True labels of recorded calls (ground truth for classic models), and the counts
the accuracy metrics are made of.

One row per call: labelling a call again replaces its value and counts up its
revision, so the latest label wins and how often labels changed stays visible.
A batch of labels is one audit entry (a file of 100,000 labels is one decision,
not 100,000), naming how many were new and how many replaced an earlier one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from trimtab.store import audit
from trimtab.store.schema.call_log import calls
from trimtab.store.schema.quality import labels

_CHUNK = 500  # ids per IN (...): well under SQLite's and PostgreSQL's parameter limits


@dataclass(frozen=True)
class LabelledCall:
    """What labelling needs of a call: where it ran and what it answered."""

    id: str
    system: str
    env: str
    release_id: str | None
    time: datetime
    logging_mode: str
    response: str | None


_CALL_COLUMNS = (calls.c.id, calls.c.system, calls.c.env, calls.c.release_id, calls.c.time,
                 calls.c.logging_mode, calls.c.response)


def calls_by_id(conn: Connection, ids: Iterable[str]) -> dict[str, LabelledCall]:
    """The calls among ``ids`` (whole ids) that are stored."""
    wanted = list(dict.fromkeys(ids))
    found: dict[str, LabelledCall] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start:start + _CHUNK]
        for row in conn.execute(select(*_CALL_COLUMNS).where(calls.c.id.in_(chunk))):
            found[row.id] = LabelledCall(**row._mapping)
    return found


def calls_by_tag(conn: Connection, system: str, tag: str, values: set[str],
                 since: datetime) -> tuple[dict[str, LabelledCall], int]:
    """The newest call of ``system`` since ``since`` whose tag ``tag`` holds each of
    ``values``, and how many values more than one call holds (a retried request).

    Tags are a JSON column, so this reads the (system, time) range and matches in
    Python; ``since`` bounds how much of the log one file of labels reads.
    """
    needle = json.dumps(tag, ensure_ascii=False)
    statement = (select(calls.c.id, calls.c.tags)
                 .where(calls.c.system == system, calls.c.time >= since,
                        calls.c.tags.contains(needle, autoescape=True))
                 .order_by(calls.c.time.desc(), calls.c.id.desc())
                 .execution_options(yield_per=2000))
    newest: dict[str, str] = {}
    repeated: set[str] = set()
    for row in conn.execute(statement):
        try:
            value = json.loads(row.tags).get(tag)
        except (ValueError, AttributeError):
            continue
        if value in values:
            if value in newest:
                repeated.add(value)
            else:
                newest[value] = row.id
    found = calls_by_id(conn, newest.values())
    return {value: found[call_id] for value, call_id in newest.items()}, len(repeated)


def put(conn: Connection, rows: list[dict[str, Any]], *, actor: str, now: datetime,
        source: str) -> tuple[int, int]:
    """Store one label per call (the last of ``rows`` for a call wins); returns
    (new, relabelled). Each row holds call_id, system, env, release_id, call_time,
    value, predicted and error. One audit entry per system in the batch."""
    latest = {row["call_id"]: row for row in rows}
    known: dict[str, int] = {}
    ids = list(latest)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        known.update(conn.execute(select(labels.c.call_id, labels.c.revision)
                                  .where(labels.c.call_id.in_(chunk))).all())
    fresh = [{**row, "revision": 1, "actor": actor, "time": now}
             for call_id, row in latest.items() if call_id not in known]
    if fresh:
        conn.execute(insert(labels), fresh)
    for call_id, revision in known.items():
        row = latest[call_id]
        conn.execute(update(labels).where(labels.c.call_id == call_id).values(
            value=row["value"], predicted=row["predicted"], error=row["error"],
            revision=revision + 1, actor=actor, time=now))
    per_system: dict[str, list[int]] = {}
    for call_id, row in latest.items():
        counts = per_system.setdefault(row["system"], [0, 0])
        counts[call_id in known] += 1
    for system, (new, again) in sorted(per_system.items()):
        single = len(latest) == 1
        audit.append(conn, actor=actor, action="label.add",
                     object_type="call" if single else "system",
                     object_id=next(iter(latest)) if single else system, system=system,
                     payload={"new": new, "relabelled": again, "source": source})
    return len(fresh), len(known)


@dataclass(frozen=True)
class Label:
    call_id: str
    system: str
    env: str
    release_id: str | None
    call_time: datetime
    value: str
    predicted: str
    error: float | None
    revision: int
    actor: str
    time: datetime

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "call_time": self.call_time.isoformat(),
                "time": self.time.isoformat()}


def get(conn: Connection, call_id: str) -> Label | None:
    row = conn.execute(select(labels).where(labels.c.call_id == call_id)).first()
    return Label(**row._mapping) if row else None


def _window(query, system: str, start: datetime, end: datetime, env: str | None):
    query = query.where(labels.c.system == system, labels.c.time > start, labels.c.time <= end)
    return query if env is None else query.where(labels.c.env == env)


def confusion(conn: Connection, *, system: str, start: datetime, end: datetime,
              env: str | None = None, limit: int = 10_000
              ) -> list[tuple[str | None, str, str, int]]:
    """(release id, label, prediction, how many) for the labels that arrived in
    (start, end]; at most ``limit`` + 1 rows, so a numeric target with a distinct
    value per label never loads them all (the caller sees it went past)."""
    query = _window(select(labels.c.release_id, labels.c.value, labels.c.predicted,
                           func.count()), system, start, end, env)
    query = query.group_by(labels.c.release_id, labels.c.value, labels.c.predicted) \
        .order_by(labels.c.release_id, labels.c.value, labels.c.predicted).limit(limit + 1)
    return [tuple(row) for row in conn.execute(query)]


def totals(conn: Connection, *, system: str, start: datetime, end: datetime,
           env: str | None = None) -> list[tuple[str | None, int, int, int, float, float]]:
    """Per release: labels, correct ones, numeric ones, sum of |error|, sum of error²."""
    error = labels.c.error
    query = _window(select(
        labels.c.release_id, func.count(),
        func.count().filter(labels.c.value == labels.c.predicted),
        func.count(error), func.coalesce(func.sum(func.abs(error)), 0.0),
        func.coalesce(func.sum(error * error), 0.0)), system, start, end, env)
    query = query.group_by(labels.c.release_id).order_by(labels.c.release_id)
    return [(r[0], int(r[1]), int(r[2]), int(r[3]), float(r[4]), float(r[5]))
            for r in conn.execute(query)]
