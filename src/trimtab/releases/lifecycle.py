"""What happens to a release: snapshotted, compared, promoted, rolled back.

Each change is one transaction with its audit entry (written by the store),
named after who made it and the CI run it came from. The workspace calls
these with its store, its project file and its artefact store.
"""

from __future__ import annotations

from pathlib import Path

from trimtab.actor import ci_run_url, current_actor
from trimtab.errors import TrimtabError
from trimtab.project.models import Project
from trimtab.releases import order as promotion_order
from trimtab.releases import spec as release_specs
from trimtab.releases.artefacts import ArtefactStore
from trimtab.releases.diffs import SpecDiff, diff_specs
from trimtab.releases.gitinfo import git_state
from trimtab.store import Store
from trimtab.store import deployments as deployment_store
from trimtab.store import freezes as freeze_store
from trimtab.store import releases as release_store
from trimtab.store import systems as system_store
from trimtab.store.deployments import Deployment
from trimtab.store.releases import Release
from trimtab.store.systems import System


def sync(store: Store, project: Project, names: list[str] | None = None, *,
         actor: str | None = None) -> list[tuple[System, str]]:
    """Register or update systems from the project file (all when names is None)."""
    declared = project.spec.systems
    for name in names or []:
        project.system(name)
    actor = actor or current_actor()
    with store.write() as conn:
        return [
            system_store.register(conn, name, declared[name].declared(), actor=actor)
            for name in (names or list(declared))
        ]


def snapshot(store: Store, project: Project, artefacts: ArtefactStore, system: str,
             note: str = "", *, actor: str | None = None) -> tuple[Release, bool]:
    """Snapshot ``system`` as declared now. Returns (release, created)."""
    spec = release_specs.resolve_spec(project, system, artefacts)
    rid, text = release_specs.release_id(spec)
    git = git_state(project.root)
    actor = actor or current_actor()
    with store.write() as conn:
        stored, _ = system_store.register(conn, system, project.system(system).declared(),
                                          actor=actor)
        return release_store.create(
            conn, system_id=stored.id, system_name=system, release_id=rid,
            spec_json=text, note=note, actor=actor,
            git_commit=git.commit if git else None, git_dirty=git.dirty if git else None,
        )


def get(store: Store, ref: str, system: str | None = None) -> Release:
    with store.read() as conn:
        return release_store.resolve(conn, ref, system=system)


def diff(store: Store, old_ref: str, new_ref: str) -> tuple[Release, Release, SpecDiff]:
    old, new = get(store, old_ref), get(store, new_ref)
    changes = diff_specs(old.spec, new.spec, old_label=old.short_id, new_label=new.short_id)
    return old, new, changes


def fetch_artefact(store: Store, artefacts: ArtefactStore, ref: str, name: str,
                   destination: Path) -> Path:
    release = get(store, ref)
    declared = release.spec.get("artefacts", {})
    if name not in declared:
        raise TrimtabError(
            f"release {release.short_id} has no artefact {name!r}; it has: "
            f"{', '.join(declared) or 'none'}."
        )
    return artefacts.get(declared[name]["sha256"], destination)


def check_order(store: Store, project: Project, system: str, ref: str, env: str, *,
                skip_order: bool = False, reason: str = "") -> None:
    """Refuse a promotion out of the declared order before anything is written, so
    an approval request is never made for one (releases/order.py)."""
    project.check_env(env)
    with store.read() as conn:
        promotion_order.check(
            conn, system=system_store.get(conn, system), release=release_store.resolve(conn, ref),
            env=env, environments=project.environments, skip_order=skip_order, reason=reason,
        )


def check_not_frozen(store: Store, system: str, env: str, change: str, *,
                     override: str | None = None) -> None:
    """Refuse early (before an approval request is made) a change to a frozen
    system; the change itself checks again in its own transaction."""
    if not (override or "").strip():
        with store.read() as conn:  # without an override the guard only reads
            freeze_store.guard(conn, system, change=change, env=env, override=None, actor="")


def promote(store: Store, project: Project, system: str, ref: str, env: str, reason: str = "",
            *, canary: int | None = None, shadow: int | None = None,
            actor: str | None = None, skip_order: bool = False,
            freeze_override: str | None = None) -> Deployment | None:
    """Make a release active in ``env``, or start it as a canary or shadow; None
    when it already was active (see ``Workspace.promote``). Environments go in
    their declared order (releases/order.py) unless ``skip_order`` with a reason.
    A frozen system (store/freezes.py) refuses, unless ``freeze_override`` gives
    an admin's reason (the caller checked the role)."""
    project.check_env(env)
    if canary is not None and shadow is not None:
        raise TrimtabError("choose --canary or --shadow, not both.")
    actor = actor or current_actor()
    with store.write() as conn:
        stored = system_store.get(conn, system)
        release = release_store.resolve(conn, ref)
        change = "canary" if canary is not None else "shadow" if shadow is not None \
            else "promote"
        freeze_store.guard(conn, system, change=change, env=env, override=freeze_override,
                           actor=actor)
        skipped = promotion_order.check(
            conn, system=stored, release=release, env=env,
            environments=project.environments, skip_order=skip_order, reason=reason,
        )
        if canary is not None or shadow is not None:
            return deployment_store.start_candidate(
                conn, system=stored, release=release, env=env,
                mode="canary" if canary is not None else "shadow",
                percent=canary if canary is not None else shadow, reason=reason,
                actor=actor, ci_url=ci_run_url(), skipped_order=skipped,
            )
        return deployment_store.promote(
            conn, system=stored, release=release, env=env, reason=reason,
            actor=actor, ci_url=ci_run_url(), skipped_order=skipped,
        )


def rollback(store: Store, project: Project, system: str, env: str, to: str | None = None,
             reason: str = "", *, actor: str | None = None,
             freeze_override: str | None = None) -> Deployment:
    project.check_env(env)
    actor = actor or current_actor()
    with store.write() as conn:
        stored = system_store.get(conn, system)
        freeze_store.guard(conn, system, change="rollback", env=env, override=freeze_override,
                           actor=actor)
        target = release_store.resolve(conn, to) if to else None
        return deployment_store.rollback(
            conn, system=stored, env=env, to=target, reason=reason,
            actor=actor, ci_url=ci_run_url(),
        )


def active_release(store: Store, system: str, env: str) -> Release | None:
    """Read through to the store: always the latest (calls use ``ActiveReleases``)."""
    with store.read() as conn:
        found = system_store.find(conn, system)
        current = deployment_store.active(conn, found.id, env) if found else None
        return release_store.resolve(conn, current.release_id) if current else None


def active_releases(store: Store, system: str, envs: list[str]) -> dict[str, Release | None]:
    """``active_release`` for each of ``envs`` in one read: every environment's stable
    deployment from one query, then each release (a system page: four statements,
    not three per environment)."""
    with store.read() as conn:
        current = {d.env: d for d in deployment_store.current_all(conn) if d.system == system}
        return {env: release_store.resolve(conn, current[env].release_id)
                if env in current else None for env in envs}
