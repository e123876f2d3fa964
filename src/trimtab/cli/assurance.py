"""Independent reviews and their findings: `trimtab assurance ...` (check G6)."""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from rich.markup import escape

from trimtab.cli.output import (
    Col,
    console,
    handles_errors,
    parse_since,
    parse_span,
    print_json,
    print_listing,
    workspace,
)
from trimtab.errors import TrimtabError

app = typer.Typer(help="Record independent reviews of a system and track their findings.",
                  no_args_is_help=True)


@app.command("record")
@handles_errors
def record(
    system: str = typer.Argument(..., metavar="SYSTEM", help="The system reviewed."),
    reviewer: str = typer.Option(..., "--reviewer", "-r",
                                 help="Who reviewed it (not the system's owner)."),
    organisation: str = typer.Option(..., "--organisation", "--org", "-o",
                                     help="Who the reviewer works for (another team, a firm)."),
    scope: str = typer.Option(..., "--scope", "-s", help="What was reviewed."),
    finding: list[str] = typer.Option(None, "--finding", "-F",
                                      help="One finding (repeatable); each stays open until "
                                           "closed."),
    no_findings: bool = typer.Option(False, "--no-findings",
                                     help="The review found nothing (instead of --finding)."),
    at: str = typer.Option(None, "--at", help="When the review was made (ISO time; "
                           "default: now)."),
    due: str = typer.Option(None, "--due", help="When the findings are due: an ISO date, or a "
                            "span after the review like 60d (default: 90d)."),
) -> None:
    """Record an independent review of SYSTEM and its findings (audited; evidence
    for `trimtab assess`, G6). G6 passes for 12 months while no finding is open
    past its due date.

    Example:

        trimtab assurance record complaint-router -r dana@audit.example.com \\
            -o "Internal audit" -s "release process, eval gate, oversight" \\
            -F "runbook names no data protection contact" --due 60d
    """
    reviewed = parse_since(at, "--at") if at else None
    due_at = None
    if due:
        try:  # a span counts from the review: the findings are due 60d after it
            due_at = (reviewed or datetime.now(UTC)) + parse_span(due, "--due")
        except TrimtabError:
            due_at = parse_since(due, "--due")
    done = workspace().record_independent_review(
        system, reviewer=reviewer, organisation=organisation, scope=scope,
        findings=finding or [], reviewed_at=reviewed, due_at=due_at, no_findings=no_findings)
    console.print(f"independent review {done.id[:12]} of {system} recorded "
                  f"({done.reviewed_at:%Y-%m-%d}, {len(done.findings)} finding(s))", markup=False)
    for f in done.findings:
        console.print(f"  finding {f.id} due {f.due_at:%Y-%m-%d}: {f.text}", markup=False)


@app.command("close")
@handles_errors
def close(
    finding: str = typer.Argument(..., metavar="FINDING", help="The finding's id (or a prefix)."),
    resolution: str = typer.Option(..., "--resolution", "-m", help="What was done about it."),
) -> None:
    """Close an independent review's finding with what was done (audited).

    Example:

        trimtab assurance close 3f9c2a71d04b8e65 -m "runbook names the DPO since release 4"
    """
    done = workspace().close_finding(finding, resolution=resolution)
    console.print(f"finding {done.id} of {done.system} closed", markup=False)


@app.command("reviews")
@handles_errors
def reviews(
    system: str = typer.Argument(None, metavar="[SYSTEM]", help="Only this system."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List the independent reviews, newest first, with their findings' state.

    Example:

        trimtab assurance reviews complaint-router
    """
    found = workspace().independent_reviews(system)
    if json_output:
        print_json([r.to_dict() for r in found])
        return
    if not found:
        console.print("no independent review recorded: trimtab assurance record SYSTEM "
                      "-r ... -o ... -s ...", markup=False)
        return
    print_listing(
        "independent reviews",
        [Col("reviewed"), Col("system"), Col("reviewer"), Col("organisation", drop=2, wrap=True),
         Col("findings"), Col("scope", drop=1, wrap=True)],
        [[f"{r.reviewed_at:%Y-%m-%d}", r.system, escape(r.reviewer), escape(r.organisation),
          f"{len(r.findings)} ({len(r.open_findings())} open)", escape(r.scope)]
         for r in found],
    )


@app.command("findings")
@handles_errors
def findings(
    system: str = typer.Argument(None, metavar="[SYSTEM]", help="Only this system."),
    show_all: bool = typer.Option(False, "--all", help="Closed findings too."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List the open findings of independent reviews, soonest due first.

    Example:

        trimtab assurance findings complaint-router --all
    """
    now = datetime.now(UTC)
    found = sorted((f for r in workspace().independent_reviews(system) for f in r.findings
                    if show_all or f.status == "open"),
                   key=lambda f: (f.due_at, f.review_id, f.number))
    if json_output:
        print_json([{**f.to_dict(), "overdue": f.overdue(now)} for f in found])
        return
    if not found:
        console.print("no open finding" if not show_all else "no finding recorded",
                      markup=False)
        return
    print_listing(
        "findings, soonest due first",
        [Col("finding"), Col("system"), Col("status"), Col("due"),
         Col("text", wrap=True), Col("resolution", drop=1, wrap=True)],
        [[f.id, f.system, "[bold red]overdue[/]" if f.overdue(now) else f.status,
          f"{f.due_at:%Y-%m-%d}", escape(f.text), escape(f.resolution or "-")] for f in found],
    )
