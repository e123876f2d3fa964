"""Promotion requests held for approval and the approvers' decisions.

The rules (who may approve, quorum, expiry) live in trimtab.govern.approvals;
this module stores requests and votes, each change with its audit entry.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from trimtab.errors import NotFound, TrimtabError
from trimtab.store import audit
from trimtab.store.schema.base import utcnow
from trimtab.store.schema.governance import approval_requests, approval_votes


@dataclass(frozen=True)
class Vote:
    approver: str
    decision: str
    release_id: str
    reason: str
    time: datetime


@dataclass(frozen=True)
class ApprovalRequest:
    id: str
    system: str
    env: str
    release_id: str
    mode: str
    percent: int | None
    reason: str
    requested_by: str
    requested_at: datetime
    required: int
    expires_at: datetime
    state: str
    decided_at: datetime | None
    deployment_id: int | None
    votes: tuple[Vote, ...] = ()

    @property
    def approvals(self) -> list[str]:
        return [v.approver for v in self.votes if v.decision == "approve"]

    def to_dict(self) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in (
            "id", "system", "env", "release_id", "mode", "percent", "reason", "requested_by",
            "required", "state", "deployment_id")}
        for k in ("requested_at", "expires_at", "decided_at"):
            value = getattr(self, k)
            data[k] = value.isoformat() if value else None
        data["votes"] = [{"approver": v.approver, "decision": v.decision,
                          "release_id": v.release_id, "reason": v.reason,
                          "time": v.time.isoformat()} for v in self.votes]
        return data


def _request(conn: Connection, row) -> ApprovalRequest:
    votes = tuple(
        Vote(approver=v.approver, decision=v.decision, release_id=v.release_id,
             reason=v.reason, time=v.time)
        for v in conn.execute(select(approval_votes)
                              .where(approval_votes.c.request_id == row.id)
                              .order_by(approval_votes.c.time)))
    return ApprovalRequest(**{k: getattr(row, k) for k in row._fields}, votes=votes)


def create(conn: Connection, *, system: str, env: str, release_id: str, mode: str,
           percent: int | None, reason: str, requested_by: str, required: int,
           expires_at: datetime) -> ApprovalRequest:
    request_id = secrets.token_hex(4)
    conn.execute(insert(approval_requests).values(
        id=request_id, system=system, env=env, release_id=release_id, mode=mode,
        percent=percent, reason=reason, requested_by=requested_by, requested_at=utcnow(),
        required=required, expires_at=expires_at, state="pending"))
    audit.append(conn, actor=requested_by, action="approval.request",
                 object_type="approval", object_id=request_id, system=system,
                 payload={"env": env, "release": release_id, "mode": mode, "percent": percent,
                          "reason": reason, "required": required,
                          "expires_at": expires_at.isoformat()})
    return get(conn, request_id)


def get(conn: Connection, ref: str) -> ApprovalRequest:
    """By id, or a unique prefix of one."""
    rows = conn.execute(select(approval_requests)
                        .where(approval_requests.c.id.startswith(ref, autoescape=True))
                        .limit(2)).all() if ref else []
    if len(rows) != 1:
        what = "no" if not rows else "more than one"
        error = TrimtabError if rows else NotFound
        raise error(f"{what} approval request matches {ref!r}. Fix: see `trimtab approvals` "
                    "for the ids.")
    return _request(conn, rows[0])


def list_all(conn: Connection, *, states: tuple[str, ...] | None = None,
             system: str | None = None) -> list[ApprovalRequest]:
    query = select(approval_requests).order_by(approval_requests.c.requested_at)
    if states is not None:
        query = query.where(approval_requests.c.state.in_(states))
    if system is not None:
        query = query.where(approval_requests.c.system == system)
    return [_request(conn, r) for r in conn.execute(query)]


def vote(conn: Connection, request: ApprovalRequest, *, approver: str, decision: str,
         release_id: str, reason: str) -> ApprovalRequest:
    conn.execute(insert(approval_votes).values(
        request_id=request.id, approver=approver, decision=decision, release_id=release_id,
        reason=reason, time=utcnow()))
    audit.append(conn, actor=approver, action=f"approval.{decision}", object_type="approval",
                 object_id=request.id, system=request.system,
                 payload={"env": request.env, "release": release_id, "reason": reason})
    return get(conn, request.id)


def set_state(conn: Connection, request: ApprovalRequest, state: str, *, actor: str,
              deployment_id: int | None = None, details: dict | None = None) -> ApprovalRequest:
    conn.execute(update(approval_requests).where(approval_requests.c.id == request.id)
                 .values(state=state, decided_at=utcnow(), deployment_id=deployment_id))
    audit.append(conn, actor=actor, action=f"approval.{state}", object_type="approval",
                 object_id=request.id, system=request.system,
                 payload={"env": request.env, "release": request.release_id,
                          "deployment": deployment_id, **(details or {})})
    return get(conn, request.id)


def refused(conn: Connection, *, actor: str, request_id: str, system: str | None,
            reason: str, details: dict | None = None) -> None:
    """An attempt that the rules turned down, kept in the trail."""
    audit.append(conn, actor=actor, action="approval.refused", object_type="approval",
                 object_id=request_id, system=system, payload={"reason": reason,
                                                               **(details or {})})
