"""Commands that move releases between environments, and show where things stand."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from trimtab.cli.output import (
    Col,
    console,
    handles_errors,
    print_json,
    print_listing,
    when,
    workspace,
)

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
        False, "--force", help="Promote past a failing eval gate or an incident freeze "
        "(admin; needs --reason; audited).",
    ),
    skip_order: bool = typer.Option(
        False, "--skip-order",
        help="Promote without the release having run in the environment before this one "
        "(needs --reason; audited).",
    ),
) -> None:
    """Make a release active in an environment (audited, append-only history).

    Environments go in the order trimtab.yaml declares them: a release reaches
    production only after it has been active in staging (the first environment
    is free). --skip-order --reason TEXT makes an audited exception.

    With --canary or --shadow the release runs beside the stable one; a later
    plain promote graduates it, a rollback aborts it. Where trimtab.yaml's
    `policies:` require approvals for the environment, the promotion becomes a
    pending request that applies once approved (`trimtab approve ID`).
    An environment that eval suites guard (`gate:` in trimtab.yaml) needs a
    passing `trimtab eval` run of each on this release; --force --reason
    overrides that (admin, audited). A system frozen by an incident refuses
    every promotion until `trimtab incident unfreeze`; --force --reason
    overrides that too (admin, audited).

    Example:

        trimtab promote complaint-router 3f2a9c41b7d0 --env staging
        trimtab promote complaint-router 3f2a9c41b7d0 --env production --reason "evals green"
        trimtab promote complaint-router 8b1e22c0aa94 --env production --canary 10
    """
    deployment = workspace().promote(
        system, release_ref, env, reason=reason, canary=canary, shadow=shadow, force=force,
        skip_order=skip_order,
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
    force: bool = typer.Option(
        False, "--force", help="Roll back a system frozen by an incident (admin; needs "
        "--reason; audited).",
    ),
) -> None:
    """Return an environment to its previous release, or to a named one.

    Repeated rollbacks walk further back (r3 → r2 → r1), they do not ping-pong.
    While a canary or shadow runs, rollback stops it and keeps the stable release.
    A system frozen by an incident refuses until `trimtab incident unfreeze`,
    or an admin's --force --reason (audited).

    Example:

        trimtab rollback complaint-router --env production --reason "bad routing on EN"
    """
    deployment = workspace().rollback(system, env, to=to, reason=reason, force=force)
    console.print(f"{system}: rolled back {env} to {deployment.release_id[:12]}")


@handles_errors
def status(
    system: str = typer.Argument(None, metavar="[SYSTEM]", help="Only this system."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show, per system and environment, which release is active, since when, by whom.

    Example:

        trimtab status
        trimtab status complaint-router --json
    """
    ws = workspace()
    if system is not None:
        ws.history(system)  # an unknown system is an error, not an empty listing
    if json_output:
        candidates = {(c.system, c.env): c for c in ws.candidates()}
        print_json([
            {**d.to_dict(), "candidate": candidates[(d.system, d.env)].to_dict()
             if (d.system, d.env) in candidates else None}
            for d in ws.status() if system is None or d.system == system
        ])
        return
    print_status(ws, system)


def print_status(ws: Workspace, system: str | None = None) -> None:
    current = [d for d in ws.status() if system is None or d.system == system]
    candidates = {(c.system, c.env): c for c in ws.candidates()}
    order = {env: i for i, env in enumerate(ws.project.environments)} if ws.project_file else {}
    current.sort(key=lambda d: (d.system, order.get(d.env, len(order)), d.env))
    if not current:
        console.print("nothing is deployed yet: `trimtab release SYSTEM`, then `trimtab promote`")
        return
    rows = []
    for d in current:
        c = candidates.get((d.system, d.env))
        beside = f"{c.action} {c.release_id[:12]} {c.percent}%" if c else ""
        rows.append([d.system, d.env, d.release_id[:12], when(d.created_at), escape(d.actor),
                     d.action, escape(d.reason), beside])
    columns = [Col("system"), Col("env"), Col("release"), Col("since", drop=3),
               Col("by", drop=2), Col("how", drop=4), Col("reason", drop=1, wrap=True)]
    if candidates:
        columns.append(Col("beside it"))
    else:
        rows = [row[:-1] for row in rows]
    print_listing("what is running where", columns, rows)


@handles_errors
def history(
    system: str = typer.Argument(..., metavar="SYSTEM", help="System name."),
    env: str = typer.Option(None, "--env", "-e", help="Only this environment."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show every promotion and rollback of a system, oldest first.

    Rows are numbered 1, 2, 3… over the system's whole history, so a
    deployment keeps its number with or without --env.

    Example:

        trimtab history complaint-router --env production
    """
    numbered = [
        (number, d) for number, d in enumerate(workspace().history(system), start=1)
        if env is None or d.env == env
    ]
    if json_output:
        print_json([{"number": number, **d.to_dict()} for number, d in numbered])
        return
    rows = [[str(number), d.env, d.release_id[:12], d.action, when(d.created_at), escape(d.actor),
             escape(d.reason)] for number, d in numbered]
    print_listing(
        f"deployment history of {system}",
        [Col("#", right=True), Col("env"), Col("release"), Col("how"), Col("when", drop=3),
         Col("by", drop=2), Col("reason", drop=1, wrap=True)],
        rows,
    )
