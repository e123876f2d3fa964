"""Alert state, alert events and their deliveries (the outbox).

A state change that matters (an alert fires or resolves) is written as an
event, its audit entry and one pending delivery per channel, all in the
caller's ``Store.write()`` transaction. Sending happens afterwards, outside
any lock; a claim makes sure two monitors never send the same delivery twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, delete, insert, or_, select, update

from trimtab.jsontext import canonical_json
from trimtab.store import audit
from trimtab.store.filters import matching
from trimtab.store.schema.monitoring import alert_deliveries, alert_events, alert_state

ALL_ENVS = "*"


@dataclass(frozen=True)
class AlertState:
    rule: str
    system: str
    env: str
    state: str  # ok | no_data | pending | firing | resolved
    value: float | None
    since: datetime
    active_since: datetime | None
    evaluated_at: datetime

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.rule, self.system, self.env)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule, "system": self.system,
            "env": None if self.env == ALL_ENVS else self.env, "state": self.state,
            "value": self.value, "since": self.since.isoformat(),
            "active_since": self.active_since.isoformat() if self.active_since else None,
            "evaluated_at": self.evaluated_at.isoformat(),
        }


@dataclass(frozen=True)
class AlertEvent:
    id: int
    time: datetime
    rule: str
    system: str
    env: str
    state: str  # firing | resolved
    severity: str
    metric: str
    value: float | None
    threshold: float
    payload: str

    @property
    def document(self) -> dict[str, Any]:
        return json.loads(self.payload)

    def to_dict(self) -> dict[str, Any]:
        return self.document


@dataclass(frozen=True)
class Delivery:
    event_id: int
    target: str  # a channel name, or "run:" for the rule's command
    status: str  # pending | sending | sent | failed | gave_up
    attempts: int
    detail: str | None
    updated_at: datetime


# --- state ----------------------------------------------------------------------


def states(conn: Connection) -> dict[tuple[str, str, str], AlertState]:
    return {s.key: s for s in (AlertState(**r._mapping) for r in conn.execute(
        select(alert_state).order_by(alert_state.c.rule, alert_state.c.system,
                                     alert_state.c.env)))}


def put_state(conn: Connection, state: AlertState, *, existed: bool) -> None:
    values = {k: getattr(state, k) for k in (
        "state", "value", "since", "active_since", "evaluated_at")}
    if existed:
        conn.execute(update(alert_state).where(
            alert_state.c.rule == state.rule, alert_state.c.system == state.system,
            alert_state.c.env == state.env).values(**values))
    else:
        conn.execute(insert(alert_state).values(
            rule=state.rule, system=state.system, env=state.env, **values))


def forget(conn: Connection, keys: list[tuple[str, str, str]]) -> int:
    """Drop the state of these (rule, system, env): what the project file no longer
    watches (a rule removed, a system or environment no longer declared or named)."""
    dropped = 0
    for rule, system, env in keys:
        dropped += conn.execute(delete(alert_state).where(
            alert_state.c.rule == rule, alert_state.c.system == system,
            alert_state.c.env == env)).rowcount
    return dropped


# --- events ---------------------------------------------------------------------


def add_event(
    conn: Connection,
    *,
    document: dict[str, Any],
    targets: list[str],
    actor: str,
) -> AlertEvent:
    """Store one event, its audit entry and a pending delivery per target.

    ``document`` is the payload channels receive; its ``event_id`` is filled in
    here, once the row has one.
    """
    time = datetime.fromisoformat(document["time"])
    env = document["env"] or ALL_ENVS
    row = dict(
        time=time, rule=document["rule"], system=document["system"], env=env,
        state=document["state"], severity=document["severity"], metric=document["metric"],
        value=document["value"], threshold=document["threshold"], payload="{}",
    )
    event_id = conn.execute(insert(alert_events).values(**row)).inserted_primary_key[0]
    document = {**document, "event_id": event_id}
    payload = canonical_json(document)
    conn.execute(update(alert_events).where(alert_events.c.id == event_id)
                 .values(payload=payload))
    for target in dict.fromkeys(targets):
        conn.execute(insert(alert_deliveries).values(
            event_id=event_id, target=target, status="pending", attempts=0, detail=None,
            updated_at=time))
    audit.append(
        conn, actor=actor, action=f"alert.{document['state']}", object_type="alert",
        object_id=f"{document['rule']}/{document['system']}/{env}", system=document["system"],
        payload={k: document[k] for k in (
            "event_id", "rule", "env", "metric", "value", "comparator", "threshold", "window",
            "severity", "reason")},
    )
    return AlertEvent(id=event_id, **{**row, "payload": payload})


def events(
    conn: Connection,
    *,
    rule: str | None = None,
    system: str | None = None,
    since: datetime | None = None,
    limit: int | None = 50,
) -> list[AlertEvent]:
    """Newest first."""
    query = matching(select(alert_events).order_by(alert_events.c.id.desc()), alert_events,
                     rule=rule, system=system, since=since)
    if limit is not None:
        query = query.limit(limit)
    return [AlertEvent(**r._mapping) for r in conn.execute(query)]


def latest_event(conn: Connection, rule: str, system: str, env: str) -> AlertEvent | None:
    """The newest event of one (rule, system, env)."""
    row = conn.execute(select(alert_events).where(
        alert_events.c.rule == rule, alert_events.c.system == system,
        alert_events.c.env == env).order_by(alert_events.c.id.desc()).limit(1)).first()
    return AlertEvent(**row._mapping) if row else None


def get_event(conn: Connection, event_id: int) -> AlertEvent | None:
    row = conn.execute(select(alert_events).where(alert_events.c.id == event_id)).first()
    return AlertEvent(**row._mapping) if row else None


# --- deliveries -----------------------------------------------------------------


def deliveries(conn: Connection, event_ids: list[int]) -> dict[int, list[Delivery]]:
    found: dict[int, list[Delivery]] = {i: [] for i in event_ids}
    if not event_ids:
        return found
    query = select(alert_deliveries).where(alert_deliveries.c.event_id.in_(event_ids)) \
        .order_by(alert_deliveries.c.event_id, alert_deliveries.c.target)
    for row in conn.execute(query):
        found[row.event_id].append(Delivery(**row._mapping))
    return found


def due(conn: Connection, *, now: datetime, stale: timedelta) -> list[Delivery]:
    """Deliveries to try now: pending or failed ones, and any left 'sending' by
    a monitor that died (older than ``stale``). Oldest event first."""
    query = select(alert_deliveries).where(or_(
        alert_deliveries.c.status.in_(("pending", "failed")),
        and_(alert_deliveries.c.status == "sending",
             alert_deliveries.c.updated_at < now - stale),
    )).order_by(alert_deliveries.c.event_id, alert_deliveries.c.target)
    return [Delivery(**r._mapping) for r in conn.execute(query)]


def claim(conn: Connection, delivery: Delivery, *, now: datetime) -> bool:
    """Take a delivery for sending; False when another monitor took it first."""
    result = conn.execute(update(alert_deliveries).where(
        alert_deliveries.c.event_id == delivery.event_id,
        alert_deliveries.c.target == delivery.target,
        alert_deliveries.c.status == delivery.status,
        alert_deliveries.c.attempts == delivery.attempts,
    ).values(status="sending", attempts=delivery.attempts + 1, updated_at=now))
    return result.rowcount == 1


def finish(conn: Connection, event_id: int, target: str, *, status: str, detail: str | None,
           now: datetime) -> None:
    conn.execute(update(alert_deliveries).where(
        alert_deliveries.c.event_id == event_id, alert_deliveries.c.target == target,
    ).values(status=status, detail=detail, updated_at=now))
