"""`trimtab eval` and `trimtab evals`: eval suites run, summarised and listed."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from trimtab.cli import collector
from trimtab.cli.output import (
    Col,
    check_out_file,
    closes_workspace,
    console,
    err_console,
    handles_errors,
    print_json,
    print_listing,
    usd,
    workspace,
    writing,
)
from trimtab.escaping import markdown_code, markdown_text
from trimtab.quality.metrics import num as _num

if TYPE_CHECKING:
    from trimtab.quality.evaluation import EvalReport
    from trimtab.quality.runner import SuiteRun

#: Failing cases printed per suite; the rest are counted (all are in the store).
SHOWN_CASES = 10
#: Characters of a case's output `evals --run` shows; --json has all of it.
SHOWN_OUTPUT = 160


@handles_errors
@closes_workspace
def eval(  # noqa: A001 - the command is `trimtab eval`
    system: str = typer.Argument(
        None, metavar="[SYSTEM]",
        help="System name (with --changed-since: default every system with suites)."),
    release: str = typer.Option(
        None, "--release", "-r",
        help="Release id or prefix (default: the system as declared now, released)."),
    suite: str = typer.Option(None, "--suite", "-s", help="Only this suite."),
    baseline: str = typer.Option(
        None, "--baseline", "-b", metavar="ENV|RELEASE",
        help="Compare case by case with this environment's active release, or a release."),
    junit: Path = typer.Option(None, "--junit", help="Also write JUnit XML here (CI)."),
    markdown: Path = typer.Option(
        None, "--markdown", help="Also write a Markdown summary here (a PR comment)."),
    concurrency: int = typer.Option(
        None, "--concurrency", "-c", help="Cases in flight at once (default: the suite's)."),
    changed_since: str = typer.Option(
        None, "--changed-since", metavar="GIT_REF",
        help="Only systems whose release content or suites changed since this git ref."),
    predictions: Path = typer.Option(
        None, "--predictions", "-p", metavar="FILE",
        help="A classic model's predictions on the suite's dataset (JSONL `{\"id\", "
             "\"prediction\"}` or CSV `id,prediction`), scored instead of calling."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Run a system's eval suites through the release as production runs it; exit 1
    when a gate fails.

    Every case is checked (dataset lines, variables, expected values, scorers)
    before the first call. Runs are stored: `trimtab promote` into an environment
    a suite's gate names needs a passing run on that release and dataset.
    With `--changed-since origin/main`, only the systems whose release content
    (prompts, model, params, fallbacks, artefacts) or eval suites changed since
    that git ref are run, each against `--baseline` when given.
    A classic model (`kind: classic`) runs outside trimtab: score its holdout
    predictions with `--predictions FILE` (one per dataset case); the run is stored
    on the release and dataset hash like any other, so gates and promote read it.

    Example:

        trimtab eval complaint-router --baseline production --junit eval.xml

        trimtab eval churn-model --predictions holdout-predictions.jsonl --junit eval.xml

        trimtab eval --changed-since origin/main --baseline production --markdown eval.md
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from trimtab.errors import TrimtabError

    # Before the first provider call: a path that cannot take the report would
    # otherwise fail only after the whole (paid, stored) run.
    check_out_file(junit, "--junit")
    check_out_file(markdown, "--markdown")
    ws = workspace()
    targets = [system]
    note = ""
    changes = None
    if predictions is not None and changed_since is not None:
        raise TrimtabError("--predictions scores one classic model's predictions; name its "
                           "SYSTEM instead of --changed-since.")
    if changed_since is not None:
        if release is not None:
            raise TrimtabError("--release names one release; --changed-since compares the "
                               "project as declared now with a git ref. Use one of them.")
        changes = ws.changed_since(changed_since, [system] if system else None)
        targets = [c.system for c in changes if c.changed]
        skipped = [c.system for c in changes if not c.changed]
        note = (f"Changed since {markdown_code(changed_since)}: "
                + (", ".join(f"{markdown_code(c.system)} ({markdown_text(c.why)})"
                             for c in changes if c.changed) or "none")
                + "." + (f" Unchanged, not run: {', '.join(markdown_code(s) for s in skipped)}."
                         if skipped else "") + "\n")
        if not json_output:
            for change in changes:
                console.print(f"{change.system}: {change.why}"
                              + ("" if change.changed else ", not evaluated"), highlight=False)
    elif system is None:
        raise TrimtabError("name a SYSTEM, or --changed-since GIT_REF to evaluate every system "
                           "whose release or suites changed (e.g. trimtab eval --changed-since "
                           "origin/main).")
    columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    # The project, the role check, the release and the datasets load with the collector
    # paused until the first suite starts its calls (collector.py).
    with collector.Pause() as starting, Progress(*columns, console=err_console,
                                                 transient=True, disable=json_output) as bar:

        def progress(label: str, total: int):
            starting.end()
            task = bar.add_task(label, total=total)
            return lambda n: bar.advance(task, n)

        done = [ws.eval(target, release=release, suite=suite, baseline=baseline,
                        progress=progress, concurrency=concurrency, predictions=predictions)
                for target in targets]
    from trimtab.quality import report as reports

    if json_output:
        found = [{"system": r.system, "release": r.release.id, "passed": r.passed,
                  "runs": [run.stored.to_dict() for run in r.runs if run.stored]} for r in done]
        if changes is None:
            print_json(found[0])
        else:
            print_json({"changed_since": changed_since, "systems": [c.to_dict() for c in changes],
                        "reports": found, "passed": all(r.passed for r in done)})
    else:
        for report in done:
            print_report(report)
    # After the summary, so a write that fails anyway (exit 2) loses none of it.
    if junit is not None:
        with writing(junit, "--junit"):
            junit.write_text(reports.junit(done), encoding="utf-8")
    if markdown is not None:
        with writing(markdown, "--markdown"):
            markdown.write_text(reports.markdown(done, note=note), encoding="utf-8")
    if not all(r.passed for r in done):
        raise typer.Exit(1)


def print_report(report: EvalReport) -> None:
    for run in report.baseline_runs or []:
        stored = run.stored.short_id if run.stored else "?"
        console.print(f"[dim]baseline {run.release_id[:12]} had no run on this dataset: ran "
                      f"{run.prepared.name} on it first (run {stored}, "
                      f"{'passed' if run.passed else 'failed'})[/]")
    for run in report.runs:
        print_run(report, run)


def print_run(report: EvalReport, run: SuiteRun) -> None:
    dataset = run.prepared.dataset
    console.print(
        f"[bold]{report.system}/{run.prepared.name}[/] · release {run.release_id[:12]} · "
        f"dataset {dataset.path} (sha256 {dataset.short_sha}, {len(dataset.cases)} cases)"
        + (f" · run {run.stored.short_id}" if run.stored else ""), highlight=False)
    rows = [[escape(s.name), s.summary.metric.replace("_", " "), _num(s.summary.value),
             f"{s.threshold:g}", "pass" if s.passed else "[bold red]FAIL[/]"]
            for s in run.scorers]
    for f in run.fairness:
        groups = " · ".join(f"{g} {_num(v)}" for g, v in f.groups.items())
        rows.append([escape(f"{f.scorer} by {f.tag}"), escape(f"gap ({groups})"), _num(f.gap),
                     f"≤ {f.max_gap:g}", "pass" if f.passed else "[bold red]FAIL[/]"])
    print_listing(f"scorers of {run.prepared.name}",
                  [Col("scorer"), Col("metric", drop=1), Col("value", right=True),
                   Col("threshold", right=True, drop=2), Col("result")], rows)
    for s in run.scorers:
        if s.type == "classification" and s.summary.extra:
            classes = s.summary.extra["classes"]
            shown = " · ".join(f"{c} P {v['precision']:.2f} R {v['recall']:.2f}"
                               for c, v in classes.items())
            console.print(f"  {s.name} per class: {shown}", highlight=False)
    failing = run.failing_cases
    if failing:
        console.print(f"failing cases ({len(failing)}):")
        for outcome in failing[:SHOWN_CASES]:
            console.print(f"  {outcome.case.id} (line {outcome.case.line}): "
                          + "; ".join(outcome.failures()), markup=False, highlight=False)
        if len(failing) > SHOWN_CASES:
            console.print(f"  and {len(failing) - SHOWN_CASES} more: trimtab evals "
                          f"{report.system} --run {run.stored.short_id if run.stored else ''}")
    comparison = run.comparison
    if comparison is not None:
        verdict = "significant" if comparison.significant else "not significant"
        console.print(
            f"against run {comparison.baseline_run_id[:12]} (release "
            f"{comparison.baseline_release_id[:12]}): {len(comparison.improved)} improved, "
            f"{len(comparison.regressed)} regressed, {comparison.still_passing} still pass, "
            f"{comparison.still_failing} still fail; {comparison.test} "
            f"p={comparison.p_value:.3g} ({verdict})", highlight=False)
        for label, ids in (("regressed", comparison.regressed), ("improved", comparison.improved)):
            if ids:
                console.print(f"  {label}: {', '.join(ids[:20])}"
                              + (f" and {len(ids) - 20} more" if len(ids) > 20 else ""),
                              markup=False, highlight=False)
    latencies = [o.answer.latency_ms for o in run.outcomes]
    errors = sum(o.answer.error is not None for o in run.outcomes)
    cost = run.cost_usd
    console.print(
        f"{len(run.outcomes) - len(failing)}/{len(run.outcomes)} cases passed · {errors} errors · "
        f"p50 {statistics.median(latencies):.0f} ms · "
        f"cost {usd(cost, unknown='unknown')}", highlight=False)
    if run.passed:
        console.print("gate: [bold green]passed[/]")
    else:
        console.print("gate: [bold red]FAILED[/]")
        for reason in run.reasons:
            console.print(f"  {reason}", markup=False, highlight=False)
    console.print()


@handles_errors
def evals(
    system: str = typer.Argument(..., metavar="SYSTEM", help="System name."),
    suite: str = typer.Option(None, "--suite", "-s", help="Only this suite."),
    release: str = typer.Option(None, "--release", "-r", help="Only runs of this release."),
    run_id: str = typer.Option(None, "--run", help="Show one run's cases."),
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="Runs to list."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List a system's stored eval runs, newest first, or one run's cases.

    Example:

        trimtab evals complaint-router --suite routing
    """
    ws = workspace()
    if run_id is not None:
        run, results = ws.eval_results(run_id)
        if json_output:
            print_json({**run.to_dict(), "results": [r.to_dict() for r in results]})
            return
        console.print(f"run {run.short_id}: {run.system}/{run.suite} on release "
                      f"{run.release_id[:12]}", markup=False, highlight=False, soft_wrap=True)
        rows = []
        for r in results:
            why = "; ".join(f"{n}: {v.get('detail', '')}" for n, v in r.verdicts.items()
                            if not v["passed"])
            rows.append([escape(r.case_id), "pass" if r.passed else "[red]fail[/]",
                         f"{r.latency_ms:,.0f} ms", escape(why or r.error or ""),
                         escape(_shown(r.output))])
        print_listing(f"cases of run {run.short_id}",
                      [Col("case"), Col("result"), Col("latency", right=True, drop=1),
                       Col("why", wrap=True), Col("output", wrap=True, drop=2)], rows)
        return
    runs = ws.eval_runs(system, suite=suite, release=release, limit=limit)
    if json_output:
        print_json([r.to_dict() for r in runs])
        return
    if not runs:
        console.print(f"no eval runs of {system} yet: trimtab eval {system}")
        return
    print_listing(
        f"eval runs of {system}",
        [Col("run"), Col("suite"), Col("release"), Col("dataset", drop=1),
         Col("passed", right=True), Col("gate"), Col("when (UTC)", drop=2)],
        [[r.short_id, escape(r.suite), r.release_id[:12], r.dataset_sha256[:12],
          f"{r.passed_cases}/{r.cases}", "passed" if r.passed else "[red]failed[/]",
          f"{r.started_at:%Y-%m-%d %H:%M}"] for r in runs],
    )


def _shown(text: str | None) -> str:
    """A case's output on one line, bounded so a long answer does not bury the
    table, and marked when it is cut: never a silent prefix."""
    flat = " ".join((text or "").split())
    return flat if len(flat) <= SHOWN_OUTPUT else f"{flat[:SHOWN_OUTPUT]} [cut; --json for all]"
