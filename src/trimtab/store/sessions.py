"""The dashboard's browser sessions (table ``web_sessions``).

A session is a random secret the browser's signed cookie carries; the store keeps
only its SHA-256, with which token or key it stands for and until when. Signing out
ends it here, so the cookie is refused afterwards even by a worker that never saw
the sign-out (nothing about a session lives in one process's memory).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, insert, select, update

from trimtab.store.schema.access import web_sessions


@dataclass(frozen=True)
class Session:
    kind: str  # u (a user's API token) or k (a gateway key)
    subject: str  # the token's or the key's id
    name: str
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def start(conn: Connection, *, kind: str, subject: str, name: str, now: datetime,
          expires_at: datetime) -> str:
    """A new session; returns its secret (shown to the browser only). Sessions past
    their expiry are removed on the way, so the table stays the size of the live ones."""
    conn.execute(delete(web_sessions).where(web_sessions.c.expires_at < now))
    secret = secrets.token_urlsafe(24)
    conn.execute(insert(web_sessions).values(
        id=_digest(secret), kind=kind, subject=subject, name=name[:320], created_at=now,
        expires_at=expires_at, ended_at=None))
    return secret


def live(conn: Connection, secret: str, now: datetime) -> Session | None:
    """The session ``secret`` names while it is neither ended nor expired."""
    row = conn.execute(select(web_sessions).where(web_sessions.c.id == _digest(secret))
                       ).first()
    if row is None or row.ended_at is not None or row.expires_at <= now:
        return None
    return Session(row.kind, row.subject, row.name, row.created_at, row.expires_at,
                   row.ended_at)


def end(conn: Connection, secret: str, now: datetime) -> bool:
    """End the session (sign-out); False when there was none live."""
    done = conn.execute(update(web_sessions)
                        .where(web_sessions.c.id == _digest(secret),
                               web_sessions.c.ended_at.is_(None))
                        .values(ended_at=now))
    return bool(done.rowcount)
