"""Immutable, content-addressed releases. Nothing in trimtab updates one."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from trimtab.errors import NotFound, TrimtabError
from trimtab.store import audit
from trimtab.store.schema.base import utcnow
from trimtab.store.schema.release_history import releases, systems

_HEX = re.compile(r"^[0-9a-f]+$")


@dataclass(frozen=True)
class Release:
    id: str
    system: str
    spec_json: str
    note: str
    author: str
    created_at: datetime
    git_commit: str | None
    git_dirty: bool | None

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def spec(self) -> dict[str, Any]:
        return json.loads(self.spec_json)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "system": self.system,
            "note": self.note,
            "author": self.author,
            "created_at": self.created_at.isoformat(),
            "git_commit": self.git_commit,
            "git_dirty": self.git_dirty,
            "spec": self.spec,
        }


def _select():
    return select(
        releases.c.id,
        systems.c.name.label("system"),
        releases.c.spec.label("spec_json"),
        releases.c.note,
        releases.c.author,
        releases.c.created_at,
        releases.c.git_commit,
        releases.c.git_dirty,
    ).join(systems, systems.c.id == releases.c.system_id)


def create(
    conn: Connection,
    *,
    system_id: int,
    system_name: str,
    release_id: str,
    spec_json: str,
    note: str,
    actor: str,
    git_commit: str | None,
    git_dirty: bool | None,
) -> tuple[Release, bool]:
    """Store a release unless the same content is already stored.

    Returns (release, created). A repeat of known content returns the first
    release untouched, note and author included, and writes no audit entry.
    """
    existing = conn.execute(_select().where(releases.c.id == release_id)).first()
    if existing is not None:
        return Release(**existing._mapping), False
    conn.execute(
        insert(releases).values(
            id=release_id, system_id=system_id, spec=spec_json, note=note, author=actor,
            created_at=utcnow(), git_commit=git_commit, git_dirty=git_dirty,
        )
    )
    audit.append(
        conn, actor=actor, action="release.create", object_type="release",
        object_id=release_id, system=system_name,
        payload={"note": note, "git_commit": git_commit, "git_dirty": git_dirty},
    )
    row = conn.execute(_select().where(releases.c.id == release_id)).one()
    return Release(**row._mapping), True


def resolve(conn: Connection, ref: str, *, system: str | None = None) -> Release:
    """Find a release by its id or any unique prefix of it."""
    ref = ref.strip().lower()
    if not ref or not _HEX.match(ref):
        raise TrimtabError(
            f"{ref!r} is not a release id: ids are hexadecimal (e.g. 3f2a9c41b7d0). "
            "Fix: copy one from `trimtab releases SYSTEM`."
        )
    query = _select().where(releases.c.id.startswith(ref, autoescape=True)).limit(6)
    if system is not None:
        query = query.where(systems.c.name == system)
    rows = conn.execute(query).all()
    scope = f" of system {system!r}" if system else ""
    if not rows:
        raise NotFound(
            f"no release{scope} has an id starting with {ref!r}. "
            f"Fix: list them with `trimtab releases {system or 'SYSTEM'}`."
        )
    if len(rows) > 1:
        shown = ", ".join(r.id[:16] for r in rows[:5])
        raise TrimtabError(
            f"release prefix {ref!r} is ambiguous: it matches {shown}"
            f"{' and more' if len(rows) > 5 else ''}. Fix: give more characters."
        )
    return Release(**rows[0]._mapping)


def for_system(conn: Connection, system_id: int) -> list[Release]:
    query = _select().where(releases.c.system_id == system_id)
    return [
        Release(**r._mapping)
        for r in conn.execute(query.order_by(releases.c.created_at.desc(), releases.c.id))
    ]
