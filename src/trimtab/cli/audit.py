"""The audit trail: read it, and prove nobody edited it."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape

from trimtab.cli.output import (
    Col,
    console,
    handles_errors,
    parse_since,
    print_json,
    print_listing,
    workspace,
)

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
    rows = [[str(e.seq), f"{e.time:%m-%d %H:%M:%S}", escape(e.actor), e.action,
             escape(e.system or ""), escape(summary(e.action, json.loads(e.payload), e.object_id))]
            for e in entries]
    print_listing(
        "audit trail",
        [Col("seq", right=True), Col("time (UTC)", drop=3), Col("actor", drop=2),
         Col("action"), Col("system", drop=1), Col("details", wrap=True)],
        rows,
    )


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
def verify(
    checkpoints: str = typer.Option(
        None, "--checkpoints", "-c", metavar="PATH",
        help="Signed checkpoints (file or fsspec URL) to compare with; default: the project's "
             "checkpoint file when it exists.",
    ),
    public_key: str = typer.Option(
        None, "--public-key", metavar="FILE",
        help="The checkpoint key's public half (default: beside the private key).",
    ),
    no_checkpoints: bool = typer.Option(False, "--no-checkpoints",
                                        help="Check the hash chain alone."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Recompute the hash chain; exit 1 and name the first bad entry if it was tampered with.

    With checkpoints (written by `trimtab audit checkpoint`), a chain cut short
    or rewritten before the newest checkpoint is caught too: the hash chain
    alone cannot see a truncated tail whose head row was rewritten to match.

    Example:

        trimtab audit verify
        trimtab audit verify --checkpoints s3://audit-anchors/trimtab.jsonl --public-key ck.pub
    """
    ws = workspace()
    if checkpoints is None and not no_checkpoints:
        default = ws.checkpoint_location() if ws.project_file is not None else None
        if default is not None and "://" not in default and Path(default).is_file():
            checkpoints = default
    report = ws.verify_audit(
        checkpoints=None if no_checkpoints else checkpoints, public_key=public_key)
    if json_output:
        print_json(report.__dict__)
    elif report.ok:
        against = f" and match {report.checkpoints} signed checkpoints" \
            if report.checkpoints is not None else ""
        console.print(f"[green]ok[/] {report.entries} entries verify{against}; "
                      f"head {report.head_hash}")
    elif report.first_bad_seq is None:
        console.print(f"[bold red]BROKEN[/]: {report.problem}")
    else:
        console.print(
            f"[bold red]BROKEN[/] at entry {report.first_bad_seq}: {report.problem} "
            f"({report.entries} entries verified before it)"
        )
    if not report.ok:
        raise typer.Exit(1)


@app.command("checkpoint")
@handles_errors
def checkpoint(
    to: str = typer.Option(
        None, "--to", metavar="PATH",
        help="Where to append it: a file or fsspec URL (default: audit.checkpoints in "
             "trimtab.yaml, audit-checkpoints.jsonl beside it).",
    ),
    key: str = typer.Option(
        None, "--key", metavar="FILE",
        help="Ed25519 private key (default: TRIMTAB_CHECKPOINT_KEY, audit.checkpoint_key, "
             "or .trimtab/keys/audit-checkpoint.pem, made on first use).",
    ),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Sign the audit chain's head (seq, hash, time) and append it outside the store.

    Commit the checkpoint file (or write it to a bucket the database's users
    cannot rewrite); `trimtab audit verify` then also catches a chain cut short
    and rewritten. `trimtab monitor` writes one on a schedule when
    `audit.checkpoint_every` is set.

    Example:

        trimtab audit checkpoint && git add audit-checkpoints.jsonl
        trimtab audit checkpoint --to s3://audit-anchors/trimtab.jsonl
    """
    ws = workspace()
    made = ws.checkpoint_audit(to=to, key=key)
    if json_output:
        print_json(made.to_dict())
        return
    console.print(f"checkpoint: entry {made.seq}, head {made.hash}, signed by key "
                  f"{made.key_id}; appended to {ws.checkpoint_location(to)}")
