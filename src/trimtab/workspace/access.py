"""The Workspace's methods for who may act: gateway keys, identities and roles, API tokens
and the dashboard's browser sessions.

A mixin of trimtab.workspace.Workspace, which gives the ``store``, ``project``,
``authorize`` and the other parts these methods use; each hands them to the
package that does the work.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from trimtab.errors import TrimtabError

if TYPE_CHECKING:
    from trimtab.govern.identities import User
    from trimtab.project.models import Project
    from trimtab.store.identities import Grant, Identity, Token
    from trimtab.store.keys import ApiKey
    from trimtab.store.sessions import Session


class AccessMethods:
    """Who may act: mixed into Workspace."""

    def create_key(self, name: str, *, env: str | list[str], systems: list[str] | None = None,
                   tags: dict[str, str] | None = None,
                   any_env: bool = False, monthly_budget_usd: float | Decimal | None = None,
                   enforce_budget: bool = False) -> tuple[ApiKey, str]:
        """A virtual key for one application; the returned text is shown once.

        It may call only the environments in ``env`` (the first is its default),
        unless ``any_env``: then ``X-Trimtab-Env`` may name any of them.
        ``monthly_budget_usd``: its own budget per calendar month (UTC), as
        LiteLLM's ``max_budget``; the gateway refuses it once spent when
        ``enforce_budget``, and the cost report shows it either way."""
        from trimtab.store import keys as key_store

        envs = [env] if isinstance(env, str) else list(dict.fromkeys(env))
        if not envs:
            raise TrimtabError("a key needs an environment. Fix: --env ENV.")
        budget = _budget(monthly_budget_usd, enforce_budget)
        for one in envs:
            self.project.check_env(one)
        for system in systems or []:
            self.project.system(system)
        actor = self.authorize("key.manage")
        with self.store.write() as conn:
            return key_store.create(
                conn, name=name, default_env=envs[0], systems=systems or None, tags=tags or {},
                actor=actor, envs=None if any_env else envs, monthly_budget_usd=budget,
                budget_enforced=enforce_budget,
            )

    def keys(self) -> list[ApiKey]:
        from trimtab.store import keys as key_store

        with self.store.read() as conn:
            return key_store.list_all(conn)

    def key_budget_problems(self, project: Project) -> list[str] | None:
        """``budgets:`` entries of ``project`` naming a gateway key that was never
        created, at their file:line; None when there is no store here to ask (no
        TRIMTAB_DATABASE_URL and no .trimtab/trimtab.db: a CI checkout), so
        ``trimtab validate`` can still run where only the YAML is."""
        from trimtab.project import yamlsource
        from trimtab.project.budgets import unknown_keys
        from trimtab.store.engine import database_url_from_env

        if not any(b.key is not None for b in project.spec.budgets.values()):
            return []
        if not (self._database_url or database_url_from_env()) and (
                self.root is None or not (self.root / ".trimtab" / "trimtab.db").exists()):
            return None
        names = {key.name for key in self.keys()}
        located = yamlsource.load(project.path, project.path.read_text(encoding="utf-8"))
        return unknown_keys(project.spec, names, located.where)

    def revoke_key(self, key_id: str) -> ApiKey:
        from trimtab.store import keys as key_store

        actor = self.authorize("key.manage")
        with self.store.write() as conn:
            return key_store.revoke(conn, key_id, actor=actor)

    def authenticate(self, presented: str) -> ApiKey | None:
        from trimtab.store import keys as key_store

        with self.store.read() as conn:
            return key_store.authenticate(conn, presented)

    def authorize(self, action: str, system: str | None = None) -> str:
        """Who is acting, when they may do ``action`` (see trimtab.govern.roles);
        PermissionDenied, audited, when they may not."""
        from trimtab.govern.roles import authorize

        return authorize(self.store, self._project_or_none(), action, system=system,
                         token=self.token)

    def whoami(self) -> tuple[str, str | None, bool]:
        """(name, project-wide role or None, single-user mode)."""
        from trimtab.govern.roles import whoami

        return whoami(self.store, self._project_or_none(), token=self.token)

    def add_user(self, name: str, role: str, *, system: str | None = None) -> User:
        return _identities().add_user(self.store, self._project_or_none(), name, role,
                                      system=system, token=self.token)

    def users(self) -> list[User]:
        return _identities().users(self.store, self._project_or_none())

    def grant(self, name: str, role: str, *, system: str | None = None) -> Grant:
        return _identities().grant(self.store, self._project_or_none(), name, role,
                                   system=system, token=self.token)

    def revoke(self, name: str, role: str, *, system: str | None = None) -> Grant:
        return _identities().revoke(self.store, self._project_or_none(), name, role,
                                    system=system, token=self.token)

    def remove_user(self, name: str) -> Identity:
        return _identities().remove_user(self.store, self._project_or_none(), name,
                                         token=self.token)

    def create_token(self, *, user: str | None = None, name: str = "cli",
                     expires: timedelta | None = None) -> tuple[Token, str]:
        """An API token (for ``user``, default oneself); the text is shown once."""
        return _identities().create_token(self.store, self._project_or_none(), user=user,
                                          label=name, expires=expires, token=self.token)

    def authenticate_token(self, presented: str) -> Token | None:
        """The live API token ``presented`` is (its owner acts), or None."""
        from trimtab.store import identities as identity_store

        with self.store.read() as conn:
            return identity_store.authenticate(conn, presented, datetime.now(UTC))

    def tokens(self, user: str | None = None) -> list[Token]:
        return _identities().tokens(self.store, user)

    def revoke_token(self, token_id: str) -> Token:
        return _identities().revoke_token(self.store, self._project_or_none(), token_id,
                                          token=self.token)

    def start_session(self, kind: str, subject: str, name: str,
                      lifetime: timedelta) -> str:
        """A browser session for an authenticated token (``u``) or key (``k``); its
        secret, which the signed cookie carries."""
        from trimtab.store import sessions

        now = datetime.now(UTC)
        with self.store.write() as conn:
            return sessions.start(conn, kind=kind, subject=subject, name=name, now=now,
                                  expires_at=now + lifetime)

    def session(self, secret: str) -> Session | None:
        """The live browser session ``secret`` names (not signed out, not expired)."""
        from trimtab.store import sessions

        with self.store.read() as conn:
            return sessions.live(conn, secret, datetime.now(UTC))

    def end_session(self, secret: str) -> bool:
        """Sign-out: the session is refused from now on, by every worker."""
        from trimtab.store import sessions

        with self.store.write() as conn:
            return sessions.end(conn, secret, datetime.now(UTC))



def _identities():
    from trimtab.govern import identities

    return identities


#: Past this a monthly budget is a typo, not a budget.
MAX_MONTHLY_BUDGET_USD = Decimal(1_000_000_000)


def _budget(monthly_usd: float | Decimal | None, enforce: bool) -> Decimal | None:
    """A key's own monthly budget, checked: positive, finite, whole micro-dollars."""
    if monthly_usd is None:
        if enforce:
            raise TrimtabError("--enforce-budget needs a budget to enforce. Fix: add "
                               "--monthly-budget USD (e.g. --monthly-budget 50).")
        return None
    try:
        amount = Decimal(str(monthly_usd))
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite() or not 0 < amount <= MAX_MONTHLY_BUDGET_USD:
        raise TrimtabError(f"--monthly-budget {monthly_usd}: a budget is USD per month above 0 "
                           f"and at most {MAX_MONTHLY_BUDGET_USD:,}. Fix: e.g. "
                           "--monthly-budget 50.")
    micro = amount.quantize(Decimal("0.000001"))
    if micro <= 0:
        raise TrimtabError(f"--monthly-budget {monthly_usd}: below a micro-dollar. Fix: e.g. "
                           "--monthly-budget 0.01.")
    return micro
