"""Independent reviews of a system and their findings: who from outside the
team looked at it, when, at what, and what they found. Evidence for check G6.

A finding is tracked: it stays open with a due date until someone closes it
with a resolution. Recording a review and closing a finding are audited like
any other governance change.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from trimtab.errors import TrimtabError
from trimtab.store import audit
from trimtab.store.ids import new_call_id
from trimtab.store.schema.base import utcnow
from trimtab.store.schema.governance import assurance_findings, assurance_reviews

OPEN, CLOSED = "open", "closed"


@dataclass(frozen=True)
class Finding:
    id: str  # 16 random hex characters: short to type, any prefix is unambiguous soon
    review_id: str
    system: str
    number: int  # 1, 2, ... within its review
    text: str
    status: str  # open | closed
    due_at: datetime
    closed_at: datetime | None
    closed_by: str | None
    resolution: str | None

    def overdue(self, now: datetime) -> bool:
        return self.status == OPEN and self.due_at < now

    def to_dict(self) -> dict:
        data = dict(self.__dict__)
        for key in ("due_at", "closed_at"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


@dataclass(frozen=True)
class IndependentReview:
    id: str
    system: str
    reviewer: str
    organisation: str
    reviewed_at: datetime
    scope: str
    recorded_at: datetime
    actor: str
    findings: tuple[Finding, ...] = ()

    def open_findings(self) -> list[Finding]:
        return [f for f in self.findings if f.status == OPEN]

    def to_dict(self) -> dict:
        data = {k: getattr(self, k) for k in ("id", "system", "reviewer", "organisation",
                                              "scope", "actor")}
        data["reviewed_at"] = self.reviewed_at.isoformat()
        data["recorded_at"] = self.recorded_at.isoformat()
        data["findings"] = [f.to_dict() for f in self.findings]
        return data


def record(conn: Connection, *, system: str, reviewer: str, organisation: str,
           reviewed_at: datetime, scope: str, findings: list[str], due_at: datetime,
           actor: str) -> IndependentReview:
    row = {"id": new_call_id(), "system": system, "reviewer": reviewer,
           "organisation": organisation, "reviewed_at": reviewed_at, "scope": scope,
           "recorded_at": utcnow(), "actor": actor}
    conn.execute(insert(assurance_reviews).values(**row))
    for number, text in enumerate(findings, 1):
        conn.execute(insert(assurance_findings).values(
            id=secrets.token_hex(8), review_id=row["id"], system=system, number=number, text=text,
            status=OPEN, due_at=due_at, closed_at=None, closed_by=None, resolution=None))
    audit.append(conn, actor=actor, action="assurance.review", object_type="assurance_review",
                 object_id=row["id"], system=system,
                 payload={"reviewer": reviewer, "organisation": organisation,
                          "reviewed_at": reviewed_at.isoformat(), "scope": scope,
                          "findings": findings, "due_at": due_at.isoformat()})
    return _with_findings(conn, [IndependentReview(**row)])[0]


def close_finding(conn: Connection, finding: Finding, *, resolution: str,
                  actor: str) -> Finding:
    moment = utcnow()
    conn.execute(update(assurance_findings).where(assurance_findings.c.id == finding.id)
                 .values(status=CLOSED, closed_at=moment, closed_by=actor,
                         resolution=resolution))
    audit.append(conn, actor=actor, action="assurance.finding.close",
                 object_type="assurance_finding", object_id=finding.id, system=finding.system,
                 payload={"review_id": finding.review_id, "number": finding.number,
                          "resolution": resolution})
    return get_finding(conn, finding.id)


def get_finding(conn: Connection, ref: str) -> Finding:
    rows = conn.execute(select(assurance_findings).where(
        assurance_findings.c.id.startswith(ref, autoescape=True)).limit(2)).all() if ref else []
    if len(rows) != 1:
        what = "no" if not rows else "more than one"
        raise TrimtabError(f"{what} finding matches {ref!r}. Fix: see `trimtab assurance "
                           "findings` for the ids.")
    return Finding(**rows[0]._mapping)


def for_system(conn: Connection, system: str | None = None,
               limit: int = 200) -> list[IndependentReview]:
    """Newest first, each with its findings in order."""
    query = (select(assurance_reviews)
             .order_by(assurance_reviews.c.reviewed_at.desc(), assurance_reviews.c.id.desc())
             .limit(limit))
    if system is not None:
        query = query.where(assurance_reviews.c.system == system)
    return _with_findings(conn, [IndependentReview(**r._mapping) for r in conn.execute(query)])


def _with_findings(conn: Connection,
                   reviews: list[IndependentReview]) -> list[IndependentReview]:
    if not reviews:
        return []
    found: dict[str, list[Finding]] = {r.id: [] for r in reviews}
    rows = conn.execute(select(assurance_findings)
                        .where(assurance_findings.c.review_id.in_(list(found)))
                        .order_by(assurance_findings.c.number))
    for r in rows:
        found[r.review_id].append(Finding(**r._mapping))
    return [IndependentReview(**{**r.__dict__, "findings": tuple(found[r.id])})
            for r in reviews]
