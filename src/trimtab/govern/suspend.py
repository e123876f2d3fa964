"""The kill switch (EU AI Act Art. 14: a way to stop a system and bring it to a
safe state): a suspended system answers every call, SDK and gateway alike,
with its declared safe answer instead of calling a model, recorded as
``suspended``.

The safe answer is the system's ``when_suspended:`` in trimtab.yaml (a fixed
reply, a refusal, or an error the application handles), taken when the
suspension is made; without one, calls fail with an error naming the
suspension. Suspending and resuming are audited changes, so every runtime
learns of them through the store's change signal within a second.
"""

from __future__ import annotations

from trimtab.errors import TrimtabError
from trimtab.project.models import Project
from trimtab.store import Store
from trimtab.store import suspensions as suspension_store
from trimtab.store import systems as system_store
from trimtab.store.suspensions import Suspension


def safe_answer(project: Project, system: str, env: str) -> tuple[str, str]:
    """(mode, text) the system answers while suspended."""
    declared = project.system(system).when_suspended
    if declared is None:
        return "error", (f"{system} is suspended in {env}. Fix: declare `when_suspended:` "
                         "for a safe answer, or `trimtab resume` it.")
    return declared.mode, declared.message


def high_risk(project: Project, system: str) -> bool:
    return project.system(system).risk == "high"


def suspend(store: Store, project: Project, system: str, env: str, *, reason: str,
            actor: str) -> Suspension:
    if not reason.strip():
        raise TrimtabError("a suspension needs --reason: it is kept in the audit trail.")
    project.check_env(env)
    mode, message = safe_answer(project, system, env)
    with store.write() as conn:
        system_store.get(conn, system)  # a system trimtab knows (released or synced)
        if suspension_store.current(conn, system, env) is not None:
            raise TrimtabError(f"{system} is already suspended in {env}.")
        return suspension_store.suspend(conn, system=system, env=env, mode=mode,
                                        message=message, reason=reason, actor=actor)


def resume(store: Store, project: Project, system: str, env: str, *, reason: str,
           actor: str) -> Suspension:
    if not reason.strip():
        raise TrimtabError("resuming needs --reason: it is kept in the audit trail.")
    project.check_env(env)
    with store.write() as conn:
        was = suspension_store.current(conn, system, env)
        if was is None:
            raise TrimtabError(f"{system} is not suspended in {env}; nothing to resume.")
        suspension_store.resume(conn, system=system, env=env, reason=reason, actor=actor,
                                was=was)
        return was


def suspended(store: Store) -> list[Suspension]:
    with store.read() as conn:
        return suspension_store.all_current(conn)
