"""`trimtab prune`: delete calls past each system's retention."""

from __future__ import annotations

import typer

from trimtab.cli.output import (
    Col,
    console,
    handles_errors,
    parse_span,
    print_json,
    print_listing,
    workspace,
)


@handles_errors
def prune(
    older_than: str = typer.Option(
        None, "--older-than",
        help="For systems without retention_days or a default for their risk: 30d, 12w, 24h."),
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
    print_listing(
        "prune (dry run: nothing deleted)" if dry_run else "prune",
        [Col("system"), Col("rule", wrap=True), Col("older than (UTC)"),
         Col("would go" if dry_run else "deleted", right=True)],
        [[r.system, r.rule, f"{r.before:%Y-%m-%d %H:%M}" if r.before else "-",
          str(r.calls) if r.before else "-"] for r in results],
    )
    total = sum(r.calls for r in results)
    pruned = sum(1 for r in results if r.calls)
    verb = "dry run: nothing deleted; would delete" if dry_run else "deleted"
    console.print(f"{verb} {total} call{'s' if total != 1 else ''} of {pruned} "
                  f"system{'s' if pruned != 1 else ''}; rollups are kept.")
