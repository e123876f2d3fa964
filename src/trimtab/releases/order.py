"""Promotion order: a release reaches an environment through the one before it.

The environments in trimtab.yaml are declared in order (dev, staging,
production). Staging only protects production if what reaches production ran
there first, so promoting to an environment needs the release to be active, or
to have been active, in the environment before it. The first environment is
free; a rollback is not a promotion and is never held back. A deliberate
exception (a hotfix) is allowed with ``skip_order`` and a reason, and the audit
entry records which environment was skipped.
"""

from __future__ import annotations

from trimtab.errors import TrimtabError
from trimtab.store import deployments as deployment_store
from trimtab.store.releases import Release
from trimtab.store.systems import System


def previous_env(environments: list[str], env: str) -> str | None:
    """The environment a release must pass through before ``env``; None for the first."""
    index = environments.index(env)
    return environments[index - 1] if index > 0 else None


def check(
    conn,
    *,
    system: System,
    release: Release,
    env: str,
    environments: list[str],
    skip_order: bool = False,
    reason: str = "",
) -> str | None:
    """Raise unless ``release`` may be promoted to ``env`` (``conn``: an open store
    connection). Returns the environment skipped on purpose, for the audit entry,
    or None when the order holds."""
    before = previous_env(environments, env)
    if release.system != system.name:
        return None  # not this system's release: the store refuses it, saying so
    if before is None or deployment_store.ever_active(conn, system.id, release.id, before):
        return None
    if skip_order:
        if not reason.strip():
            raise TrimtabError(
                f"--skip-order needs a reason: the audit trail keeps why {release.short_id} "
                f"went to {env!r} without running in {before!r}. Fix: add --reason \"...\"."
            )
        return before
    raise TrimtabError(
        f"release {release.short_id} of {system.name!r} has never been active in "
        f"{before!r}, which comes before {env!r} ({' → '.join(environments)}). "
        f"Fix: `trimtab promote {system.name} {release.short_id} --env {before}` first, "
        f"or skip the order on purpose with `--skip-order --reason \"...\"` (audited)."
    )
