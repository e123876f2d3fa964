"""`trimtab drift`: store baselines, check a system's calls for drift, read the history.

`trimtab drift SYSTEM` is short for `trimtab drift check SYSTEM`.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape
from typer.core import TyperGroup

from trimtab.cli.output import (
    Col,
    console,
    handles_errors,
    parse_since,
    parse_span,
    percent,
    print_json,
    print_listing,
    when,
    workspace,
)
from trimtab.errors import TrimtabError

if TYPE_CHECKING:
    from trimtab.observe.drift.report import ColumnVerdict

_SPAN = re.compile(r"^\d+\s*[mhdw]$")
_FILE_SUFFIXES = (".csv", ".jsonl", ".ndjson", ".parquet")


class _CheckByDefault(TyperGroup):
    """`trimtab drift SYSTEM ...` runs `check`: a first word that is no subcommand is a system."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["check", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_CheckByDefault, no_args_is_help=True,
    help="Drift detection: `trimtab drift SYSTEM` checks the last 24h against the baseline.",
)


def _window(value: str, option: str) -> tuple[datetime, datetime]:
    start, _, end = (part.strip() for part in value.partition(".."))
    if not start or not end:
        raise TrimtabError(f"{option} {value!r}: a window is START..END, "
                           "e.g. 2026-10-01..2026-10-08.")
    return parse_since(start, option), parse_since(end, option)


def _file(value: str) -> Path | None:
    """A path when the value is one: an existing file, or a name with a data file's
    suffix (so a mistyped ``../data/x.csv`` is "no such file", not a bad window)."""
    path = Path(value)
    if path.is_file() or path.suffix.lower() in _FILE_SUFFIXES:
        return path
    return None


def parse_reference(value: str | None, file: Path | None = None) -> Any:
    """A baseline name or id, START..END, a span before the current window, or a file.
    A file wins: ``../data/train.csv`` holds ``..`` but is no window."""
    if file is not None:
        if value is not None:
            raise TrimtabError("give --reference or --reference-file, not both.")
        return Path(file)
    if value is None:
        return None
    path = _file(value)
    if path is not None:
        return path
    if ".." in value:
        return _window(value, "--reference")
    if _SPAN.match(value.strip()):
        return parse_span(value, "--reference")
    return value


def parse_current(value: str, file: Path | None = None,
                  ) -> Path | timedelta | tuple[datetime, datetime]:
    if file is not None:
        return Path(file)
    path = _file(value)
    if path is not None:
        return path
    if ".." in value:
        return _window(value, "--current")
    return parse_span(value, "--current")


def parse_pairs(value: str | None, option: str, example: str) -> dict[str, str] | None:
    """``a=b,c=d`` into {"a": "b", "c": "d"}."""
    if not value:
        return None
    pairs = {}
    for part in value.split(","):
        name, sep, setting = (p.strip() for p in part.partition("="))
        if not sep or not name or not setting:
            raise TrimtabError(f"{option} {value!r}: {part.strip()!r} is not NAME=VALUE. "
                               f"Fix: e.g. {option} {example}.")
        pairs[name] = setting
    return pairs


def _kinds(value: str | None) -> dict[str, str] | None:
    return parse_pairs(value, "--kinds", "amount=numerical,rating=categorical")


def _fields(value: str | None) -> dict[str, str] | None:
    return parse_pairs(value, "--fields", "output=churned,latency_ms=latency")


_KINDS_HELP = ("Column kinds, e.g. amount=numerical,rating=categorical (default: inferred "
               "as Evidently does).")
_FIELDS_HELP = ("With a CSV/Parquet file: which columns are call fields, e.g. "
                "output=churned,latency_ms=latency (default: every column is a feature).")


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    return f"{value:.4g}" if 1e-3 <= abs(value) < 1e4 else f"{value:.3g}"


def _against(c: ColumnVerdict) -> str:
    """The number that decided, against its threshold: p-values drift below, distances above."""
    if c.score is None:
        return "-"
    if c.p_value is not None:
        op = "≤" if c.test == "ks" else "<"
        return f"p={_num(c.p_value)} {op if c.drifted else 'vs'} {_num(c.threshold)}"
    return f"{_num(c.score)} {'≥' if c.drifted else 'vs'} {_num(c.threshold)}"


_STATUS = {
    "missing_in_reference": "absent from reference",
    "missing_in_current": "absent from current",
    "no_data": "all missing",
    "type_mismatch": "type mismatch",
    "text": "free text",
    "untestable": "not testable",
}


@app.command("check")
@handles_errors
def check(
    system: str = typer.Argument(..., metavar="SYSTEM", help="The system to check."),
    env: str = typer.Option(None, "--env", "-e", help="Environment (default: production)."),
    reference: str = typer.Option(
        None, "--reference", "-r",
        help="Baseline name or id (default: the newest), START..END, a span before the "
             "current window (7d), or a .csv/.jsonl/.parquet file.",
    ),
    reference_file: Path = typer.Option(
        None, "--reference-file", help="A .csv/.jsonl/.parquet file as the reference, "
        "whatever its name looks like."),
    current: str = typer.Option(
        "24h", "--current", "-c", help="The last span (24h), START..END, or a file."),
    current_file: Path = typer.Option(
        None, "--current-file", help="A .csv/.jsonl/.parquet file as the current window."),
    kinds: str = typer.Option(None, "--kinds", metavar="COLUMN=KIND,...", help=_KINDS_HELP),
    fields: str = typer.Option(None, "--fields", metavar="FIELD=COLUMN,...", help=_FIELDS_HELP),
    drift_share: float = typer.Option(
        0.5, "--drift-share", help="Dataset drift when at least this share of columns drift."),
    embeddings: bool = typer.Option(
        False, "--embeddings", help="With a window/file reference: add embedding drift of text "
        "columns (needs trimtab[embeddings])."),
    fail_on_drift: bool = typer.Option(
        False, "--fail-on-drift", help="Exit 1 when the dataset drifted (for cron and CI)."),
    save: bool = typer.Option(True, "--save/--no-save", help="Store the result (audited)."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Check a system's recent calls for drift against its baseline; print every column's verdict.

    `trimtab drift SYSTEM` is the same command. Inputs, outputs and operations
    (latency, cost) are checked column by column with Evidently's default tests;
    the dataset drifts when the share of drifted columns reaches --drift-share.
    The result is stored and audited. Exits 0 unless --fail-on-drift is given and
    the dataset drifted (then 1).

    Example:

        trimtab drift check complaint-router --env production --current 24h --fail-on-drift
        trimtab drift check churn-model --reference ../data/train.csv --fields output=churned
    """
    result = workspace().drift(
        system, env=env, reference=parse_reference(reference, reference_file),
        current=parse_current(current, current_file), kinds=_kinds(kinds), fields=_fields(fields),
        drift_share=drift_share, embeddings=embeddings, save=save,
    )
    report = result.report
    if json_output:
        print_json(result.to_dict())
    else:
        rows = []
        for c in report.columns:
            if c.status == "tested":
                drifted = "[bold red]DRIFT[/]" if c.drifted else "no"
            else:
                drifted = f"[yellow]{_STATUS.get(c.status, c.status)}[/]"
            rows.append([
                escape(c.column), c.kind or "-", c.test or "-", _num(c.statistic),
                _against(c), f"{c.n_reference:,}", f"{c.n_current:,}", drifted,
            ])
        console.print(f"reference: {escape(result.reference)}", soft_wrap=True)
        console.print(f"current:   {escape(result.current)}", soft_wrap=True)
        print_listing(
            f"drift of {system} in {result.env}",
            [Col("column"), Col("kind", drop=5), Col("test", drop=4),
             Col("statistic", right=True, drop=1), Col("threshold / p-value"),
             Col("n_ref", right=True, drop=2), Col("n_cur", right=True, drop=3),
             Col("drifted", wrap=True)],
            rows,
        )
        verdict = "[bold red]YES[/]" if report.dataset_drift else "[green]no[/]"
        console.print(
            f"dataset drift: {verdict} — {len(report.drifted_columns)} of "
            f"{len(report.tested)} tested columns drifted ({percent(report.share)}, "
            f"threshold {percent(report.drift_share)})", soft_wrap=True,
        )
        for c in report.not_tested:
            console.print(f"  [yellow]not tested[/] {escape(c.column)}: {escape(c.reason or '')}")
        for note in result.notes:
            console.print(f"  note: {escape(note)}")
        if result.result is not None:
            console.print(f"stored as drift result {result.result.id[:12]}")
    if fail_on_drift and report.dataset_drift:
        raise typer.Exit(1)


@app.command("baseline")
@handles_errors
def baseline(
    system: str = typer.Argument(..., metavar="SYSTEM", help="The system the baseline is for."),
    env: str = typer.Option(None, "--env", "-e", help="Environment (default: production)."),
    window: str = typer.Option(None, "--window", "-w", help="The last span of calls: 7d, 48h."),
    since: str = typer.Option(None, "--since", help="Window start: ISO time or span ago."),
    until: str = typer.Option(None, "--until", help="Window end: ISO time or span ago."),
    file: Path = typer.Option(None, "--file", "-f", help="A .csv, .jsonl or .parquet file."),
    name: str = typer.Option(None, "--name", "-n", help="Name it (default: from the window)."),
    kinds: str = typer.Option(None, "--kinds", metavar="COLUMN=KIND,...", help=_KINDS_HELP),
    fields: str = typer.Option(None, "--fields", metavar="FIELD=COLUMN,...", help=_FIELDS_HELP),
    embeddings: bool = typer.Option(
        False, "--embeddings", help="Also keep the text columns' embedding centroid "
        "(all-MiniLM-L6-v2; needs trimtab[embeddings])."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Store a drift reference profile of a system: by default the first 7 days of its
    active release.

    Only the compact profile (counts, sketches, vocabulary) is stored, never the
    rows. Later checks use the newest baseline unless told otherwise. Audited.

    Example:

        trimtab drift baseline complaint-router --since 2026-10-01 --until 2026-10-08
        trimtab drift baseline churn-model --file ../data/train.csv --kinds rating=categorical
    """
    saved = workspace().drift_baseline(
        system, env=env, window=parse_span(window) if window else None,
        since=parse_since(since, "--since"), until=parse_since(until, "--until"),
        file=file, name=name, embeddings=embeddings, kinds=_kinds(kinds), fields=_fields(fields),
    )
    if json_output:
        print_json(saved.to_dict())
        return
    console.print(
        f"saved drift baseline {escape(saved.name)} ({saved.short_id}) for {system} in "
        f"{saved.env}: {saved.rows:,} rows, {len(saved.profile):,} bytes of profile"
    )
    console.print(f"reference: {escape(saved.description)}")


@app.command("baselines")
@handles_errors
def baselines(
    system: str = typer.Argument(..., metavar="SYSTEM", help="The system."),
    env: str = typer.Option(None, "--env", "-e", help="Only this environment."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List a system's stored drift baselines, newest first.

    Example:

        trimtab drift baselines complaint-router
    """
    found = workspace().drift_baselines(system, env)
    if json_output:
        print_json([b.to_dict() for b in found])
        return
    print_listing(
        f"drift baselines of {system}",
        [Col("baseline"), Col("name", wrap=True), Col("env", drop=3),
         Col("reference", wrap=True, drop=4), Col("rows", right=True), Col("created", drop=2),
         Col("by", drop=1)],
        [[b.short_id, escape(b.name), b.env, escape(b.description), f"{b.rows:,}",
          when(b.created_at), b.created_by] for b in found],
    )


@app.command("history")
@handles_errors
def history(
    system: str = typer.Argument(..., metavar="SYSTEM", help="The system."),
    env: str = typer.Option(None, "--env", "-e", help="Only this environment."),
    limit: int = typer.Option(20, "--limit", "-n", help="At most this many, newest first."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON (with every verdict)."),
) -> None:
    """List a system's stored drift results, newest first.

    Example:

        trimtab drift history complaint-router --env production
    """
    found = workspace().drift_history(system, env, limit)
    if json_output:
        print_json([r.to_dict() for r in found])
        return
    rows = []
    for r in found:
        drifted = [c["column"] for c in r.verdicts if c.get("drifted")]
        shown = f"{len(drifted)}/{r.n_columns_tested}" + (": " if drifted else "") + \
            ", ".join(drifted)
        current = escape(r.current) if r.current_start is None else \
            f"{r.current_start:%m-%d %H:%M} → {r.current_end:%m-%d %H:%M}"
        rows.append([
            r.id[:12], when(r.time), r.env, current,
            "[bold red]YES[/]" if r.dataset_drift else "no",
            percent(r.share_drifted), escape(shown),
        ])
    print_listing(
        f"drift history of {system}",
        [Col("result"), Col("checked", drop=2), Col("env", drop=3),
         Col("current", wrap=True, drop=1), Col("drift"), Col("share", right=True),
         Col("drifted columns", wrap=True)],
        rows,
    )
