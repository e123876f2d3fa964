"""Calls flagged for human review, by a person or an alert.

The reason is free text that may name a person: the audit entry holds its hash.

A flagged call always joins the review sample of its ISO week: the draw adds
the week's flagged calls beside the random ones, and a call flagged after its
week's sample was drawn is appended to that sample. Flagging twice is a no-op.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select

from trimtab.store import audit
from trimtab.store import reviews as review_store
from trimtab.store.audit import text_hash
from trimtab.store.calls import Call
from trimtab.store.schema.base import utcnow
from trimtab.store.schema.call_log import calls
from trimtab.store.schema.quality import call_flags, review_items

SOURCES = ("user", "alert")
#: Flagged calls a week's draw adds at most, beyond the drawn ones.
MAX_FLAGGED = 1000


@dataclass(frozen=True)
class Flag:
    id: int
    call_id: str
    system: str
    env: str
    source: str
    reason: str | None
    actor: str
    time: datetime

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "time": self.time.isoformat()}


def week_of(moment: datetime) -> str:
    """The ISO week (2026-W49) a call belongs to, in UTC."""
    year, week, _ = moment.astimezone(UTC).isocalendar()
    return f"{year}-W{week:02d}"


def stratum(source: str) -> str:
    return json.dumps({"flagged": source}, sort_keys=True)


def add(conn: Connection, call: Call, *, source: str, reason: str | None,
        actor: str) -> tuple[Flag, bool]:
    """Flag a call; (the flag, whether it is new). Audited; joins a drawn sample."""
    found = conn.execute(select(call_flags).where(call_flags.c.call_id == call.id)).first()
    if found is not None:
        return Flag(**found._mapping), False
    values = dict(call_id=call.id, system=call.system, env=call.env, source=source,
                  reason=reason, actor=actor, time=utcnow())
    flag_id = conn.execute(insert(call_flags).values(**values)).inserted_primary_key[0]
    sample = review_store.find_sample(conn, system=call.system, env=call.env,
                                      week=week_of(call.time))
    joined = None
    if sample is not None and call.id not in review_store.items(conn, sample.id):
        position = conn.execute(select(func.coalesce(func.max(review_items.c.position), -1))
                                .where(review_items.c.sample_id == sample.id)).scalar_one()
        conn.execute(insert(review_items).values(sample_id=sample.id, position=position + 1,
                                                 call_id=call.id, stratum=stratum(source)))
        joined = sample.id
    audit.append(conn, actor=actor, action="call.flag", object_type="call", object_id=call.id,
                 system=call.system, payload={"flag_id": flag_id, "source": source,
                                              "reason_sha256": text_hash(reason),
                                              "joined_sample": joined})
    return Flag(id=flag_id, **values), True


def in_week(conn: Connection, *, system: str, env: str, start: datetime,
            end: datetime) -> list[tuple[str, str]]:
    """(call id, source) of the flagged calls made in [start, end), oldest call first."""
    query = (select(call_flags.c.call_id, call_flags.c.source)
             .join(calls, calls.c.id == call_flags.c.call_id)
             .where(call_flags.c.system == system, call_flags.c.env == env,
                    calls.c.time >= start, calls.c.time < end)
             .order_by(call_flags.c.call_id).limit(MAX_FLAGGED))
    return [(r.call_id, r.source) for r in conn.execute(query)]


def for_system(conn: Connection, system: str, *, limit: int = 100) -> list[Flag]:
    query = (select(call_flags).where(call_flags.c.system == system)
             .order_by(call_flags.c.id.desc()).limit(limit))
    return [Flag(**r._mapping) for r in conn.execute(query)]


def for_call(conn: Connection, call_id: str) -> Flag | None:
    row = conn.execute(select(call_flags).where(call_flags.c.call_id == call_id)).first()
    return Flag(**row._mapping) if row else None
