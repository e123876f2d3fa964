"""`trimtab prune`: delete calls past each system's retention."""

from __future__ import annotations

import typer
from rich.table import Table

from trimtab.cli.output import console, handles_errors, parse_span, print_json, workspace


@handles_errors
def prune(
    older_than: str = typer.Option(
        None, "--older-than", help="For systems without retention_days: 30d, 12w, 24h."),
    system: str = typer.Option(None, "--system", "-s", help="Only this system."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Count what would go; delete nothing."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Delete recorded calls older than each system's retention_days, audited per system.

    Systems without retention_days keep every call unless --older-than is
    given. Rollups stay, so metrics over old windows remain.

    Example:

        trimtab prune --dry-run --older-than 90d
    """
    span = parse_span(older_than, "--older-than") if older_than is not None else None
    results = workspace().prune(span, system=system, dry_run=dry_run)
    if json_output:
        print_json([r.to_dict() for r in results])
        return
    table = Table(title="prune (dry run: nothing deleted)" if dry_run else "prune")
    for column in ("system", "rule", "older than (UTC)", "would go" if dry_run else "deleted"):
        table.add_column(column)
    for r in results:
        table.add_row(r.system, r.rule, f"{r.before:%Y-%m-%d %H:%M}" if r.before else "-",
                      str(r.calls) if r.before else "-")
    console.print(table)
    total = sum(r.calls for r in results)
    pruned = sum(1 for r in results if r.calls)
    verb = "would delete" if dry_run else "deleted"
    console.print(f"{verb} {total} call{'s' if total != 1 else ''} of {pruned} "
                  f"system{'s' if pruned != 1 else ''}; rollups are kept.")
