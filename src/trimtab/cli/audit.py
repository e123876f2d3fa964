"""The audit trail: read it, and prove nobody edited it."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from trimtab.cli.output import console, handles_errors, parse_since, print_json, workspace

app = typer.Typer(help="Read and verify the tamper-evident audit trail.", no_args_is_help=True)


@app.command("log")
@handles_errors
def log(
    system: str = typer.Option(None, "--system", "-s", help="Only entries about this system."),
    since: str = typer.Option(None, "--since", help="24h, 7d, or an ISO time."),
    action: str = typer.Option(None, "--action", help="e.g. deployment.promote"),
    limit: int = typer.Option(None, "--limit", "-n", help="Only the newest N entries."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List audit entries, oldest first: who changed what, when.

    Example:

        trimtab audit log --system complaint-router --since 7d
    """
    entries = workspace().audit_log(
        system=system, since=parse_since(since), action=action, limit=limit
    )
    if json_output:
        print_json([e.to_dict() for e in entries])
        return
    table = Table(title="audit trail")
    table.add_column("seq", no_wrap=True)
    table.add_column("time (UTC)", no_wrap=True)
    table.add_column("actor")
    table.add_column("action", no_wrap=True)
    table.add_column("system")
    table.add_column("details")
    for e in entries:
        table.add_row(str(e.seq), f"{e.time:%m-%d %H:%M:%S}", e.actor, e.action,
                      e.system or "", summary(e.action, json.loads(e.payload), e.object_id))
    console.print(table)


def summary(action: str, payload: dict, object_id: str) -> str:
    """One readable line per entry; --json has everything."""
    if action.startswith("deployment."):
        previous = payload.get("previous_release")
        text = f"{payload['env']}: {str(previous)[:12] if previous else '(none)'} → " \
            f"{payload['release'][:12]}"
        return text + (f" ({payload['reason']})" if payload.get("reason") else "")
    if action == "release.create":
        return object_id[:12] + (f" {payload['note']}" if payload.get("note") else "")
    if action == "system.update":
        return "changed " + ", ".join(payload.get("changes", {}))
    if action == "system.register":
        return f"owner {payload.get('owner')}, risk {payload.get('risk')}"
    return ", ".join(f"{k}={v}" for k, v in payload.items() if v not in (None, ""))


@app.command("verify")
@handles_errors
def verify(json_output: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Recompute the hash chain; exit 1 and name the first bad entry if it was tampered with.

    Publish the head hash it prints (CI log, Git tag) to anchor the chain outside
    the database.

    Example:

        trimtab audit verify
    """
    report = workspace().verify_audit()
    if json_output:
        print_json(report.__dict__)
    elif report.ok:
        console.print(f"[green]ok[/] {report.entries} entries verify; head {report.head_hash}")
    else:
        console.print(
            f"[bold red]BROKEN[/] at entry {report.first_bad_seq}: {report.problem} "
            f"({report.entries} entries verified before it)"
        )
    if not report.ok:
        raise typer.Exit(1)
