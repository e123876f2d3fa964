"""`trimtab assess`: each system's maturity stage from evidence, and the next step."""

from __future__ import annotations

import typer
from rich.table import Table

from trimtab.cli.output import console, handles_errors, print_json, workspace
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
) -> None:
    """Work out each system's stage (Manual, Automated, Observed, Governed) from
    what the store holds, and say what the next smallest step is.

    Every check shows its state (automated, manual, missing, n/a, or no evidence
    source yet), the evidence it used and the command or trimtab.yaml snippet
    that fixes it. The weakest link decides the stage; the target comes from
    risk and customer-facing (or target_stage in trimtab.yaml).

    Example:

        trimtab assess complaint-router --format markdown > maturity.md
    """
    if output_format not in ("table", "json", "markdown"):
        raise TrimtabError(f"--format {output_format!r}: use table, json or markdown.")
    from trimtab.assess.assessment import markdown

    ws = workspace()
    names = [system] if system else list(ws.project.spec.systems)
    results = [ws.assess(name) for name in names]
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


def _print(a) -> None:
    from trimtab.assess.checks import STAGES

    console.print(f"\n[bold]{a.system}[/bold] ({a.track}): stage {a.stage} "
                  f"{STAGES[a.stage]}, target {a.target} {STAGES[a.target]}")
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("check", no_wrap=True)
    table.add_column("stage", justify="right")
    table.add_column("state", no_wrap=True)
    table.add_column("evidence", overflow="fold")
    for v in a.verdicts:
        style = _STATE_STYLE.get(v.state, "red")
        table.add_row(v.check.id, str(v.check.stage), f"[{style}]{v.state}[/{style}]",
                      v.evidence, style=None)
    console.print(table)
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
