"""Schema management for the store."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from trimtab.cli.output import console, handles_errors, workspace

if TYPE_CHECKING:
    from trimtab.store import Store

app = typer.Typer(help="Manage the store's schema.", no_args_is_help=True)


def _open_unmigrated() -> Store:
    from trimtab.store import Store

    return Store(workspace().database_url, migrate=False)


def _where(store: Store) -> str:
    return store.engine.url.render_as_string(hide_password=True)


@app.command("upgrade")
@handles_errors
def upgrade_cmd() -> None:
    """Migrate the store to this trimtab's schema (also done on first use).

    Example:

        TRIMTAB_DATABASE_URL=postgresql://trimtab@db:5432/trimtab trimtab db upgrade
    """
    from trimtab.store.engine import current_revision, upgrade

    store = _open_unmigrated()
    before = current_revision(store)
    upgrade(store)
    after = current_revision(store)
    console.print(f"{_where(store)}: {before or 'empty'} → {after}" if before != after
                  else f"{_where(store)}: already at {after}")


@app.command("current")
@handles_errors
def current_cmd() -> None:
    """Print the store's schema revision and the one this trimtab expects.

    Example:

        trimtab db current
    """
    from trimtab.store.engine import HEAD_REVISION, current_revision

    store = _open_unmigrated()
    at = current_revision(store) or "empty"
    console.print(f"{_where(store)}: at {at}, code expects {HEAD_REVISION}")
