"""Virtual API keys: what the gateway accepts instead of the provider's own key.

Only a hash of the secret is stored; the full key is shown once, at creation.
Creating and revoking keys are audited changes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, insert, select, update

from trimtab.errors import TrimtabError
from trimtab.store import audit
from trimtab.store.schema.access import api_keys
from trimtab.store.schema.base import utcnow

PREFIX = "tt"
MICRO = Decimal(1_000_000)


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    default_env: str
    systems: list[str] | None
    tags: dict[str, str]
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    envs: list[str] | None = None  # None: every environment (keys made before scoping)
    #: USD per calendar month (UTC) set at creation; None: no budget of its own.
    monthly_budget_usd: Decimal | None = None
    #: The gateway refuses the key (429 budget_exceeded) once its month is spent.
    budget_enforced: bool = False

    def allows(self, system: str) -> bool:
        return self.systems is None or system in self.systems

    def allows_env(self, env: str) -> bool:
        return self.envs is None or env in self.envs

    def to_dict(self) -> dict:
        return {
            "id": self.id, "name": self.name, "default_env": self.default_env,
            "systems": self.systems, "envs": self.envs, "tags": self.tags,
            "created_at": self.created_at.isoformat(), "created_by": self.created_by,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "monthly_budget_usd": None if self.monthly_budget_usd is None
            else str(self.monthly_budget_usd),
            "budget_enforced": self.budget_enforced,
        }


def _key(row) -> ApiKey:
    return ApiKey(
        id=row.id, name=row.name, default_env=row.default_env,
        systems=json.loads(row.systems) if row.systems else None,
        tags=json.loads(row.tags) if row.tags else {},
        created_at=row.created_at, created_by=row.created_by, revoked_at=row.revoked_at,
        envs=json.loads(row.envs) if row.envs else None,
        monthly_budget_usd=None if row.monthly_budget_micro_usd is None
        else Decimal(row.monthly_budget_micro_usd) / MICRO,
        budget_enforced=bool(row.budget_enforced),
    )


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create(
    conn: Connection,
    *,
    name: str,
    default_env: str,
    systems: list[str] | None,
    tags: dict[str, str],
    actor: str,
    envs: list[str] | None = None,
    monthly_budget_usd: Decimal | None = None,
    budget_enforced: bool = False,
) -> tuple[ApiKey, str]:
    """Returns the key record and the full key text, which is never stored.
    ``envs``: the environments it may call (None: every one); ``monthly_budget_usd``:
    its own budget per calendar month, refused at the gateway when ``budget_enforced``."""
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(24)
    conn.execute(insert(api_keys).values(
        id=key_id, name=name, secret_sha256=_hash(secret), default_env=default_env,
        systems=json.dumps(systems) if systems else None,
        tags=json.dumps(tags) if tags else None, created_at=utcnow(), created_by=actor,
        envs=json.dumps(envs) if envs else None,
        monthly_budget_micro_usd=None if monthly_budget_usd is None
        else int(monthly_budget_usd * MICRO),
        budget_enforced=budget_enforced if monthly_budget_usd is not None else None,
    ))
    audit.append(
        conn, actor=actor, action="key.create", object_type="api_key", object_id=key_id,
        system=None,
        payload={"name": name, "default_env": default_env, "systems": systems, "tags": tags,
                 "envs": envs, "monthly_budget_usd": None if monthly_budget_usd is None
                 else str(monthly_budget_usd), "budget_enforced": budget_enforced},
    )
    return get(conn, key_id), f"{PREFIX}-{key_id}-{secret}"


def get(conn: Connection, key_id: str) -> ApiKey:
    row = conn.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
    if row is None:
        raise TrimtabError(f"no API key with id {key_id!r}. Fix: see `trimtab keys list`.")
    return _key(row)


def list_all(conn: Connection) -> list[ApiKey]:
    return [_key(r) for r in conn.execute(select(api_keys).order_by(api_keys.c.created_at))]


def revoke(conn: Connection, key_id: str, *, actor: str) -> ApiKey:
    key = get(conn, key_id)
    if key.revoked_at is not None:
        raise TrimtabError(f"API key {key_id} ({key.name}) is already revoked.")
    conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(revoked_at=utcnow()))
    audit.append(
        conn, actor=actor, action="key.revoke", object_type="api_key", object_id=key_id,
        system=None, payload={"name": key.name},
    )
    return get(conn, key_id)


def authenticate(conn: Connection, presented: str) -> ApiKey | None:
    """The live key matching ``presented``, or None: unknown, malformed or revoked."""
    parts = presented.split("-", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        return None
    row = conn.execute(select(api_keys).where(api_keys.c.id == parts[1])).first()
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.secret_sha256, _hash(parts[2])):
        return None
    return _key(row)
