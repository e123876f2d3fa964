"""Incidents and their regulatory deadlines: `trimtab incident ...`, `trimtab incidents`."""

from __future__ import annotations

from datetime import UTC, datetime

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

app = typer.Typer(help="Open, annotate and close incidents (deadlines: trimtab incidents).",
                  no_args_is_help=True)


def _left(due: datetime, now: datetime) -> str:
    seconds = int((due - now).total_seconds())
    if seconds < 0:
        return f"[bold red]overdue {_span(-seconds)}[/]"
    return f"in {_span(seconds)}"


def _span(seconds: int) -> str:
    if seconds >= 86400:
        return f"{seconds // 86400}d {seconds % 86400 // 3600}h"
    return f"{seconds // 3600}h {seconds % 3600 // 60}m"


@app.command("open")
@handles_errors
def open_(
    system: str = typer.Argument(..., metavar="SYSTEM", help="The system concerned."),
    severity: str = typer.Option(..., "--severity", help="low, medium, high or critical."),
    summary: str = typer.Option(..., "--summary", "-m", help="What happened, in a sentence."),
    category: list[str] = typer.Option(
        None, "--category", "-c",
        help="A reporting category (repeatable): nis2-significant, ai-act-serious, "
             "ai-act-widespread, ai-act-critical-infrastructure, ai-act-death, "
             "personal-data-breach."),
    aware_at: str = typer.Option(None, "--aware-at", help="When the team became aware "
                                 "(ISO time or a span ago like 3h; default: now)."),
) -> None:
    """Open an incident; every applicable reporting deadline runs from --aware-at.

    Example:

        trimtab incident open complaint-router --severity high -m "misrouted" -c ai-act-serious
    """
    ws = workspace()
    made = ws.open_incident(system, severity=severity, summary=summary,
                            categories=category or [], aware_at=parse_since(aware_at,
                                                                            "--aware-at"))
    console.print(f"opened incident [bold]{made.id}[/] for {system} ({severity})")
    _print_deadlines([d for d in ws.deadlines() if d.incident == made.id])


@app.command("note")
@handles_errors
def note(
    incident: str = typer.Argument(..., metavar="ID", help="The incident id (or a prefix)."),
    text: str = typer.Argument(..., metavar="TEXT", help="What happened or was done."),
) -> None:
    """Add a timeline note to an incident (audited).

    Example:

        trimtab incident note 7c2e91aa "suspended production; routing falls back to humans"
    """
    done = workspace().note_incident(incident, text)
    console.print(f"noted on incident {done.id} ({len(done.notes)} notes)")


@app.command("close")
@handles_errors
def close(
    incident: str = typer.Argument(..., metavar="ID", help="The incident id (or a prefix)."),
    root_cause: str = typer.Option(..., "--root-cause", help="Why it happened."),
    actions: str = typer.Option(..., "--actions", help="What was done so it does not recur."),
) -> None:
    """Close an incident with its root cause and corrective actions (audited).

    Example:

        trimtab incident close 7c2e91aa --root-cause "label dropped" --actions "eval added"
    """
    done = workspace().close_incident(incident, root_cause=root_cause, actions=actions)
    console.print(f"closed incident {done.id}")


@app.command("show")
@handles_errors
def show(incident: str = typer.Argument(..., metavar="ID", help="The incident id.")) -> None:
    """Print one incident with its notes and deadlines as JSON.

    Example:

        trimtab incident show 7c2e91aa
    """
    from trimtab.govern.incidents import deadlines

    found = workspace().incident(incident)
    print_json(found.to_dict() | {"deadlines": [d.to_dict() for d in deadlines(found)]})


@handles_errors
def incidents(
    system: str = typer.Option(None, "--system", "-s", help="Only this system."),
    include_closed: bool = typer.Option(False, "--all", help="List closed incidents too."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show what is due when: every reporting deadline of every open incident.

    NIS2 (early warning 24h, notification 72h, final report a month later), the
    EU AI Act (serious incident 15 days; 2 for widespread or critical
    infrastructure; 10 for a death) and GDPR Art. 33 (72h) run in parallel,
    from the regimes table shipped with trimtab (data, versioned).

    Example:

        trimtab incidents --system complaint-router
    """
    ws = workspace()
    due = ws.deadlines(system=system)
    listed = ws.incidents(include_closed=include_closed, system=system)
    if json_output:
        print_json({"incidents": [i.to_dict() for i in listed],
                    "deadlines": [d.to_dict() for d in due]})
        return
    if not listed:
        console.print("no open incidents" if not include_closed else "no incidents")
        return
    print_listing(
        "incidents",
        [Col("id"), Col("system"), Col("severity", drop=2), Col("aware", drop=1), Col("state"),
         Col("summary", wrap=True)],
        [[i.id, i.system, i.severity, f"{i.aware_at:%Y-%m-%d %H:%M}",
          "closed" if i.closed_at else "open", escape(i.summary)] for i in listed],
    )
    _print_deadlines(due)


def _print_deadlines(due) -> None:
    if not due:
        console.print("no reporting deadlines apply (no category given)")
        return
    now = datetime.now(UTC)
    print_listing(
        "reporting deadlines, soonest first (UTC)",
        [Col("incident"), Col("system", drop=1), Col("regime"), Col("deadline", wrap=True),
         Col("due"), Col("left")],
        [[d.incident, d.system, d.regime, d.name, f"{d.due:%Y-%m-%d %H:%M}", _left(d.due, now)]
         for d in due],
    )


@app.command("drill")
@handles_errors
def drill(
    system: str = typer.Argument(..., metavar="SYSTEM", help="The system rehearsed."),
    scenario: str = typer.Option(..., "--scenario", "-s", help="What was rehearsed."),
    participants: str = typer.Option(..., "--participants", "-p",
                                     help="Who took part, comma-separated."),
    findings: str = typer.Option("", "--findings", "-f", help="What the drill found."),
    at: str = typer.Option(None, "--at", help="When it was held (ISO time; default: now)."),
    restore_minutes: float = typer.Option(
        None, "--restore-minutes", help="How long the rehearsed restore took."),
) -> None:
    """Record a tabletop drill of SYSTEM's runbook (evidence for `trimtab assess`, G5).

    Example:

        trimtab incident drill complaint-router -s "provider outage" \\
            -p "ana@example.com,ben@example.com" -f "fallback worked; pager unclear" \\
            --restore-minutes 12
    """
    held = parse_since(at, "--at") if at else None
    done = workspace().record_drill(system, scenario=scenario,
                                    participants=participants.split(","), findings=findings,
                                    held_at=held, restore_minutes=restore_minutes)
    console.print(f"drill {done.id[:12]} of {system} recorded ({done.held_at:%Y-%m-%d}, "
                  f"{len(done.people)} participant(s))", markup=False)


@app.command("drills")
@handles_errors
def drills(
    system: str = typer.Argument(None, metavar="[SYSTEM]", help="Only this system."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List the recorded drills, newest first.

    Example:

        trimtab incident drills complaint-router
    """
    found = workspace().drills(system)
    if json_output:
        print_json([d.to_dict() for d in found])
        return
    if not found:
        console.print("no drills recorded: trimtab incident drill SYSTEM -s ... -p ...",
                      markup=False)
        return
    print_listing(
        "drills",
        [Col("held"), Col("system"), Col("scenario", wrap=True), Col("participants", drop=2,
                                                                     wrap=True),
         Col("restore", drop=1), Col("findings", drop=3, wrap=True)],
        [[f"{d.held_at:%Y-%m-%d}", d.system, escape(d.scenario), escape(", ".join(d.people)),
          "-" if d.restore_minutes is None else f"{d.restore_minutes:g} min",
          escape(d.findings or "-")] for d in found],
    )


@app.command("runbook")
@handles_errors
def runbook(
    system: str = typer.Argument(..., metavar="SYSTEM", help="The system."),
) -> None:
    """Write runbooks/SYSTEM.md, a skeleton naming SYSTEM's own commands, for the
    team to edit and keep in Git. An existing runbook is never overwritten.

    Example:

        trimtab incident runbook complaint-router
    """
    path, written = workspace().write_runbook(system)
    console.print(f"{'wrote' if written else 'kept the existing'} {path}", markup=False)
