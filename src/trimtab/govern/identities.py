"""Managing identities, their roles and their API tokens (the domain functions
behind `trimtab users ...` and `trimtab tokens ...`).

Each change is authorised (admin, except a token for oneself) and audited.
The first user must be an admin, and the last admin cannot be removed or
demoted, so a store with users always has someone who can manage them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from trimtab.errors import TrimtabError
from trimtab.govern.roles import ROLES, authorize, check_role, project_name
from trimtab.project.models import Project
from trimtab.store import Store
from trimtab.store import identities as identity_store
from trimtab.store.identities import Grant, Identity, Token

#: Tokens last this long unless asked otherwise; `--expires never` opts out.
DEFAULT_TOKEN_LIFE = timedelta(days=90)


@dataclass(frozen=True)
class User:
    identity: Identity
    grants: list[Grant]

    def to_dict(self) -> dict:
        return {"name": self.identity.name, "live": self.identity.live,
                "created_at": self.identity.created_at.isoformat(),
                "removed_at": self.identity.removed_at.isoformat()
                if self.identity.removed_at else None,
                "roles": [{"role": g.role, "system": g.system} for g in self.grants]}


def _admins_left(conn, project: str) -> bool:
    return any(g.role == "admin" and g.system is None
               and identity_store.find(conn, g.identity).live
               for g in identity_store.grants_of(conn, None, project))


def add_user(store: Store, project: Project | None, name: str, role: str, *,
             system: str | None = None, token: str | None = None) -> User:
    check_role(role)
    name = name.strip()
    if not name:
        raise TrimtabError("a user needs a name, e.g. alice@example.com or ci-pipeline.")
    actor = authorize(store, project, "identity.manage", token=token)
    scope = project_name(project)
    with store.write() as conn:
        if not identity_store.any_live(conn) and (role != "admin" or system is not None):
            raise TrimtabError(
                "the first user must be a project admin, or nobody could manage users "
                f"afterwards. Fix: `trimtab users add {name} --role admin` (you, most likely).")
        identity_store.add(conn, name, actor=actor)
        identity_store.grant(conn, name, role, project=scope, system=system, actor=actor)
        return User(identity_store.get(conn, name), identity_store.grants_of(conn, name, scope))


def grant(store: Store, project: Project | None, name: str, role: str, *,
          system: str | None = None, token: str | None = None) -> Grant:
    check_role(role)
    actor = authorize(store, project, "identity.manage", token=token)
    with store.write() as conn:
        return identity_store.grant(conn, name, role, project=project_name(project),
                                    system=system, actor=actor)


def revoke(store: Store, project: Project | None, name: str, role: str, *,
           system: str | None = None, token: str | None = None) -> Grant:
    check_role(role)
    actor = authorize(store, project, "identity.manage", token=token)
    scope = project_name(project)
    with store.write() as conn:
        revoked = identity_store.revoke(conn, name, role, project=scope, system=system,
                                        actor=actor)
        if not _admins_left(conn, scope):
            raise TrimtabError(f"{name} is the last admin of project {scope}: nobody could "
                               "manage users afterwards. Fix: make someone else admin first.")
        return revoked


def remove_user(store: Store, project: Project | None, name: str, *,
                token: str | None = None) -> Identity:
    actor = authorize(store, project, "identity.manage", token=token)
    scope = project_name(project)
    with store.write() as conn:
        removed = identity_store.remove(conn, name, actor=actor)
        if not _admins_left(conn, scope):
            raise TrimtabError(f"{name} is the last admin of project {scope}: nobody could "
                               "manage users afterwards. Fix: make someone else admin first.")
        return removed


def users(store: Store, project: Project | None) -> list[User]:
    scope = project_name(project)
    with store.read() as conn:
        return [User(i, identity_store.grants_of(conn, i.name, scope))
                for i in identity_store.list_all(conn)]


def create_token(store: Store, project: Project | None, *, user: str | None, label: str,
                 expires: timedelta | None, token: str | None = None) -> tuple[Token, str]:
    """A token for ``user`` (default: oneself; anyone else's needs admin)."""
    actor = authorize(store, project, "token.create", token=token)
    if user is not None and user != actor:
        actor = authorize(store, project, "token.manage", token=token)
    owner = user or actor
    with store.read() as conn:
        if identity_store.find(conn, owner) is None:
            raise TrimtabError(
                f"{owner!r} is not a user, and tokens belong to users. Fix: "
                f"`trimtab users add {owner} --role {ROLES[0]}` first (the first user must be "
                "an admin).")
    expires_at = datetime.now(UTC) + expires if expires is not None else None
    with store.write() as conn:
        return identity_store.create_token(conn, owner, label=label, expires_at=expires_at,
                                           actor=actor)


def tokens(store: Store, user: str | None = None) -> list[Token]:
    with store.read() as conn:
        return identity_store.list_tokens(conn, user)


def revoke_token(store: Store, project: Project | None, token_id: str, *,
                 token: str | None = None) -> Token:
    actor = authorize(store, project, "token.create", token=token)
    with store.read() as conn:
        owner = identity_store.get_token(conn, token_id).identity
    if owner != actor:
        actor = authorize(store, project, "token.manage", token=token)
    with store.write() as conn:
        return identity_store.revoke_token(conn, token_id, actor=actor)
