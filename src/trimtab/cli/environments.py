"""Commands that move releases between environments, and show where things stand."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.table import Table

from trimtab.cli.output import console, handles_errors, print_json, when, workspace

if TYPE_CHECKING:
    from trimtab.workspace import Workspace


@handles_errors
def promote(
    system: str = typer.Argument(..., metavar="SYSTEM", help="System name."),
    release_ref: str = typer.Argument(..., metavar="RELEASE", help="Release id or prefix."),
    env: str = typer.Option(..., "--env", "-e", help="Target environment."),
    reason: str = typer.Option("", "--reason", "-r", help="Why; kept in the audit trail."),
    canary: int = typer.Option(
        None, "--canary", metavar="PERCENT",
        help="Answer this share of calls with the release, sticky per user.",
    ),
    shadow: int = typer.Option(
        None, "--shadow", metavar="PERCENT",
        help="Also call the release on this share of calls; record, never return.",
    ),
    force: bool = typer.Option(
        False, "--force", help="Promote past a failing eval gate (needs --reason; audited).",
    ),
) -> None:
    """Make a release active in an environment (audited, append-only history).

    With --canary or --shadow the release runs beside the stable one; a later
    plain promote graduates it, a rollback aborts it. Where trimtab.yaml's
    `policies:` require approvals for the environment, the promotion becomes a
    pending request that applies once approved (`trimtab approve ID`).
    An environment that eval suites guard (`gate:` in trimtab.yaml) needs a
    passing `trimtab eval` run of each on this release; --force --reason
    overrides that (admin, audited).

    Example:

        trimtab promote complaint-router 3f2a9c41b7d0 --env production --reason "evals green"
        trimtab promote complaint-router 8b1e22c0aa94 --env production --canary 10
    """
    deployment = workspace().promote(
        system, release_ref, env, reason=reason, canary=canary, shadow=shadow, force=force
    )
    if getattr(deployment, "state", None) == "pending":
        from trimtab.cli.approvals import print_pending

        print_pending(deployment)
    elif deployment is None:
        console.print(f"{system}: {release_ref} is already active in {env}; nothing changed")
    elif deployment.action in ("canary", "shadow"):
        console.print(
            f"{system}: {deployment.release_id[:12]} runs as a {deployment.action} on "
            f"{deployment.percent}% of [bold]{env}[/] calls"
        )
    else:
        console.print(f"{system}: {deployment.release_id[:12]} is now active in [bold]{env}[/]")


@handles_errors
def rollback(
    system: str = typer.Argument(..., metavar="SYSTEM", help="System name."),
    env: str = typer.Option(..., "--env", "-e", help="Environment to roll back."),
    to: str = typer.Option(None, "--to", help="Release to return to (default: the previous one)."),
    reason: str = typer.Option("", "--reason", "-r", help="Why; kept in the audit trail."),
) -> None:
    """Return an environment to its previous release, or to a named one.

    Repeated rollbacks walk further back (r3 → r2 → r1), they do not ping-pong.
    While a canary or shadow runs, rollback stops it and keeps the stable release.

    Example:

        trimtab rollback complaint-router --env production --reason "bad routing on EN"
    """
    deployment = workspace().rollback(system, env, to=to, reason=reason)
    console.print(f"{system}: rolled back {env} to {deployment.release_id[:12]}")


@handles_errors
def status(json_output: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Show, per system and environment, which release is active, since when, by whom.

    Example:

        trimtab status
    """
    ws = workspace()
    if json_output:
        candidates = {(c.system, c.env): c for c in ws.candidates()}
        print_json([
            {**d.to_dict(), "candidate": candidates[(d.system, d.env)].to_dict()
             if (d.system, d.env) in candidates else None}
            for d in ws.status()
        ])
        return
    print_status(ws)


def print_status(ws: Workspace) -> None:
    current = ws.status()
    candidates = {(c.system, c.env): c for c in ws.candidates()}
    order = {env: i for i, env in enumerate(ws.project.environments)} if ws.project_file else {}
    current.sort(key=lambda d: (d.system, order.get(d.env, len(order)), d.env))
    table = Table(title="what is running where")
    for column in ("system", "env", "release"):
        table.add_column(column, no_wrap=True)
    for column in ("since", "by", "how", "reason", "beside it"):
        table.add_column(column)
    for d in current:
        c = candidates.get((d.system, d.env))
        beside = f"{c.action} {c.release_id[:12]} {c.percent}%" if c else ""
        table.add_row(d.system, d.env, d.release_id[:12], when(d.created_at), d.actor,
                      d.action, d.reason, beside)
    if not current:
        console.print("nothing is deployed yet: `trimtab release SYSTEM`, then `trimtab promote`")
        return
    console.print(table)


@handles_errors
def history(
    system: str = typer.Argument(..., metavar="SYSTEM", help="System name."),
    env: str = typer.Option(None, "--env", "-e", help="Only this environment."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show every promotion and rollback of a system, oldest first.

    Example:

        trimtab history complaint-router --env production
    """
    rows = workspace().history(system, env)
    if json_output:
        print_json([d.to_dict() for d in rows])
        return
    table = Table(title=f"deployment history of {system}")
    for column in ("#", "env", "release"):
        table.add_column(column, no_wrap=True)
    for column in ("how", "when", "by", "reason"):
        table.add_column(column)
    for d in rows:
        table.add_row(str(d.id), d.env, d.release_id[:12], d.action, when(d.created_at),
                      d.actor, d.reason)
    console.print(table)
