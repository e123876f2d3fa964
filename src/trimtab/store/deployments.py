"""Which release is active where. History is append-only: a rollback is a new row.

Each row points at the row a plain rollback returns to (``parent_id``), so
promotions push onto a stack and rollbacks pop it: r1 → r2 → r3, rollback
gives r2, rollback again gives r1, never a ping-pong between r2 and r3.

A canary or shadow row puts a candidate beside the stable release without
replacing it. The next promote (graduation) or rollback (abort) ends it.

Each change's audit entry moves the store's change signal in the same
transaction (the counter, and NOTIFY on PostgreSQL: store/changes.py), which
every running process waits on to re-read its routes within a second.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import Connection, func, insert, select

from trimtab.errors import TrimtabError
from trimtab.store import audit
from trimtab.store.releases import Release
from trimtab.store.schema.base import utcnow
from trimtab.store.schema.release_history import deployments, systems
from trimtab.store.systems import System


@dataclass(frozen=True)
class Deployment:
    id: int
    system: str
    env: str
    release_id: str
    action: str
    percent: int | None
    parent_id: int | None
    reason: str
    actor: str
    ci_url: str | None
    created_at: datetime

    def to_dict(self) -> dict:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        return data


def _select():
    return select(
        deployments.c.id,
        systems.c.name.label("system"),
        deployments.c.env,
        deployments.c.release_id,
        deployments.c.action,
        deployments.c.percent,
        deployments.c.parent_id,
        deployments.c.reason,
        deployments.c.actor,
        deployments.c.ci_url,
        deployments.c.created_at,
    ).join(systems, systems.c.id == deployments.c.system_id)


STABLE = ("promote", "rollback")
SPLITS = ("canary", "shadow")


def active(conn: Connection, system_id: int, env: str) -> Deployment | None:
    """The stable deployment: the latest promote or rollback."""
    row = conn.execute(
        _select()
        .where(deployments.c.system_id == system_id, deployments.c.env == env,
               deployments.c.action.in_(STABLE))
        .order_by(deployments.c.id.desc())
        .limit(1)
    ).first()
    return Deployment(**row._mapping) if row else None


def candidate(conn: Connection, system_id: int, env: str) -> Deployment | None:
    """The canary or shadow running beside the stable release, if any."""
    row = conn.execute(
        _select()
        .where(deployments.c.system_id == system_id, deployments.c.env == env)
        .order_by(deployments.c.id.desc())
        .limit(1)
    ).first()
    return Deployment(**row._mapping) if row and row.action in SPLITS else None


def ever_active(conn: Connection, system_id: int, release_id: str, env: str) -> bool:
    """Whether ``release_id`` is, or ever was, the stable release of ``env``."""
    return conn.execute(
        select(deployments.c.id)
        .where(deployments.c.system_id == system_id, deployments.c.env == env,
               deployments.c.release_id == release_id, deployments.c.action.in_(STABLE))
        .limit(1)
    ).first() is not None


def history(conn: Connection, system_id: int, env: str | None = None) -> list[Deployment]:
    query = _select().where(deployments.c.system_id == system_id)
    if env is not None:
        query = query.where(deployments.c.env == env)
    return [Deployment(**r._mapping) for r in conn.execute(query.order_by(deployments.c.id))]


def current_all(conn: Connection, actions: tuple[str, ...] = STABLE) -> list[Deployment]:
    """The latest deployment among ``actions`` of every (system, env) pair."""
    latest = (
        select(func.max(deployments.c.id).label("id"))
        .where(deployments.c.action.in_(actions))
        .group_by(deployments.c.system_id, deployments.c.env)
        .subquery()
    )
    query = _select().where(deployments.c.id.in_(select(latest.c.id)))
    return [
        Deployment(**r._mapping)
        for r in conn.execute(query.order_by(systems.c.name, deployments.c.env))
    ]


def candidates_all(conn: Connection) -> list[Deployment]:
    """Every canary or shadow still running (no promote or rollback after it)."""
    stable = {(d.system, d.env): d.id for d in current_all(conn)}
    return [d for d in current_all(conn, SPLITS) if d.id > stable.get((d.system, d.env), 0)]


def _insert(conn: Connection, system: System, **values) -> Deployment:
    new_id = conn.execute(
        insert(deployments).values(system_id=system.id, created_at=utcnow(), **values)
    ).inserted_primary_key[0]
    return Deployment(**conn.execute(_select().where(deployments.c.id == new_id)).one()._mapping)


def promote(
    conn: Connection,
    *,
    system: System,
    release: Release,
    env: str,
    reason: str,
    actor: str,
    ci_url: str | None = None,
    skipped_order: str | None = None,
) -> Deployment | None:
    """Make ``release`` active in ``env``; None when it already is (nothing written).

    ``skipped_order`` names the environment the release skipped on purpose
    (``--skip-order``); the audit entry keeps it beside the reason."""
    if release.system != system.name:
        raise TrimtabError(
            f"release {release.short_id} belongs to system {release.system!r}, not "
            f"{system.name!r}. Fix: promote it as `trimtab promote {release.system} "
            f"{release.short_id} --env {env}`, or pick a release of {system.name!r} "
            f"from `trimtab releases {system.name}`."
        )
    current = active(conn, system.id, env)
    if current is not None and current.release_id == release.id:
        return None
    deployment = _insert(
        conn, system, env=env, release_id=release.id, action="promote",
        parent_id=current.id if current else None, reason=reason, actor=actor, ci_url=ci_url,
    )
    audit.append(
        conn, actor=actor, action="deployment.promote", object_type="deployment",
        object_id=str(deployment.id), system=system.name,
        payload={
            "env": env, "release": release.id, "reason": reason, "ci_url": ci_url,
            "previous_release": current.release_id if current else None,
            **({"skipped_order": skipped_order} if skipped_order else {}),
        },
    )
    return deployment


def rollback(
    conn: Connection,
    *,
    system: System,
    env: str,
    to: Release | None,
    reason: str,
    actor: str,
    ci_url: str | None = None,
) -> Deployment:
    current = active(conn, system.id, env)
    if current is None:
        raise TrimtabError(
            f"nothing to roll back: system {system.name!r} has never been promoted to "
            f"{env!r}. Fix: promote a release first (`trimtab promote {system.name} "
            f"RELEASE --env {env}`)."
        )
    split = candidate(conn, system.id, env) if to is None else None
    if split is not None:
        # Abort the canary/shadow: the stable release stays, the candidate stops.
        target_id, parent_id = current.release_id, current.parent_id
    elif to is None:
        if current.parent_id is None:
            raise TrimtabError(
                f"no earlier release to roll back to: {current.release_id[:12]} is the first "
                f"release {system.name!r} ran in {env!r}. Fix: name one with "
                f"`trimtab rollback {system.name} --env {env} --to RELEASE`."
            )
        parent = conn.execute(_select().where(deployments.c.id == current.parent_id)).one()
        target_id, parent_id = parent.release_id, parent.parent_id
    else:
        if to.system != system.name:
            raise TrimtabError(
                f"release {to.short_id} belongs to system {to.system!r}, not {system.name!r}. "
                f"Fix: pick one from `trimtab releases {system.name}`."
            )
        if to.id == current.release_id:
            raise TrimtabError(
                f"release {to.short_id} is already active in {env!r}; nothing to roll back."
            )
        target_id, parent_id = to.id, current.id
    deployment = _insert(
        conn, system, env=env, release_id=target_id, action="rollback",
        parent_id=parent_id, reason=reason, actor=actor, ci_url=ci_url,
    )
    audit.append(
        conn, actor=actor, action="deployment.rollback", object_type="deployment",
        object_id=str(deployment.id), system=system.name,
        payload={
            "env": env, "release": target_id, "reason": reason, "ci_url": ci_url,
            "previous_release": current.release_id,
            "aborted_candidate": split.release_id if split else None,
        },
    )
    return deployment


def start_candidate(
    conn: Connection,
    *,
    system: System,
    release: Release,
    env: str,
    mode: str,
    percent: int,
    reason: str,
    actor: str,
    ci_url: str | None = None,
    skipped_order: str | None = None,
) -> Deployment:
    """Run ``release`` beside the stable one: a canary answers ``percent``% of
    calls (sticky per user); a shadow gets a copy of ``percent``% of calls and
    its answers are recorded, never returned."""
    if release.system != system.name:
        raise TrimtabError(
            f"release {release.short_id} belongs to system {release.system!r}, not "
            f"{system.name!r}. Fix: pick one from `trimtab releases {system.name}`."
        )
    limit = 99 if mode == "canary" else 100
    if not 1 <= percent <= limit:
        raise TrimtabError(
            f"--{mode} {percent}: the share must be 1-{limit}%. "
            + ("Fix: to send all traffic, promote the release." if mode == "canary" else "")
        )
    current = active(conn, system.id, env)
    if current is None:
        raise TrimtabError(
            f"a {mode} needs a stable release to run beside: {system.name!r} has none in "
            f"{env!r}. Fix: promote a release to {env} first."
        )
    if current.release_id == release.id:
        raise TrimtabError(
            f"release {release.short_id} is already the stable release in {env!r}."
        )
    deployment = _insert(
        conn, system, env=env, release_id=release.id, action=mode, percent=percent,
        parent_id=current.id, reason=reason, actor=actor, ci_url=ci_url,
    )
    audit.append(
        conn, actor=actor, action=f"deployment.{mode}", object_type="deployment",
        object_id=str(deployment.id), system=system.name,
        payload={
            "env": env, "release": release.id, "percent": percent, "reason": reason,
            "ci_url": ci_url, "stable_release": current.release_id,
            **({"skipped_order": skipped_order} if skipped_order else {}),
        },
    )
    return deployment
