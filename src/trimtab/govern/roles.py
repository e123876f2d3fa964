"""Who may change what: roles, the least role each change needs, and the check.

Five roles, each holding the powers of those before it:

- viewer: reads everything (status, calls, metrics, the audit trail);
- reviewer: also scores calls (human review) and stores their true labels;
- operator: also syncs, releases, promotes and rolls back where no approval
  policy applies, takes drift baselines, suspends systems, opens and closes
  incidents (and with them freezes and legal holds);
- approver: also approves or rejects promotion requests, rolls back in a
  protected environment, resumes a high-risk system, records independent
  reviews and closes their findings (the evidence of check G6), lifts an
  incident's freeze;
- admin: also manages users, roles, gateway keys, other people's tokens, pruning,
  erasure, database roles, overrides a freeze (``force`` with a reason), releases
  a legal hold.

A role is granted per project, or per system of it; the stronger of the two
counts. With no identities defined the store is in single-user mode: whoever
runs trimtab is its owner and admin, so a demo or a laptop needs no login.

The check runs in the domain layer (every write method of the Workspace calls
``authorize``), so the CLI, the Python API and any HTTP front end share it.
A refusal is itself audited (``access.denied``).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from trimtab.actor import acting_for, current_actor
from trimtab.errors import TrimtabError
from trimtab.project.models import Project
from trimtab.store import Store
from trimtab.store import audit as audit_store
from trimtab.store import identities as identity_store

ROLES = ("viewer", "reviewer", "operator", "approver", "admin")
RANK = {role: rank for rank, role in enumerate(ROLES)}
TOKEN_ENV = "TRIMTAB_TOKEN"

#: The least role each change needs. Whatever is not here only reads (viewer).
NEEDS: dict[str, str] = {
    "system.sync": "operator",
    "release.create": "operator",
    "deployment.promote": "operator",
    "gate.override": "admin",
    "eval.run": "operator",
    "deployment.rollback": "operator",
    "deployment.rollback.protected": "approver",
    "score.add": "reviewer",
    "label.add": "reviewer",
    "review.sample": "reviewer",
    "review.add": "reviewer",
    "call.flag": "viewer",
    "score.sample": "operator",
    "drift.baseline": "operator",
    "drift.check": "operator",
    "audit.checkpoint": "operator",
    "alerts.evaluate": "operator",
    "system.suspend": "operator",
    "system.resume": "operator",
    "system.resume.high-risk": "approver",
    "incident.manage": "operator",
    "assurance.manage": "approver",
    "incident.unfreeze": "approver",
    "freeze.override": "admin",
    "hold.release": "admin",
    "approval.decide": "approver",
    "token.create": "viewer",
    "token.manage": "admin",
    "identity.manage": "admin",
    "key.manage": "admin",
    "calls.prune": "admin",
    "db.roles": "admin",
    "calls.erase": "admin",
    "evidence.export": "operator",
}


class PermissionDenied(TrimtabError):
    """The acting identity lacks the role a change needs (or is no identity here)."""


def check_role(role: str) -> str:
    if role not in RANK:
        raise TrimtabError(f"unknown role {role!r}. Fix: use one of {', '.join(ROLES)}.")
    return role


def project_name(project: Project | None) -> str:
    return project.spec.project if project is not None else "default"


def acting(store: Store, *, token: str | None = None, claimed: str | None = None) -> str:
    """Who is acting: the caller a server authenticated (``acting_as``); else
    the owner of the token (``token`` or TRIMTAB_TOKEN) when one is given,
    which must be live; otherwise the claimed name (TRIMTAB_USER, git's
    user.email, the OS user)."""
    if token is None and acting_for() is not None:
        return acting_for() or ""  # a server authenticated this caller (acting_as)
    presented = token or os.environ.get(TOKEN_ENV, "").strip() or None
    if presented is None:
        return claimed or current_actor()
    with store.read() as conn:
        found = identity_store.authenticate(conn, presented, datetime.now(UTC))
    if found is None:
        raise PermissionDenied(
            f"{TOKEN_ENV if not token else 'the token'} is not a live token: unknown, expired, "
            "revoked, or its user was removed. Fix: ask an admin for a new one "
            "(`trimtab tokens create --user NAME`), or unset it.")
    return found.identity


def role_of(conn, name: str, project: str, system: str | None) -> str | None:
    """The strongest role ``name`` holds for ``system`` (or project-wide)."""
    best = None
    for grant in identity_store.grants_of(conn, name, project):
        if grant.system is not None and grant.system != system:
            continue
        if best is None or RANK[grant.role] > RANK[best]:
            best = grant.role
    return best


def authorize(store: Store, project: Project | None, action: str, *,
              system: str | None = None, token: str | None = None,
              claimed: str | None = None) -> str:
    """The name to record as actor when ``action`` is allowed; PermissionDenied
    (audited) when it is not."""
    needed = NEEDS.get(action, "viewer")
    name = acting(store, token=token, claimed=claimed)
    scope = project_name(project)
    with store.read() as conn:
        if not identity_store.any_live(conn):
            return name  # single-user mode: the workspace owner is admin
        identity = identity_store.find(conn, name)
        role = role_of(conn, name, scope, system) if identity and identity.live else None
    if identity is None or not identity.live:
        why = (f"{name!r} is not a user here" if identity is None
               else f"user {name!r} was removed")
        fix = ("set TRIMTAB_USER or TRIMTAB_TOKEN to your identity, or ask an admin to run "
               f"`trimtab users add {name} --role {needed}`")
    elif role is None or RANK[role] < RANK[needed]:
        held = f"is {role}" if role else "has no role"
        where = f" for system {system}" if system else f" in project {scope}"
        why = f"{name} {held}{where}; {action} needs {needed} or above"
        fix = f"ask an admin to run `trimtab users grant {name} {needed}" + \
            (f" --system {system}`" if system else "`")
    else:
        return name
    deny(store, name, action, system=system, reason=why)
    raise PermissionDenied(f"not allowed: {why}. Fix: {fix}.")


def deny(store: Store, actor: str, action: str, *, system: str | None, reason: str,
         details: dict | None = None) -> None:
    """Record a refused change in the audit trail (its own transaction: the
    refused change itself writes nothing)."""
    with store.write() as conn:
        audit_store.append(conn, actor=actor, action="access.denied", object_type="action",
                           object_id=action, system=system,
                           payload={"reason": reason, **(details or {})})


def whoami(store: Store, project: Project | None, *,
           token: str | None = None) -> tuple[str, str | None, bool]:
    """(who is acting, their project-wide role, whether the store is in single-user mode)."""
    name = acting(store, token=token)
    with store.read() as conn:
        if not identity_store.any_live(conn):
            return name, "admin", True
        identity = identity_store.find(conn, name)
        if identity is None or not identity.live:
            return name, None, False
        return name, role_of(conn, name, project_name(project), None), False
