"""People and pipelines that act on the store, the roles granted to them, and their API tokens.

An identity is a name (an e-mail, ``ci-pipeline``). Grants give it a role in a
project, or in one system of it. A token proves who is calling: only the
sha256 of its random secret is kept, shown once at creation, compared in
constant time. Removing an identity, granting, revoking and token changes are
audited; nothing is deleted, so the trail keeps who could do what, when.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, insert, select, update

from trimtab.errors import TrimtabError
from trimtab.store import audit
from trimtab.store.schema.access import grants, identities, tokens
from trimtab.store.schema.base import utcnow

TOKEN_PREFIX = "ttu"


@dataclass(frozen=True)
class Grant:
    id: int
    identity: str
    role: str
    project: str
    system: str | None
    created_at: datetime
    created_by: str

    def to_dict(self) -> dict:
        return {"id": self.id, "identity": self.identity, "role": self.role,
                "project": self.project, "system": self.system,
                "created_at": self.created_at.isoformat(), "created_by": self.created_by}


@dataclass(frozen=True)
class Identity:
    name: str
    created_at: datetime
    created_by: str
    removed_at: datetime | None

    @property
    def live(self) -> bool:
        return self.removed_at is None


@dataclass(frozen=True)
class Token:
    id: str
    identity: str
    name: str
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    revoked_at: datetime | None

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "live"

    def to_dict(self) -> dict:
        return {"id": self.id, "identity": self.identity, "name": self.name,
                "created_at": self.created_at.isoformat(), "created_by": self.created_by,
                "expires_at": self.expires_at.isoformat() if self.expires_at else None,
                "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None}


def _identity(row) -> Identity:
    return Identity(name=row.name, created_at=row.created_at, created_by=row.created_by,
                    removed_at=row.removed_at)


def _grant(row) -> Grant:
    return Grant(id=row.id, identity=row.identity, role=row.role, project=row.project,
                 system=row.system, created_at=row.created_at, created_by=row.created_by)


def _token(row) -> Token:
    return Token(id=row.id, identity=row.identity, name=row.name, created_at=row.created_at,
                 created_by=row.created_by, expires_at=row.expires_at,
                 revoked_at=row.revoked_at)


# --- identities and grants ----------------------------------------------------


def any_live(conn: Connection) -> bool:
    """Whether anyone is defined: with nobody, the store is in single-user mode."""
    return conn.execute(
        select(func.count()).select_from(identities).where(identities.c.removed_at.is_(None))
    ).scalar() > 0


def find(conn: Connection, name: str) -> Identity | None:
    row = conn.execute(select(identities).where(identities.c.name == name)).first()
    return _identity(row) if row else None


def get(conn: Connection, name: str) -> Identity:
    found = find(conn, name)
    if found is None:
        raise TrimtabError(f"no user {name!r}. Fix: see `trimtab users list`, or add them with "
                           f"`trimtab users add {name} --role viewer`.")
    return found


def add(conn: Connection, name: str, *, actor: str) -> Identity:
    existing = find(conn, name)
    if existing is not None and existing.live:
        raise TrimtabError(f"user {name!r} already exists. Fix: give them a role with "
                           f"`trimtab users grant {name} ROLE`.")
    if existing is not None:  # removed before: back again, history kept
        conn.execute(update(identities).where(identities.c.name == name)
                     .values(removed_at=None, removed_by=None))
    else:
        conn.execute(insert(identities).values(name=name, created_at=utcnow(), created_by=actor))
    audit.append(conn, actor=actor, action="identity.add", object_type="identity",
                 object_id=name, system=None, payload={})
    return get(conn, name)


def remove(conn: Connection, name: str, *, actor: str) -> Identity:
    """The identity can no longer act: its grants and tokens stop counting."""
    identity = get(conn, name)
    if not identity.live:
        raise TrimtabError(f"user {name!r} was already removed.")
    now = utcnow()
    conn.execute(update(identities).where(identities.c.name == name)
                 .values(removed_at=now, removed_by=actor))
    conn.execute(update(tokens).where(tokens.c.identity == name, tokens.c.revoked_at.is_(None))
                 .values(revoked_at=now))
    audit.append(conn, actor=actor, action="identity.remove", object_type="identity",
                 object_id=name, system=None, payload={})
    return get(conn, name)


def list_all(conn: Connection) -> list[Identity]:
    return [_identity(r) for r in conn.execute(select(identities).order_by(identities.c.name))]


def grants_of(conn: Connection, name: str | None, project: str) -> list[Grant]:
    """Live grants in ``project`` (of one identity, or of everyone)."""
    query = select(grants).where(grants.c.project == project, grants.c.revoked_at.is_(None))
    if name is not None:
        query = query.where(grants.c.identity == name)
    return [_grant(r) for r in conn.execute(query.order_by(grants.c.id))]


def grant(conn: Connection, name: str, role: str, *, project: str, system: str | None,
          actor: str) -> Grant:
    identity = get(conn, name)
    if not identity.live:
        raise TrimtabError(f"user {name!r} was removed. Fix: `trimtab users add {name}` first.")
    for existing in grants_of(conn, name, project):
        if existing.role == role and existing.system == system:
            raise TrimtabError(f"{name} is already {role}{_scope(system)}.")
    new_id = conn.execute(insert(grants).values(
        identity=name, role=role, project=project, system=system, created_at=utcnow(),
        created_by=actor)).inserted_primary_key[0]
    audit.append(conn, actor=actor, action="identity.grant", object_type="identity",
                 object_id=name, system=system, payload={"role": role, "project": project})
    return _grant(conn.execute(select(grants).where(grants.c.id == new_id)).one())


def revoke(conn: Connection, name: str, role: str, *, project: str, system: str | None,
           actor: str) -> Grant:
    for existing in grants_of(conn, name, project):
        if existing.role == role and existing.system == system:
            conn.execute(update(grants).where(grants.c.id == existing.id)
                         .values(revoked_at=utcnow(), revoked_by=actor))
            audit.append(conn, actor=actor, action="identity.revoke", object_type="identity",
                         object_id=name, system=system,
                         payload={"role": role, "project": project})
            return existing
    raise TrimtabError(f"{name} is not {role}{_scope(system)}, so there is nothing to revoke. "
                       "Fix: see `trimtab users list`.")


def _scope(system: str | None) -> str:
    return f" of system {system}" if system else " in this project"


# --- tokens -------------------------------------------------------------------


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(conn: Connection, name: str, *, label: str, expires_at: datetime | None,
                 actor: str) -> tuple[Token, str]:
    """The token and its full text, which is never stored: only its sha256 is."""
    identity = get(conn, name)
    if not identity.live:
        raise TrimtabError(f"user {name!r} was removed; a removed user gets no tokens.")
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    conn.execute(insert(tokens).values(
        id=token_id, identity=name, name=label, secret_sha256=_hash(secret),
        created_at=utcnow(), created_by=actor, expires_at=expires_at))
    audit.append(conn, actor=actor, action="token.create", object_type="token",
                 object_id=token_id, system=None,
                 payload={"identity": name, "name": label,
                          "expires_at": expires_at.isoformat() if expires_at else None})
    return get_token(conn, token_id), f"{TOKEN_PREFIX}-{token_id}-{secret}"


def get_token(conn: Connection, token_id: str) -> Token:
    row = conn.execute(select(tokens).where(tokens.c.id == token_id)).first()
    if row is None:
        raise TrimtabError(f"no token with id {token_id!r}. Fix: see `trimtab tokens list`.")
    return _token(row)


def list_tokens(conn: Connection, name: str | None = None) -> list[Token]:
    query = select(tokens).order_by(tokens.c.created_at)
    if name is not None:
        query = query.where(tokens.c.identity == name)
    return [_token(r) for r in conn.execute(query)]


def revoke_token(conn: Connection, token_id: str, *, actor: str) -> Token:
    token = get_token(conn, token_id)
    if token.revoked_at is not None:
        raise TrimtabError(f"token {token_id} ({token.name}) is already revoked.")
    conn.execute(update(tokens).where(tokens.c.id == token_id).values(revoked_at=utcnow()))
    audit.append(conn, actor=actor, action="token.revoke", object_type="token",
                 object_id=token_id, system=None,
                 payload={"identity": token.identity, "name": token.name})
    return get_token(conn, token_id)


def authenticate(conn: Connection, presented: str, now: datetime) -> Token | None:
    """The live token matching ``presented`` (not revoked, not expired, its
    identity not removed), or None. The secret is compared in constant time."""
    parts = presented.strip().split("-", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        return None
    row = conn.execute(
        select(tokens, identities.c.removed_at.label("identity_removed"))
        .join(identities, identities.c.name == tokens.c.identity)
        .where(tokens.c.id == parts[1])
    ).first()
    if row is None or not hmac.compare_digest(row.secret_sha256, _hash(parts[2])):
        return None
    token = _token(row)
    if token.state(now) != "live" or row.identity_removed is not None:
        return None
    return token
