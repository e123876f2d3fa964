"""`trimtab report`: reviews written to files for people and spreadsheets."""

from __future__ import annotations

from pathlib import Path

import typer

from trimtab.cli.output import console, handles_errors, print_json, usd, workspace

app = typer.Typer(help="Write reviews: the monthly cost report.", no_args_is_help=True)


@app.command("cost")
@handles_errors
def cost(
    month: str = typer.Option(None, "--month", "-m",
                              help="YYYY-MM (default: the last full month, or the latest "
                              "month with calls when that one has none)."),
    out: Path = typer.Option(Path("."), "--out", "-o", help="Folder to write the files into."),
    json_output: bool = typer.Option(False, "--json", help="Also print the figures as JSON."),
) -> None:
    """Write the monthly cost review: Markdown, CSV and a PNG chart.

    Spend by system, model, user (the top 20 and "all others"), gateway key
    (by name), team and every other tag the calls carried (a key's tags, e.g.
    team, reach each of its calls), the change against the previous month,
    the top spenders and the cost per successful task (spend / calls that did
    not fail), and the month's spend against each budget declared under
    `budgets:` in trimtab.yaml (per system, team or key). The chart needs
    matplotlib: pip install 'trimtab[report]'.

    Example:

        trimtab report cost --month 2026-10 --out reports/

        trimtab report cost --json --out reports/ | jq '.budgets'
    """
    from trimtab.observe import cost_report

    report = workspace().cost_report(month)
    paths, notes = cost_report.write(report, out)
    if json_output:
        print_json({**report.to_dict(), "files": {k: str(v) for k, v in paths.items()}})
        return
    total = report.total
    console.print(
        f"cost review {report.month}: {usd(total.cost_usd)} over {total.calls:,} calls "
        f"(previous month {usd(total.previous_cost_usd)}); cost per successful task "
        f"{usd(total.cost_per_successful_call_usd, unknown='-')}", soft_wrap=True
    )
    for budget in report.budgets:
        over = " - over budget" if budget.used >= 1 else ""
        console.print(f"budget {budget.name} ({budget.scope}): {usd(budget.spent_usd)} of "
                      f"{usd(budget.monthly_usd)} ({budget.used:.1%}){over}",
                      markup=False, highlight=False, soft_wrap=True)
    for kind, path in paths.items():
        console.print(f"wrote {path} ({kind})")
    for note in notes:
        console.print(f"note: {note}", markup=False, highlight=False)
