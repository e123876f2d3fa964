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
    freeze: bool = typer.Option(
        None, "--freeze/--no-freeze",
        help="Pin the system's releases and hold its calls (default: freeze when a "
             "category applies or the severity is critical)."),
    hold_since: str = typer.Option(
        None, "--hold-since", help="Where the legal hold starts (ISO time or a span ago; "
        "default: incidents.hold_before, 7d, before --aware-at)."),
    json_output: bool = typer.Option(False, "--json", help="Print the incident as JSON."),
) -> None:
    """Open an incident; every applicable reporting deadline runs from --aware-at.

    A serious incident (any reporting category, or critical severity) freezes
    the system: its releases are pinned (promote and rollback refused, save an
    admin's --force --reason) and its calls from --hold-since on go on legal
    hold (never pruned). --no-freeze opts out; --freeze freezes any incident.
    Lift with `trimtab incident unfreeze`, release with `incident release-hold`.

    Example:

        trimtab incident open complaint-router --severity high -m "misrouted" -c ai-act-serious
    """
    ws = workspace()
    made = ws.open_incident(system, severity=severity, summary=summary,
                            categories=category or [], aware_at=parse_since(aware_at,
                                                                            "--aware-at"),
                            freeze=freeze, hold_since=parse_since(hold_since, "--hold-since"))
    frozen = [f for f in ws.freezes(system=system) if f.incident_id == made.id]
    due = [d for d in ws.deadlines() if d.incident == made.id]
    if json_output:
        print_json(made.to_dict() | {"deadlines": [d.to_dict() for d in due],
                                     "freezes": [f.to_dict() for f in frozen]})
        return
    console.print(f"opened incident [bold]{made.id}[/] for {system} ({severity})")
    if frozen:
        console.print(f"froze {system}: releases pinned, calls on legal hold "
                      f"(lift: trimtab incident unfreeze {made.id} --reason ...)", markup=False)
    _print_deadlines(due)


@app.command("freeze")
@handles_errors
def freeze(
    incident: str = typer.Argument(..., metavar="ID", help="The incident id (or a prefix)."),
    hold_since: str = typer.Option(
        None, "--hold-since", help="Where the legal hold starts (default: "
        "incidents.hold_before before the incident's awareness)."),
) -> None:
    """Freeze an open incident's system: pin its releases, put its calls on legal hold.

    Example:

        trimtab incident freeze 7c2e91aa
    """
    made, hold = workspace().freeze_incident(incident,
                                             hold_since=parse_since(hold_since, "--hold-since"))
    console.print(f"froze {made.system} for incident {made.incident_id}; legal hold {hold.id} "
                  f"from {hold.since:%Y-%m-%d %H:%M} UTC", markup=False)


@app.command("unfreeze")
@handles_errors
def unfreeze(
    incident: str = typer.Argument(..., metavar="ID", help="The incident id (or a prefix)."),
    reason: str = typer.Option(..., "--reason", "-r", help="Why; kept in the audit trail."),
) -> None:
    """Lift an incident's freeze so releases move again (approver; audited).

    The legal hold on its calls stays until `trimtab incident release-hold`.

    Example:

        trimtab incident unfreeze 7c2e91aa --reason "fix verified; evidence exported"
    """
    lifted = workspace().unfreeze_incident(incident, reason=reason)
    console.print(f"unfroze {lifted[0].system} (incident {lifted[0].incident_id}); its legal "
                  "hold stays", markup=False)


@app.command("release-hold")
@handles_errors
def release_hold(
    incident: str = typer.Argument(..., metavar="ID", help="The incident id (or a prefix)."),
    reason: str = typer.Option(..., "--reason", "-r", help="Why; kept in the audit trail."),
) -> None:
    """Release an incident's legal hold: its calls follow retention again (admin; audited).

    Example:

        trimtab incident release-hold 7c2e91aa --reason "authority closed the case"
    """
    released = workspace().release_holds(incident, reason=reason)
    console.print(f"released {len(released)} legal hold(s) of incident "
                  f"{released[0].incident_id}", markup=False)


@app.command("holds")
@handles_errors
def holds(
    system: str = typer.Option(None, "--system", "-s", help="Only this system."),
    include_released: bool = typer.Option(False, "--all", help="List released holds too."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List legal holds (calls `trimtab prune` never deletes) and standing freezes.

    Example:

        trimtab incident holds --system complaint-router
    """
    ws = workspace()
    found = ws.holds(system=system, include_released=include_released)
    frozen = ws.freezes(system=system, include_lifted=include_released)
    if json_output:
        print_json({"holds": [h.to_dict() | {"calls": n} for h, n in found],
                    "freezes": [f.to_dict() for f in frozen]})
        return
    if not found and not frozen:
        console.print("no legal holds, no freezes")
        return
    if found:
        print_listing(
            "legal holds (UTC)",
            [Col("id"), Col("system"), Col("incident"), Col("since"), Col("until"),
             Col("calls", right=True), Col("state"), Col("reason", wrap=True, drop=1)],
            [[str(h.id), h.system, h.incident_id or "-", f"{h.since:%Y-%m-%d %H:%M}",
              f"{h.until:%Y-%m-%d %H:%M}" if h.until else "open", str(n),
              "held" if h.active else f"released {h.released_at:%Y-%m-%d}",
              escape(h.reason)] for h, n in found],
        )
    if frozen:
        print_listing(
            "freezes (UTC)",
            [Col("system"), Col("incident"), Col("since"), Col("pinned", wrap=True),
             Col("state")],
            [[f.system, f.incident_id or "-", f"{f.frozen_at:%Y-%m-%d %H:%M}",
              ", ".join(f"{e}={r[:12]}" for e, r in sorted(f.pinned.items())) or "-",
              "frozen" if f.lifted_at is None else f"lifted {f.lifted_at:%Y-%m-%d}"]
             for f in frozen],
        )


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

    ws = workspace()
    found = ws.incident(incident)
    print_json(found.to_dict() | {
        "deadlines": [d.to_dict() for d in deadlines(found)],
        "freezes": [f.to_dict() for f in ws.freezes(system=found.system, include_lifted=True)
                    if f.incident_id == found.id],
        "holds": [h.to_dict() | {"calls": n} for h, n in ws.holds(
            system=found.system, include_released=True) if h.incident_id == found.id]})


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
    frozen = {f.incident_id for f in ws.freezes(system=system)}
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
          "closed" if i.closed_at else "open, frozen" if i.id in frozen else "open",
          escape(i.summary)] for i in listed],
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
