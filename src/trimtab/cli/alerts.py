"""`trimtab check`, `trimtab monitor` and `trimtab alerts ...`: alert rules at work."""

from __future__ import annotations

import logging
import signal
import threading

import typer

from trimtab.cli.output import (
    Col,
    console,
    err_console,
    handles_errors,
    log_to_stderr,
    parse_since,
    print_json,
    print_listing,
    when,
    workspace,
)
from trimtab.errors import TrimtabError

app = typer.Typer(help="Alert rules: their states, their history, and testing channels.",
                  no_args_is_help=True)

_STYLE = {"firing": "bold red", "pending": "yellow", "resolved": "green", "ok": "green",
          "no_data": "dim", "error": "bold magenta"}


def _state(state: str) -> str:
    shown = state.replace("_", " ")
    return f"[{_STYLE.get(state, '')}]{shown}[/]" if state in _STYLE else shown


def _threshold(metric: str, comparator: str, threshold: float) -> str:
    from trimtab.observe.alerts import format_value

    return f"{comparator} {format_value(metric, threshold)}"


@handles_errors
def check(
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
    target: bool = typer.Option(
        False, "--target",
        help="Also assess every system and exit 1 when one is below its target stage."),
) -> None:
    """Evaluate every alert rule once, notify, and exit 1 if any alert is firing;
    with --target, also exit 1 when a system is below its target maturity stage.

    Runs one cycle of `trimtab monitor`: states move (pending, firing,
    resolved), events are stored and audited, channels are notified once per
    event. With --target every declared system is assessed as `trimtab assess`
    does (and the assessment stored); each one below its target is named with
    its next step. Exit 0 when nothing fires and (with --target) every system is
    at or above its target, 1 otherwise, 2 on a mistake, so cron jobs and CI
    pipelines can gate on it. An open incident's reporting deadline within
    `incidents.warn_before` raises one `incident-deadline` alert through
    `incidents.channels` (printed on stderr; not in the exit code).

    Example:

        trimtab check && trimtab promote complaint-router staging production
        trimtab check --target    # in CI: fail when a system falls below its target
    """
    from trimtab.observe.alerts import format_value

    ws = workspace()
    # Deadlines and failed deliveries are printed here; keep logging's last-resort copy quiet.
    quiet = logging.getLogger("trimtab.observe.alerts")
    if not quiet.handlers:
        quiet.addHandler(logging.NullHandler())
    deadlines = ws.raise_deadline_alerts()  # delivered by the cycle below
    for event in deadlines:
        err_console.print(f"incident-deadline: {event.document['summary']}", markup=False,
                          highlight=False, soft_wrap=True)
    report: dict = {"firing": 0, "alerts": [], "sent": []}
    if ws.project.spec.alerts or json_output or deadlines:
        cycle = _check_alerts(ws)
        report = {"firing": len(cycle.firing), "alerts": [s.to_dict() for s in cycle.statuses],
                  "sent": [s.to_dict() for s in cycle.sent],
                  "deadlines": [e.document for e in deadlines]}
        if not json_output:
            print_listing(
                "alerts",
                [Col("rule"), Col("system"), Col("env", drop=3), Col("state"), Col("value"),
                 Col("threshold", drop=4), Col("window", drop=2),
                 Col("detail", drop=1, wrap=True)],
                [[s.rule, s.system, s.env or "all", _state(s.state),
                  format_value(s.metric, s.value), _threshold(s.metric, s.comparator,
                                                              s.threshold), s.window, s.detail]
                 for s in cycle.statuses],
            )
            console.print(f"{report['firing']} firing" if report["firing"]
                          else "nothing firing")
    else:
        console.print(f"no alert rules in {ws.project.path.name}: nothing to check "
                      "(see docs/alerts.md)")
    below = _below_target(ws) if target else []
    if json_output:
        print_json({**report, "below_target": below} if target else report)
    elif target:
        for row in below:
            step = f"; next: {row['next_step']}" if row["next_step"] else ""
            console.print(f"{row['system']}: stage {row['stage']}, below its target "
                          f"{row['target']}{step}", markup=False, soft_wrap=True)
        console.print(f"{len(below)} system(s) below target" if below
                      else "every system is at or above its target", markup=False)
    if report["firing"] or below:
        raise typer.Exit(1)


def _check_alerts(ws):
    """One monitor cycle; failed deliveries are printed as warnings."""
    # Failed deliveries are printed below; keep logging's last-resort copy quiet.
    quiet = logging.getLogger("trimtab.observe.alerts")
    if not quiet.handlers:
        quiet.addHandler(logging.NullHandler())
    cycle = ws.check_alerts()
    for sent in cycle.sent:
        if not sent.ok:
            err_console.print(f"warning: {sent.rule} {sent.state} -> {sent.target}: "
                              f"{sent.detail}", markup=False, highlight=False, soft_wrap=True)
    return cycle


def _below_target(ws) -> list[dict]:
    """Every system below its target stage, with the step that would lift it."""
    from trimtab.assess.checks import STAGES

    below = []
    for a in ws.assess_all():
        if a.stage >= a.target:
            continue
        step = a.next_steps[0] if a.next_steps else None
        below.append({"system": a.system, "stage": a.stage, "stage_name": STAGES[a.stage],
                      "target": a.target, "target_name": STAGES[a.target],
                      "failing": [v.check.id for v in a.verdicts if v.counts and not v.passes],
                      "next_step": f"{step.check.id} {step.fix}" if step else None})
    return below


@handles_errors
def monitor(
    interval: str = typer.Option("30s", "--interval", "-i",
                                 help="Time between evaluations: 30s, 1m, 5m."),
) -> None:
    """Evaluate alert rules and send notifications until stopped (Ctrl-C).

    Reloads trimtab.yaml when it changes. A channel or command that fails is
    logged and retried on later cycles; nothing but Ctrl-C (or SIGTERM) stops
    the loop.

    Example:

        trimtab monitor --interval 30s
    """
    from trimtab.project.alert_rules import parse_duration

    try:
        seconds = parse_duration(interval).total_seconds()
    except ValueError:
        raise TrimtabError(f"--interval {interval!r}: not a duration. Fix: use 30s, 1m or "
                           "5m.") from None
    ws = workspace()
    rules = len(ws.project.spec.alerts)
    log_to_stderr()
    stop = threading.Event()

    def _stop(signum, _frame) -> None:
        stop.set()

    previous = {s: signal.signal(s, _stop) for s in (signal.SIGINT, signal.SIGTERM)}
    console.print(f"monitoring {rules} alert rule{'s' * (rules != 1)} every {interval}; "
                  "Ctrl-C stops")
    try:
        ws.monitor(seconds, stop, on_cycle=_report)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        ws.close()
    console.print("monitor stopped")


def _report(cycle) -> None:
    firing = len(cycle.firing)
    logging.getLogger("trimtab.observe.alerts").info(
        "evaluated %d alert%s: %d firing", len(cycle.statuses),
        "s" * (len(cycle.statuses) != 1), firing)


@app.command("list")
@handles_errors
def list_(json_output: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List alert rules from trimtab.yaml and the current state of each.

    Example:

        trimtab alerts list
    """
    from trimtab.observe.alerts import format_value
    from trimtab.store.alerts import ALL_ENVS

    ws = workspace()
    rules = ws.project.spec.alerts
    states = {}
    for state in ws.alert_states():
        states.setdefault(state.rule, []).append(state)
    if json_output:
        print_json([{
            "rule": name, **rule.model_dump(by_alias=True, exclude={"run"}),
            "run": rule.run.model_dump() if rule.run else None,
            "states": [s.to_dict() for s in states.get(name, [])],
        } for name, rule in rules.items()])
        return
    if not rules:
        console.print(f"no alert rules in {ws.project.path.name} (see docs/alerts.md)")
        return
    rows = []
    for name, rule in rules.items():
        condition = (f"{rule.metric} {_threshold(rule.metric, rule.comparator, rule.threshold)}"
                     f" over {rule.window}" + (f" for {rule.for_}" if rule.for_delta else ""))
        channels = ", ".join(rule.channels + (["run"] if rule.run else [])) or "-"
        head = [name, condition, f"{rule.severity}: {channels}"]
        found = states.get(name) or [None]
        for i, state in enumerate(found):
            cells = head if i == 0 else [""] * len(head)
            if state is None:
                rows.append([*cells, rule.system or "all", rule.env or "all",
                             "not evaluated yet", "-", "-"])
                continue
            rows.append([*cells, state.system, "all" if state.env == ALL_ENVS else state.env,
                         _state(state.state), format_value(rule.metric, state.value),
                         when(state.since)])
    print_listing(
        "alert rules",
        [Col("rule"), Col("condition", wrap=True), Col("notify", drop=2, wrap=True),
         Col("system"), Col("env", drop=3), Col("state"), Col("value", drop=4),
         Col("since", drop=1)],
        rows,
    )


@app.command("history")
@handles_errors
def history(
    rule: str = typer.Option(None, "--rule", "-r", help="Only this rule."),
    system: str = typer.Option(None, "--system", "-s", help="Only this system."),
    since: str = typer.Option(None, "--since", help="Only since: 24h, 7d or an ISO date."),
    limit: int = typer.Option(50, "--limit", "-n", help="The newest N events."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show alert events (firing, resolved), newest first, and where each was sent.

    Example:

        trimtab alerts history --system complaint-router --since 7d
    """
    ws = workspace()
    events = ws.alert_events(rule=rule, system=system, since=parse_since(since), limit=limit)
    sent = ws.alert_deliveries([e.id for e in events])
    if json_output:
        print_json([{**e.document, "deliveries": [
            {"target": d.target, "status": d.status, "attempts": d.attempts,
             "detail": d.detail} for d in sent[e.id]]} for e in events])
        return
    if not events:
        console.print("no alert events yet")
        return
    rows = []
    for e in events:
        deliveries = ", ".join(f"{d.target} {d.status}" for d in sent[e.id]) or "-"
        rows.append([str(e.id), when(e.time), e.rule, _state(e.state), e.document["summary"],
                     deliveries])
    print_listing(
        "alert events",
        [Col("id", right=True), Col("time", drop=2), Col("rule"), Col("state"),
         Col("summary", wrap=True), Col("sent", drop=1, wrap=True)],
        rows,
    )


@app.command("test")
@handles_errors
def test(channel: str = typer.Argument(..., metavar="CHANNEL",
                                       help="A channel name from `channels:`.")) -> None:
    """Send a test message through a channel; exit 1 if it does not arrive.

    Example:

        trimtab alerts test ops-slack
    """
    outcome = workspace().test_channel(channel)
    if not outcome.ok:
        err_console.print(f"error: test message through {channel} failed: {outcome.detail}",
                          markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    console.print(f"sent a test message through {channel} ({outcome.detail})")
