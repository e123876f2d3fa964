"""`trimtab metrics`: latency, errors, tokens and cost, from rollups."""

from __future__ import annotations

import typer
from rich.markup import escape

from trimtab.cli.output import (
    Col,
    console,
    handles_errors,
    parse_span,
    percent,
    print_json,
    print_listing,
    usd,
    workspace,
)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


@handles_errors
def metrics(
    system: str = typer.Argument(None, metavar="SYSTEM", help="Only this system (default: all)."),
    window: str = typer.Option("24h", "--window", "-w", help="How far back: 30m, 24h, 7d."),
    by: list[str] = typer.Option(
        None, "--by", "-b",
        help="Group by system, env, release, model, outcome, user, tag or key (repeatable).",
    ),
    tag: str = typer.Option(None, "--tag", help="The tag key, with --by tag."),
    env: str = typer.Option(None, "--env", "-e", help="Only this environment."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show calls, error rate, p50/p95/p99 latency, tokens and cost over a window.

    Example:

        trimtab metrics complaint-router --window 7d --by model --by env
    """
    groups = tuple(by or ()) or (() if system else ("system",))
    rows = workspace().metrics(
        window=parse_span(window), by=groups, system=system, env=env, tag=tag
    )
    if json_output:
        print_json([r.to_dict() for r in rows])
        return
    if not rows:
        console.print(f"no calls in the last {window}")
        return
    print_metrics(rows, groups, title=f"last {window}" + (f" · {system}" if system else ""),
                  tag=tag)


def print_metrics(rows, groups: tuple[str, ...], *, title: str, tag: str | None = None) -> None:
    columns = [Col(name if name != "tag" else f"tag {tag}") for name in groups]
    columns += [Col("calls", right=True), Col("errors", right=True),
                Col("p50 ms", right=True, drop=2), Col("p95 ms", right=True),
                Col("p99 ms", right=True, drop=3), Col("tokens in/out", right=True, drop=1),
                Col("cost", right=True), Col("per call", right=True, drop=4)]
    rows_out = []
    for r in rows:
        per_call = r.cost_per_call_usd
        rows_out.append([
            *(r.group[g][:12] if g == "release" else escape(r.group[g]) for g in groups),
            f"{r.calls:,}", percent(r.error_rate), _ms(r.p50_ms), _ms(r.p95_ms),
            _ms(r.p99_ms), f"{r.input_tokens:,}/{r.output_tokens:,}",
            usd(r.cost_usd) + ("+?" if r.cost_unknown_calls else ""),
            "-" if per_call is None else usd(per_call),
        ])
    print_listing(title, columns, rows_out)
