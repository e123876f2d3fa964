"""`trimtab quality`: sampled scoring of real outputs, per release and per week."""

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

app = typer.Typer(help="Quality of real outputs: sampled scores per release and per week.",
                  no_args_is_help=True)


@app.command("score")
@handles_errors
def score(
    system: str = typer.Argument(None, metavar="[SYSTEM]",
                                 help="System name (default: every system with `scoring:`)."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Score the next drawn calls now: one bounded tick of what `trimtab serve` and
    `trimtab monitor` do every cycle (the system's `scoring:` block says the share,
    the seed and the scorers). Calls already scored are never scored again.

    Example:

        trimtab quality score complaint-router
    """
    ticks = workspace().score_sample(system)
    if json_output:
        print_json([t.to_dict() for t in ticks])
        return
    if not ticks:
        console.print("no system has a `scoring:` block (see docs/evals.md).")
        return
    for tick in ticks:
        if not tick.read:
            console.print(f"{tick.system}: no new calls to draw from", highlight=False)
            continue
        console.print(f"{tick.system}: read {tick.read} calls, drew {tick.drawn}, scored "
                      f"{tick.scored}" + (f", {tick.unscorable} without stored text"
                                          if tick.unscorable else "")
                      + (f", {tick.errors} verdicts not stored (the scorer could not judge; "
                         "see the log)" if tick.errors else "")
                      + ("" if tick.stored else " (another monitor stored them first)"),
                      highlight=False)


@app.command("releases")
@handles_errors
def releases(
    system: str = typer.Argument(..., metavar="SYSTEM", help="System name."),
    window: str = typer.Option("7d", "--window", help="How far back: 24h, 7d, 30d."),
    name: str = typer.Option(None, "--score", help="Only this scorer's scores."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """`quality_score` per release: each sampled scorer's mean score and the share of
    calls that passed it, over a window.

    Example:

        trimtab quality releases complaint-router --window 24h
    """
    found = workspace().quality_by_release(system, window=parse_span(window), name=name)
    if json_output:
        print_json([q.to_dict() for q in found])
        return
    if not found:
        console.print(f"no sampled scores of {system} in the last {window}: add `scoring:` "
                      f"to it and run trimtab monitor (or trimtab quality score {system}).")
        return
    rows = [[q.release_id or "-", q.name, str(q.scores), f"{q.mean:.3f}",
             f"{q.passed}/{q.judged}" if q.judged else "-"] for q in found]
    print_listing(f"{system}: sampled quality per release, last {window}",
                  [Col("release"), Col("scorer"), Col("scores", right=True),
                   Col("quality_score", right=True), Col("passed", right=True, drop=1)], rows)


@app.command("weekly")
@handles_errors
def weekly(
    system: str = typer.Argument(..., metavar="SYSTEM", help="System name."),
    weeks: int = typer.Option(8, "--weeks", min=1, max=104, help="How many ISO weeks."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The weekly quality score: the share of calls judged good (by people when they
    reviewed that week, else by the sampled scorers), its Wilson 95% interval, and
    the trend against the week before (significant when the intervals part).

    Example:

        trimtab quality weekly complaint-router --weeks 12
    """
    found = workspace().quality_weekly(system, weeks=weeks)
    if json_output:
        print_json({"system": system, "weeks": [w.to_dict() for w in found]})
        return
    rows = []
    for w in found:
        if w.source is None:
            rows.append([w.week, "-", "-", "-", "0", "-"])
            continue
        low, high = w.interval  # type: ignore[misc]
        calls = w.reviewed if w.source == "people" else w.scored
        arrow = {"up": "↑", "down": "↓", "flat": "→"}.get(w.trend or "", "")
        trend = "-" if w.change is None else (
            f"{arrow} {w.change:+.0%}" + (" significant" if w.significant else ""))
        rows.append([w.week, f"{w.score:.0%}", f"{low:.0%}-{high:.0%}", w.source, str(calls),
                     trend])
    print_listing(f"{system}: weekly quality score",
                  [Col("week"), Col("score", right=True), Col("95% CI (Wilson)"),
                   Col("by", drop=2), Col("calls", right=True), Col("trend", drop=1)], rows)
