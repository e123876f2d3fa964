"""`trimtab label` and `trimtab labels`: true labels arriving after the prediction,
and how right the predictions were."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from trimtab.cli.output import (
    Col,
    console,
    handles_errors,
    parse_since,
    parse_span,
    percent,
    print_json,
    print_listing,
    workspace,
)
from trimtab.errors import TrimtabError


@handles_errors
def label(
    call_id: str = typer.Argument(None, metavar="[CALL_ID]",
                                  help="Call id (or a unique prefix) of one prediction."),
    value: str = typer.Argument(None, metavar="[VALUE]",
                                help="Its true label: a class name or a number."),
    file: Path = typer.Option(None, "--file", "-f",
                              help="A .csv or .parquet file of labels, one row per call."),
    system: str = typer.Option(None, "--system", "-s",
                               help="The system the calls belong to (needed with --key)."),
    key: str = typer.Option(None, "--key", help="Match rows to calls by this tag (the file's "
                            "column of that name) instead of by call id."),
    id_column: str = typer.Option(None, "--id-column",
                                  help="The file's column of call ids or keys (default: "
                                  "call_id, or the --key tag)."),
    value_column: str = typer.Option("label", "--value-column",
                                     help="The file's column of true labels."),
    output_field: str = typer.Option(None, "--output-field",
                                     help="The field of a call's output holding the "
                                     "prediction (default: the only one, or prediction, "
                                     "label, class, value...)."),
    since: str = typer.Option("90d", "--since",
                              help="With --key: how far back to look for the calls."),
    skip_unknown: bool = typer.Option(False, "--skip-unknown",
                                      help="Store the rows whose call is found; count the "
                                      "others (default: refuse the whole file)."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Store true labels that arrived after the prediction (ground truth for classic
    models). A call labelled again keeps the latest label; every row is checked
    before any is stored, and a problem names its file and line.

    Accuracy, per-class F1 and MAE/RMSE: `trimtab labels SYSTEM`; alert rules
    watch them (`metric: accuracy`).

    Example:

        trimtab label 0192f3a1c4 churned

        trimtab label --file chargebacks.csv --system fraud-model --key order_id
    """
    ws = workspace()
    if file is not None:
        if call_id is not None or value is not None:
            raise TrimtabError("give either CALL_ID VALUE or --file, not both.")
        done = ws.label_file(file, system=system, key=key, id_column=id_column,
                             value_column=value_column, output_field=output_field,
                             since=parse_since(since), skip_unknown=skip_unknown)
    elif call_id is None or value is None:
        raise TrimtabError("give a call id and its true label (trimtab label CALL_ID VALUE), "
                           "or a file of them (trimtab label --file labels.csv).")
    else:
        done = ws.label(call_id, value, system=system, key=key, output_field=output_field,
                        since=parse_since(since) if key else None)
    if json_output:
        print_json(done.to_dict())
        return
    parts = [f"{done.new} new", f"{done.relabelled} relabelled (latest wins)"]
    if done.skipped:
        parts.append(f"{done.skipped} skipped (no such call)")
    if done.repeated_keys:
        parts.append(f"{done.repeated_keys} keys on several calls (the newest took the label)")
    right = f"; {done.correct} of them matched the prediction" if done.stored else ""
    console.print(f"stored {done.stored} labels for {', '.join(done.systems) or 'no system'}: "
                  f"{', '.join(parts)}{right}", markup=False, highlight=False)


def _release(release_id: str | None) -> str:
    if release_id == "*":
        return "all releases"
    return release_id[:12] if release_id else "(none)"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


@handles_errors
def labels(
    system: str = typer.Argument(..., metavar="SYSTEM", help="System name."),
    window: str = typer.Option("7d", "--window", "-w",
                               help="Labels that arrived in this span: 24h, 7d, 4w."),
    env: str = typer.Option(None, "--env", "-e", help="One environment (default: all)."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """How right a system's predictions were, from the true labels that arrived in a
    window, per release: accuracy, macro-F1, MAE and RMSE, then precision, recall
    and F1 per class.

    Example:

        trimtab labels churn-model --window 30d
    """
    found = workspace().label_metrics(system, window=parse_span(window), env=env)
    if json_output:
        print_json([m.to_dict() for m in found])
        return
    if not found:
        console.print(f"no labels of {system} arrived in the last {window}: trimtab label "
                      "--file labels.csv", markup=False, highlight=False)
        return
    rows = [[_release(m.release_id), f"{m.labels:,}", percent(m.accuracy), _num(m.macro_f1),
             _num(m.mae), _num(m.rmse)] for m in found]
    print_listing(f"{system}: labels of the last {window}",
                  [Col("release"), Col("labels", right=True), Col("accuracy", right=True),
                   Col("macro-F1", right=True, drop=3), Col("MAE", right=True, drop=2),
                   Col("RMSE", right=True, drop=1)], rows)
    every = found[0]
    if every.classes:
        print_listing(f"{system}: per class, all releases",
                      [Col("class"), Col("support", right=True), Col("predicted", right=True),
                       Col("precision", right=True), Col("recall", right=True),
                       Col("F1", right=True)],
                      [[escape(c.label), f"{c.support:,}", f"{c.predicted:,}", _num(c.precision),
                        _num(c.recall), _num(c.f1)] for c in every.classes])
    if every.note:
        console.print(every.note, markup=False, highlight=False)
