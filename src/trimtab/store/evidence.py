"""The rows an evidence bundle holds for one system since a moment, streamed.

Each table's rows come out exactly as stored (JSON text columns stay text, so
an audit payload can be re-hashed from the bundle), oldest first, in batches,
so a bundle of a million calls never sits in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, Table, func, or_, select

from trimtab.store.schema.audit_chain import audit
from trimtab.store.schema.call_log import calls, recording_drops
from trimtab.store.schema.governance import (
    approval_requests,
    approval_votes,
    assurance_findings,
    assurance_reviews,
    drills,
    freezes,
    incident_notes,
    incidents,
    legal_holds,
    suspensions,
)
from trimtab.store.schema.monitoring import alert_events, drift_results
from trimtab.store.schema.quality import (
    call_flags,
    eval_runs,
    labels,
    review_items,
    review_samples,
    reviews,
    scores,
)
from trimtab.store.schema.release_history import deployments, releases, systems

#: What a bundle holds, in this order: (name, table).
TABLES: tuple[tuple[str, Table], ...] = (
    ("systems", systems),
    ("calls", calls), ("recording_drops", recording_drops), ("releases", releases),
    ("deployments", deployments), ("suspensions", suspensions),
    ("audit", audit), ("approval_requests", approval_requests),
    ("approval_votes", approval_votes), ("incidents", incidents),
    ("incident_notes", incident_notes), ("freezes", freezes), ("legal_holds", legal_holds),
    ("drills", drills), ("assurance_reviews", assurance_reviews),
    ("assurance_findings", assurance_findings), ("eval_runs", eval_runs),
    ("review_samples", review_samples), ("review_items", review_items), ("reviews", reviews),
    ("scores", scores), ("call_flags", call_flags), ("labels", labels),
    ("alert_events", alert_events), ("drift_results", drift_results),
)

#: Tables read as "the system's rows since T" by their time column.
_BY_TIME: dict[str, tuple[Table, str]] = {
    "recording_drops": (recording_drops, "time"),  # records the log is missing (Art. 12)
    "suspensions": (suspensions, "time"),  # the kill switch used and lifted (Art. 14)
    "scores": (scores, "time"), "call_flags": (call_flags, "time"),
    "alert_events": (alert_events, "time"), "drift_results": (drift_results, "time"),
}

BATCH = 2000


def _system_id(conn: Connection, system: str) -> int | None:
    return conn.execute(select(systems.c.id).where(systems.c.name == system)).scalar()


def _in_window(started, ended, since: datetime):
    """A record with a span (an incident, a freeze, a hold) that was in force at any time
    since ``since``: it began since, or has not ended, or ended since."""
    return or_(started >= since, ended.is_(None), ended >= since)


def query(conn: Connection, name: str, system: str, since: datetime) -> Select:
    """The rows of table ``name`` that belong in ``system``'s bundle from ``since``."""
    sid = _system_id(conn, system)
    if name == "systems":  # the inventory record (owner, risk, tier), however old
        return select(systems).where(systems.c.name == system)
    if name in _BY_TIME:
        table, column = _BY_TIME[name]
        return select(table).where(table.c.system == system, table.c[column] >= since) \
            .order_by(table.c[column], table.c.id)
    samples = select(review_samples.c.id).where(review_samples.c.system == system,
                                                review_samples.c.drawn_at >= since)
    if name == "review_samples":  # which calls people were asked to review, and how drawn
        return select(review_samples).where(review_samples.c.id.in_(samples)) \
            .order_by(review_samples.c.drawn_at, review_samples.c.id)
    if name == "review_items":
        return select(review_items).where(review_items.c.sample_id.in_(samples)) \
            .order_by(review_items.c.sample_id, review_items.c.position)
    if name == "calls":
        return select(calls).where(calls.c.system == system, calls.c.time >= since) \
            .order_by(calls.c.time, calls.c.id)
    if name == "releases":  # every release of the system: the active ones may be older
        return select(releases).where(releases.c.system_id == sid) \
            .order_by(releases.c.created_at, releases.c.id)
    if name == "deployments":
        return select(deployments).where(deployments.c.system_id == sid,
                                         deployments.c.created_at >= since) \
            .order_by(deployments.c.id)
    if name == "audit":
        return select(audit).where(audit.c.system == system, audit.c.time >= since) \
            .order_by(audit.c.seq)
    requests = select(approval_requests.c.id).where(
        approval_requests.c.system == system, approval_requests.c.requested_at >= since)
    if name == "approval_requests":
        return select(approval_requests).where(approval_requests.c.id.in_(requests)) \
            .order_by(approval_requests.c.requested_at, approval_requests.c.id)
    if name == "approval_votes":
        return select(approval_votes).where(approval_votes.c.request_id.in_(requests)) \
            .order_by(approval_votes.c.time, approval_votes.c.approver)
    # Incidents open at any time in the window: opened since, or still open, or closed since.
    relevant = select(incidents.c.id).where(
        incidents.c.system == system, _in_window(incidents.c.opened_at, incidents.c.closed_at,
                                                 since))
    if name == "incidents":
        return select(incidents).where(incidents.c.id.in_(relevant)) \
            .order_by(incidents.c.aware_at, incidents.c.id)
    if name == "incident_notes":
        return select(incident_notes).where(incident_notes.c.incident_id.in_(relevant)) \
            .order_by(incident_notes.c.id)
    if name == "eval_runs":
        return select(eval_runs).where(eval_runs.c.system == system,
                                       eval_runs.c.started_at >= since) \
            .order_by(eval_runs.c.started_at, eval_runs.c.id)
    if name == "reviews":
        return select(reviews).where(reviews.c.system == system, reviews.c.time >= since) \
            .order_by(reviews.c.time, reviews.c.id)
    if name == "labels":
        return select(labels).where(labels.c.system == system, labels.c.time >= since) \
            .order_by(labels.c.time, labels.c.call_id)
    # A freeze or a hold in force at any time in the window.
    if name == "freezes":
        return select(freezes).where(freezes.c.system == system, _in_window(
            freezes.c.frozen_at, freezes.c.lifted_at, since)).order_by(freezes.c.id)
    if name == "legal_holds":
        return select(legal_holds).where(legal_holds.c.system == system, _in_window(
            legal_holds.c.placed_at, legal_holds.c.released_at, since)) \
            .order_by(legal_holds.c.id)
    if name == "drills":
        return select(drills).where(drills.c.system == system, drills.c.held_at >= since) \
            .order_by(drills.c.held_at, drills.c.id)
    # Independent reviews held since, and older ones whose findings were open in the
    # window (still open, or closed since): what an auditor follows up.
    followed = select(assurance_findings.c.review_id).where(
        assurance_findings.c.system == system,
        or_(assurance_findings.c.closed_at.is_(None), assurance_findings.c.closed_at >= since))
    reviewed = select(assurance_reviews.c.id).where(
        assurance_reviews.c.system == system,
        or_(assurance_reviews.c.reviewed_at >= since, assurance_reviews.c.id.in_(followed)))
    if name == "assurance_reviews":
        return select(assurance_reviews).where(assurance_reviews.c.id.in_(reviewed)) \
            .order_by(assurance_reviews.c.reviewed_at, assurance_reviews.c.id)
    if name == "assurance_findings":
        return select(assurance_findings).where(assurance_findings.c.review_id.in_(reviewed)) \
            .order_by(assurance_findings.c.review_id, assurance_findings.c.number)
    raise KeyError(name)


def count(conn: Connection, name: str, system: str, since: datetime) -> int:
    inner = query(conn, name, system, since).order_by(None).subquery()
    return conn.execute(select(func.count()).select_from(inner)).scalar_one()


def columns(name: str) -> list[str]:
    return [c.name for c in dict(TABLES)[name].columns]


def rows(conn: Connection, name: str, system: str, since: datetime) -> Iterator[tuple[Any, ...]]:
    """Each row's stored values in ``columns(name)`` order, oldest first, fetched in batches."""
    result = conn.execution_options(yield_per=BATCH).execute(query(conn, name, system, since))
    for row in result:
        yield tuple(row)
