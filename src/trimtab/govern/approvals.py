"""Two-person approval: a promotion to a protected environment waits for approvers.

An environment policy in trimtab.yaml (``policies: {production: {approvals: 2}}``,
optionally only for some risk levels) turns a promotion there into a pending
request. Approvers other than the requester approve it, each once; when the
quorum is reached the promotion applies, through the same path (and the same
eval gates) as any promotion, as the requester. One rejection ends it; so does
its expiry. Every step is audited, and so is every attempt the rules refuse:
self-approval, approving another release than the one requested, approving
twice, approving after a rejection, an expiry or the promotion itself. An
approval from a removed user or a revoked token is refused before it gets
here (trimtab.govern.roles), and audited there.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from trimtab.errors import NotFound, TrimtabError
from trimtab.project.alert_rules import parse_duration
from trimtab.project.governance import PolicySpec
from trimtab.project.models import Project
from trimtab.store import Store
from trimtab.store import approvals as approval_store
from trimtab.store import releases as release_store
from trimtab.store.approvals import ApprovalRequest
from trimtab.store.deployments import Deployment


class ApprovalRefused(TrimtabError):
    """The approval rules turned an attempt down (the attempt is audited)."""


def policy(project: Project, system: str, env: str) -> PolicySpec | None:
    """The policy that protects ``env`` for ``system``, if any."""
    found = project.spec.policies.get(env)
    if found is None:
        return None
    if found.risk is not None and project.system(system).risk not in found.risk:
        return None
    return found


def hold(store: Store, project: Project, system: str, ref: str, env: str, reason: str, *,
         canary: int | None, shadow: int | None, actor: str) -> ApprovalRequest | None:
    """The promote path's hook: a pending request when ``env`` needs approval,
    else None and the promotion goes ahead. A shadow answers no one: not held."""
    protecting = policy(project, system, env) if shadow is None else None
    if protecting is None:
        return None
    project.check_env(env)
    expires_at = datetime.now(UTC) + parse_duration(protecting.expires)
    with store.write() as conn:
        release = release_store.resolve(conn, ref, system=system)
        return approval_store.create(
            conn, system=system, env=env, release_id=release.id,
            mode="canary" if canary is not None else "promote", percent=canary,
            reason=reason, requested_by=actor, required=protecting.approvals,
            expires_at=expires_at)


def approve(store: Store, request_ref: str, *, actor: str, release: str | None,
            comment: str, apply: Callable[[ApprovalRequest], Deployment | None],
            now: datetime | None = None) -> tuple[ApprovalRequest, Deployment | None]:
    """Count ``actor``'s approval; at the quorum, apply the promotion. Returns the
    request as it now stands and the deployment when it applied."""
    now = now or datetime.now(UTC)
    with store.write() as conn:
        request = approval_store.get(conn, request_ref)
        why = _closed(request, now) or _not_theirs(request, actor)
        if why is None and release is not None:
            why = _other_release(conn, request, release)
        if why is None:
            request = approval_store.vote(conn, request, approver=actor, decision="approve",
                                          release_id=request.release_id, reason=comment)
            if len(request.approvals) >= request.required:
                request = approval_store.set_state(
                    conn, request, "approved", actor=actor,
                    details={"approvers": request.approvals})
    if why is not None:
        _refuse(store, request, actor, why, now)
    if request.state != "approved":
        return request, None
    deployment = apply(request)  # the promotion's own transaction, gates and audit
    with store.write() as conn:
        request = approval_store.set_state(
            conn, request, "applied", actor=actor,
            deployment_id=deployment.id if deployment else None,
            details={"approvers": request.approvals})
    return request, deployment


def reject(store: Store, request_ref: str, *, actor: str, reason: str,
           now: datetime | None = None) -> ApprovalRequest:
    if not reason.strip():
        raise TrimtabError("a rejection needs --reason: the requester reads it.")
    now = now or datetime.now(UTC)
    with store.write() as conn:
        request = approval_store.get(conn, request_ref)
        why = _closed(request, now)
        if why is None and any(v.approver == actor for v in request.votes):
            why = f"{actor} already decided on it"
        if why is None:
            request = approval_store.vote(conn, request, approver=actor, decision="reject",
                                          release_id=request.release_id, reason=reason)
            return approval_store.set_state(conn, request, "rejected", actor=actor,
                                            details={"reason": reason})
    _refuse(store, request, actor, why, now, verb="reject")
    raise AssertionError("unreachable")


def requests(store: Store, *, include_closed: bool = False,
             system: str | None = None) -> list[ApprovalRequest]:
    with store.read() as conn:
        return approval_store.list_all(
            conn, states=None if include_closed else ("pending", "approved"), system=system)


def _closed(request: ApprovalRequest, now: datetime) -> str | None:
    if request.state == "rejected":
        return "it was rejected; a rejected request cannot be approved. Fix: promote again " \
            "to ask anew"
    if request.state == "applied":
        return "it was already approved and applied"
    if request.state == "expired" or (request.state == "pending" and request.expires_at <= now):
        return f"it expired at {request.expires_at:%Y-%m-%d %H:%M} UTC. Fix: promote again " \
            "to ask anew"
    return None


def _not_theirs(request: ApprovalRequest, actor: str) -> str | None:
    if actor == request.requested_by:
        return "the requester cannot approve their own promotion: another approver must"
    if any(v.approver == actor for v in request.votes):
        return f"{actor} already approved it; each approver counts once"
    return None


#: The fewest characters of a release id ``--release`` takes, as the HTTP API's
#: approve (web/schemas.py REF_PATTERN): one or two characters name no release
#: an approver could have reviewed.
MIN_RELEASE_REF = 4


def _other_release(conn, request: ApprovalRequest, ref: str) -> str | None:
    """Why ``ref`` is not the requested release, or None when it is. ``ref`` resolves
    as promote resolves a release (hexadecimal, a unique prefix) within the request's
    system, then full ids compare: a prefix that merely begins the requested id does
    not vouch for it. A reference that names nothing usable is a usage error."""
    ref = ref.strip().lower()
    if len(ref) < MIN_RELEASE_REF:
        raise TrimtabError(
            f"--release {ref!r}: too short to name the release you reviewed. Fix: give at "
            f"least {MIN_RELEASE_REF} characters of its id (`trimtab releases "
            f"{request.system}` lists them).")
    try:
        named = release_store.resolve(conn, ref, system=request.system)
    except NotFound:
        named = None
    except TrimtabError as exc:
        raise TrimtabError(f"--release: {exc}") from None
    if named is not None and named.id == request.release_id:
        return None
    return (f"it asks for release {request.release_id[:12]}, not {ref}: an approval is for "
            "exactly the release requested")


def _refuse(store: Store, request: ApprovalRequest, actor: str, why: str,
            now: datetime, verb: str = "approve") -> None:
    """Audit the refusal (and an expiry found on the way), then raise."""
    with store.write() as conn:
        if request.state == "pending" and request.expires_at <= now:
            approval_store.set_state(conn, request, "expired", actor=actor)
        approval_store.refused(conn, actor=actor, request_id=request.id,
                               system=request.system, reason=why)
    raise ApprovalRefused(f"cannot {verb} request {request.id}: {why}.")
