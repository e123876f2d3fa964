"""`trimtab score`: a quality verdict on one recorded call."""

from __future__ import annotations

import typer

from trimtab.cli.output import console, handles_errors, print_json, workspace


@handles_errors
def score(
    call_id: str = typer.Argument(..., metavar="CALL_ID", help="Call id or a unique prefix."),
    name: str = typer.Argument(..., metavar="NAME", help="What is scored, e.g. helpful."),
    value: float = typer.Argument(..., metavar="VALUE", help="A number, e.g. 1, 0 or 0.75."),
    comment: str = typer.Option(None, "--comment", "-m", help="Why, in words."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Score a recorded call (review, evaluator or user feedback); audited.

    `quality_score` alert rules average the scores of a system over a window.

    Example:

        trimtab score 0192f3a1c4 correct 0 --comment "routed to the wrong team"
    """
    saved = workspace().score(call_id, name, value, comment)
    if json_output:
        print_json(saved.to_dict())
        return
    console.print(f"scored call {saved.call_id[:12]} ({saved.system}): {saved.name} = "
                  f"{saved.value:g}", markup=False, highlight=False)
