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
    given. Calls under a legal hold (`trimtab incident holds`) are never deleted.
    Rollups stay, so metrics over old windows remain.

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
         Col("would go" if dry_run else "deleted", right=True),
         Col("held", right=True, drop=1)],
        [[r.system, r.rule, f"{r.before:%Y-%m-%d %H:%M}" if r.before else "-",
          str(r.calls) if r.before else "-", str(r.held) if r.before else "-"]
         for r in results],
    )
    total = sum(r.calls for r in results)
    pruned = sum(1 for r in results if r.calls)
    verb = "dry run: nothing deleted; would delete" if dry_run else "deleted"
    held = sum(r.held for r in results)
    kept = f"; {held} under legal hold kept" if held else ""
    console.print(f"{verb} {total} call{'s' if total != 1 else ''} of {pruned} "
                  f"system{'s' if pruned != 1 else ''}{kept}; rollups are kept.")


@handles_errors
def erase(
    user: str = typer.Option(..., "--user", "-u", help="The user id the calls were recorded "
                             "with (user= in the SDK, the gateway's user field)."),
    request: str = typer.Option(..., "--request", help="The erasure request's reference in "
                                "your register (e.g. DSR-2026-041); audited instead of the id."),
    system: list[str] = typer.Option([], "--system", "-s", help="Only these systems."),
    reason: str = typer.Option("", "--reason", help="Why (required with --override-hold)."),
    skip_held: bool = typer.Option(False, "--skip-held",
                                   help="Keep calls under a legal hold; erase the rest."),
    override_hold: bool = typer.Option(False, "--override-hold",
                                       help="Erase calls under a legal hold too (needs --reason)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Count what would go; erase nothing."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Erase one person's calls (GDPR Art. 17): calls, their scores, reviews, flags, labels.

    Per-user cost rollups are renamed to a pseudonym, so totals stay, and so
    is the id where it names the person elsewhere: reviews, scores, flags and
    labels they gave, independent reviews and findings they closed, drift
    baselines and checks they made, values a baseline's profile counted. The
    audit trail records the request reference and the counts, never the user
    id, and still verifies. Calls under a legal hold are not erased: the
    command refuses until you choose --skip-held or --override-hold --reason.
    Admin only.

    Example:

        trimtab erase --user u-4711 --request DSR-2026-041 --dry-run
    """
    done = workspace().erase(user, request=request, reason=reason, systems=system or None,
                             skip_held=skip_held, override_hold=override_hold, dry_run=dry_run)
    if json_output:
        print_json(done.to_dict())
        return
    verb = "dry run: nothing erased; would erase" if dry_run else "erased"
    systems = ", ".join(f"{n} {s}" for s, n in done.by_system.items()) or "none"
    related = ", ".join(f"{n} {t}" for t, n in done.related.items()) or "nothing else"
    console.print(f"{verb} {done.calls} call{'s' if done.calls != 1 else ''} ({systems}) and "
                  f"{related}; {done.rollups} per-user rollup rows renamed to a pseudonym.")
    if done.names:
        places = ", ".join(f"{n} {place}" for place, n in done.names.items())
        console.print(f"The person's name {'would be' if dry_run else 'was'} replaced by the "
                      f"pseudonym in {places}.")
    if done.held:
        console.print(f"{done.held} calls under a legal hold were kept.")
    if done.hold_overridden:
        console.print(f"{done.hold_overridden} calls under a legal hold were erased (override).")
    if not dry_run:
        console.print(f"erasure {done.id} for request {done.request} is in the audit trail "
                      "(`trimtab audit log --action calls.erase`).")
