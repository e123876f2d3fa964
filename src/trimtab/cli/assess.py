"""`trimtab assess`: each system's maturity stage from evidence, and the next step."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.markup import escape

from trimtab.cli.output import (
    Col,
    check_out_file,
    console,
    handles_errors,
    print_json,
    print_listing,
    workspace,
    writing,
)
from trimtab.errors import TrimtabError

_STATE_STYLE = {"automated": "green", "manual": "yellow", "missing": "red", "n/a": "dim"}


@handles_errors
def assess(
    system: str = typer.Argument(None, metavar="[SYSTEM]", help="One system (default: all)."),
    output_format: str = typer.Option("table", "--format", "-f",
                                      help="table, json or markdown."),
    fail_below_target: bool = typer.Option(
        False, "--fail-below-target",
        help="Exit 1 when a system is below its target stage (for CI)."),
    portfolio: bool = typer.Option(
        False, "--portfolio", help="Rank every system by gap × impact (risk, volume, spend)."),
    plan: Path = typer.Option(
        None, "--plan", help="With --portfolio: write the quarter's plan as Markdown here."),
    history: bool = typer.Option(
        False, "--history", help="Show SYSTEM's stored assessments, newest first."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON (as --format json)."),
) -> None:
    """Work out each system's stage (Manual, Automated, Observed, Governed) from
    what the store holds, and say what the next smallest step is.

    Every check shows its state (automated, manual, missing, n/a, or no evidence
    source yet), the evidence it used and the command or trimtab.yaml snippet
    that fixes it. The weakest link decides the stage; the target comes from
    risk and customer-facing (or target_stage in trimtab.yaml).

    Each run is stored: --history shows a system's trend, and --portfolio ranks
    every system by gap × impact and can write the quarter's plan (--plan).

    Example:

        trimtab assess complaint-router --format markdown > maturity.md
        trimtab assess --portfolio --plan plan.md
    """
    if output_format not in ("table", "json", "markdown"):
        raise TrimtabError(f"--format {output_format!r}: use table, json or markdown.")
    if json_output:
        output_format = "json"
    if plan is not None and not portfolio:
        raise TrimtabError("--plan writes the portfolio's plan. Fix: add --portfolio.")
    check_out_file(plan, "--plan")
    from trimtab.assess.assessment import markdown

    ws = workspace()
    if history:
        if not system:
            raise TrimtabError("--history needs a SYSTEM. Fix: trimtab assess SYSTEM --history")
        _print_history(ws, system, output_format)
        return
    if portfolio:
        _print_portfolio(ws, output_format, plan)
        return
    results = [ws.assess(system)] if system else ws.assess_all()
    if output_format == "json":
        print_json([a.to_dict() for a in results])
    elif output_format == "markdown":
        console.print("\n".join(markdown(a) for a in results), markup=False, highlight=False,
                      soft_wrap=True)
    else:
        for a in results:
            _print(a)
    if fail_below_target and any(a.stage < a.target for a in results):
        raise typer.Exit(1)


def _print_history(ws, system: str, output_format: str) -> None:
    from trimtab.assess.checks import STAGES
    from trimtab.assess.portfolio import stale_note

    ws.project.system(system)  # an unknown name fails with the declared ones
    rows = ws.assessment_history(system)
    if output_format == "json":
        print_json([{"time": r.time.isoformat(), "stage": r.stage, "target": r.target,
                     "failing": r.failing_checks, "actor": r.actor} for r in rows])
        return
    print_listing(
        f"assessments of {system}, newest first",
        [Col("#", right=True), Col("time (UTC)"), Col("stage"), Col("target", right=True),
         Col("failing checks", wrap=True), Col("by", drop=1)],
        [[str(i), f"{r.time:%Y-%m-%d %H:%M}", f"{r.stage} {STAGES[r.stage]}", str(r.target),
          escape(", ".join(r.failing_checks) or "none"), escape(r.actor)]
         for i, r in enumerate(rows, 1)],
    )
    if len(rows) >= 2:
        change = rows[0].stage - rows[-1].stage
        trend = "up" if change > 0 else "down" if change < 0 else "flat"
        console.print(f"trend over {len(rows)} assessments: {trend} "
                      f"({rows[-1].stage} → {rows[0].stage})", markup=False)
    note = stale_note(rows[0] if rows else None, datetime.now(UTC))
    if note:
        console.print(note, markup=False)


def _print_portfolio(ws, output_format: str, plan: Path | None) -> None:
    from trimtab.assess.checks import STAGES
    from trimtab.assess.portfolio import plan_markdown, quarter_of

    ranked = ws.portfolio()
    if plan is not None:
        now = ranked[0].assessment.assessed_at if ranked else datetime.now(UTC)
        with writing(plan, "--plan"):
            plan.write_text(plan_markdown(ranked, quarter_of(now)), encoding="utf-8")
    if output_format == "json":
        print_json([{**r.assessment.to_dict(), "impact": r.impact, "priority": r.priority,
                     "calls_30d": r.calls_30d, "spend_usd_30d": r.spend_usd_30d}
                    for r in ranked])
    elif output_format == "markdown":
        console.print(plan_markdown(ranked, quarter_of(datetime.now(UTC))), markup=False,
                      highlight=False, soft_wrap=True)
    else:
        rows = []
        for i, r in enumerate(ranked, 1):
            a = r.assessment
            step = a.next_steps[0] if a.next_steps else None
            rows.append([str(i), a.system, f"{a.stage} {STAGES[a.stage]}",
                         f"{a.target} {STAGES[a.target]}", f"{r.impact:g}", f"{r.priority:g}",
                         escape(f"{step.check.id} {step.check.title}" if step else "at target")])
        print_listing(
            "systems by gap × impact",
            [Col("#", right=True), Col("system"), Col("stage"), Col("target", drop=2),
             Col("impact", right=True, drop=1), Col("priority", right=True),
             Col("next step", wrap=True)],
            rows,
        )
    if plan is not None:
        console.print(f"wrote {plan}", markup=False)


def _print(a) -> None:
    from trimtab.assess.checks import STAGES

    console.print(f"\n[bold]{a.system}[/bold] ({a.track}): stage {a.stage} "
                  f"{STAGES[a.stage]}, target {a.target} {STAGES[a.target]}")
    print_listing(
        f"checks of {a.system}",
        [Col("check"), Col("stage", right=True, drop=1), Col("state"),
         Col("evidence", wrap=True)],
        [[escape(v.check.id), str(v.check.stage),
          f"[{_STATE_STYLE.get(v.state, 'red')}]{escape(v.state)}[/]", escape(v.evidence)]
         for v in a.verdicts],
    )
    for note in a.notes:
        console.print(note, markup=False)
    if a.next_steps:
        console.print("[bold]next steps[/bold] (cheapest first):")
        for i, v in enumerate(a.next_steps, 1):
            console.print(f"  {i}. {v.check.id} {v.check.title}", markup=False)
            console.print(f"     fix: {v.fix}", markup=False, soft_wrap=True)
    skipped = [s.component for s in a.skips if s.verdict == "skip"]
    added = [s for s in a.skips if s.verdict == "add"]
    if skipped:
        console.print(f"skip for now: {', '.join(skipped)} (--format markdown says why)",
                      markup=False)
    for s in added:
        console.print(f"add: {s.component}: {s.reason}", markup=False)
