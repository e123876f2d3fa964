"""Schema management for the store."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from trimtab.cli.output import console, err_console, handles_errors, print_json, workspace

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
    before = upgrade(store)  # what it found once it held the migration lock
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


@app.command("roles")
@handles_errors
def roles_cmd(
    prefix: str = typer.Option("trimtab", "--prefix", help="Role names: PREFIX_owner, "
                               "PREFIX_writer, PREFIX_reader."),
    owner: list[str] = typer.Option([], "--owner", metavar="LOGIN",
                                    help="Make this login role a member of the owner role."),
    writer: list[str] = typer.Option([], "--writer", metavar="LOGIN",
                                     help="Make this login role a member of the writer role."),
    reader: list[str] = typer.Option([], "--reader", metavar="LOGIN",
                                     help="Make this login role a member of the reader role."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Create PostgreSQL roles so ordinary connections cannot rewrite history (PostgreSQL only).

    PREFIX_owner owns the tables (run `trimtab db upgrade` as a member of it);
    PREFIX_writer is what people and services connect as: it may INSERT into
    audit, deployments, releases and approvals but never UPDATE or DELETE them
    (only the columns that move an approval through its states); PREFIX_reader
    only reads. Idempotent: run it again after each `trimtab db upgrade`.
    Needs a trimtab admin and a PostgreSQL role that may create roles.

    Example:

        trimtab db roles --writer app --writer alice --reader grafana --owner migrator
    """
    from trimtab.store.privileges import APPEND_ONLY, UPDATABLE_COLUMNS

    plan = workspace().database_roles(prefix=prefix, owners=owner, writers=writer,
                                      readers=reader)
    if json_output:
        print_json(plan.to_dict())
        return
    console.print(f"schema {plan.schema}: {plan.tables} tables owned by {plan.owner}; "
                  f"roles created: {', '.join(plan.created) or 'none (they existed)'}")
    console.print(f"{plan.writer}: reads everything; INSERT only on {', '.join(APPEND_ONLY)}; "
                  "UPDATE only of " + "; ".join(f"{t} ({', '.join(c)})"
                                                for t, c in UPDATABLE_COLUMNS.items()))
    console.print(f"{plan.reader}: SELECT only")
    for role, logins in plan.members.items():
        console.print(f"{role}: granted to {', '.join(logins)}")


@app.command("replay")
@handles_errors
def replay_cmd(
    timeout: float = typer.Option(30.0, "--timeout", help="Seconds to wait for the store."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Store the calls that stopped processes left in this project's spool.

    A gateway, `trimtab serve` or an SDK process replays such records when it
    starts recording on the spool; this command does it without one, e.g. for
    a replica scaled down for good. Records the store already has are skipped,
    so it is safe to run any time. Exits 1 if the store did not take
    everything within --timeout (what is left stays spooled).

    Example:

        trimtab db replay --timeout 60
    """
    ws = workspace()
    try:
        recorder = ws.recorder  # adopts every segment whose process is gone
        done = ws.flush(timeout)
        stats = recorder.stats()
    finally:
        ws.close()
    result = {"spool": str(ws.spool_dir), "stored": stats["written"],
              "already_stored": stats["duplicates"], "unreadable_lines": stats["corrupt"],
              "pending_bytes": stats["pending_bytes"], "done": done}
    if json_output:
        print_json(result)
    else:
        console.print(f"{ws.spool_dir}: {stats['written']:,} calls stored, "
                      f"{stats['duplicates']:,} already stored"
                      + (f", {stats['corrupt']:,} unreadable lines skipped"
                         if stats["corrupt"] else ""), soft_wrap=True)
    if not done:
        console.print(f"{stats['pending_bytes']:,} bytes are still spooled: the store did not "
                      f"take them within {timeout:g}s. Fix: check the store, then run "
                      "`trimtab db replay` again.", soft_wrap=True)
        raise typer.Exit(1)


@app.command("copy")
@handles_errors
def copy_cmd(
    to: str | None = typer.Option(None, "--to", help="Copy this project's store INTO this "
                                  "database URL (it must be empty)."),
    source: str | None = typer.Option(None, "--from", help="Copy this database URL into "
                                      "this project's store (it must be empty)."),
    json_output: bool = typer.Option(False, "--json", help="Print rows per table as JSON."),
) -> None:
    """Copy the whole store to another database, e.g. a trial's SQLite to PostgreSQL.

    Every table is copied (releases, deployments, the audit chain with its hashes,
    calls, rollups, scores, drift baselines, alerts, keys, users, labels, approvals,
    incidents...). The target is migrated first and must be empty. The copy is one
    transaction: if it stops, the target is left empty and you run it again.
    `--from URL` copies the other way, into this project's store.

    Example:

        trimtab db copy --to postgresql://trimtab@db:5432/trimtab
        TRIMTAB_DATABASE_URL=postgresql://trimtab@db/trimtab trimtab db copy --from sqlite:///backup.db
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from trimtab.errors import TrimtabError
    from trimtab.store import Store
    from trimtab.store.copy import copy_store

    if (to is None) == (source is None):
        raise TrimtabError("give one of --to URL (copy this store there) or --from URL "
                           "(copy that database here). Example: trimtab db copy --to "
                           "postgresql://trimtab@db:5432/trimtab")
    here = workspace().database_url
    src = Store(source or here)
    dst = Store(to or here)
    try:
        with Progress(TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(),
                      console=err_console, transient=True,
                      disable=json_output or not err_console.is_terminal) as bar:
            tasks: dict[str, int] = {}

            def step(table: str, done: int, total: int) -> None:
                if table not in tasks:
                    tasks[table] = bar.add_task(table, total=total or 1)
                bar.update(tasks[table], completed=done if total else 1)

            result = copy_store(src, dst, progress=step)
    finally:
        src.engine.dispose()
        dst.engine.dispose()
    if json_output:
        print_json({"source": _where(src), "target": _where(dst), "rows": result.rows,
                    "total": result.total})
        return
    copied = {name: n for name, n in result.rows.items() if n}
    console.print(f"{_where(src)} → {_where(dst)}: {result.total:,} rows in "
                  f"{len(copied)} of {len(result.rows)} tables", soft_wrap=True)
    for name, n in copied.items():
        console.print(f"  {name:<24} {n:>12,}", soft_wrap=True)
