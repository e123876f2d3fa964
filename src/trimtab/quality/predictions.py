"""A classic model's offline evaluation: its predictions on a holdout dataset, scored.

A classic model (``kind: classic``) runs outside trimtab, so `trimtab eval`
cannot call it. The team's own pipeline scores the suite's dataset and hands
over one prediction per case; trimtab scores them with the suite's scorers
against the dataset's expected values and stores a normal eval run on the exact
release and dataset bytes. Gates, `trimtab promote`, JUnit/Markdown and the
maturity checks then read it like any other run. The predictions file's own
hash is kept in the run's summary, so what was scored can be traced.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trimtab.errors import TrimtabError
from trimtab.quality import suites as suite_prep
from trimtab.quality.answers import Answer
from trimtab.quality.datasets import CsvRowError, csv_rows, finite_json, non_finite
from trimtab.quality.runner import CaseOutcome, SuiteRun, gate_reasons, save, summarise

if TYPE_CHECKING:
    from trimtab.quality.evaluation import EvalReport
    from trimtab.store.releases import Release
    from trimtab.workspace import Workspace

MAX_BYTES = 64 * 1024 * 1024
MAX_LINE = 1024 * 1024
MAX_ROWS = 50_000
#: Problems listed before the rest are counted only.
MAX_PROBLEMS = 20


def load(path: Path) -> tuple[dict[str, Any], str]:
    """``{case id: prediction}`` and the file's sha256, from JSONL (``{"id": ..,
    "prediction": ..}`` a line) or CSV (columns ``id`` and ``prediction``)."""
    if not path.is_file():
        raise TrimtabError(f"--predictions {path}: no such file. Fix: write one prediction a "
                           "line, e.g. {\"id\": \"case-1\", \"prediction\": \"churn\"}.")
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise TrimtabError(f"{path}: {size} bytes, more than {MAX_BYTES}. Fix: split the "
                           "holdout set into suites.")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TrimtabError(f"{path}: not UTF-8 at byte {exc.start}. Fix: save it as UTF-8.") \
            from None
    rows = _csv_rows(path, text) if path.suffix.lower() == ".csv" else _jsonl_rows(path, text)
    found: dict[str, Any] = {}
    problems = []
    for line, row in rows:
        case_id = row.get("id")
        if not isinstance(case_id, str | int) or isinstance(case_id, bool) or case_id == "":
            problems.append(f"{path}:{line}: `id` is missing or not a string. Fix: give the "
                            "dataset case's id.")
        elif "prediction" not in row:
            problems.append(f"{path}:{line}: no `prediction` field for case {case_id!r}.")
        elif str(case_id) in found:
            problems.append(f"{path}:{line}: case {case_id!r} is predicted twice. Fix: keep "
                            "one prediction per case.")
        else:
            found[str(case_id)] = row["prediction"]
        if len(found) > MAX_ROWS:
            problems.append(f"{path}:{line}: more than {MAX_ROWS} predictions.")
            break
    _raise(path, problems)
    return found, hashlib.sha256(data).hexdigest()


def _jsonl_rows(path: Path, text: str) -> list[tuple[int, dict[str, Any]]]:
    rows, problems = [], []
    for number, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            continue
        if len(raw) > MAX_LINE:
            problems.append(f"{path}:{number}: line longer than {MAX_LINE} characters.")
            continue
        try:
            row = finite_json(raw)
        except json.JSONDecodeError as exc:
            problems.append(f"{path}:{number}: not JSON ({exc.msg}, column {exc.colno}). Fix: "
                            "one object a line, e.g. {\"id\": \"case-1\", \"prediction\": 1}.")
            continue
        except ValueError as exc:  # NaN, Infinity, 1e999: a prediction no scorer can judge
            problems.append(f"{path}:{number}: {exc}.")
            continue
        except RecursionError:
            problems.append(f"{path}:{number}: lists and objects nested too deep. Fix: "
                            "flatten the prediction.")
            continue
        if not isinstance(row, dict):
            problems.append(f"{path}:{number}: a line must be a JSON object with `id` and "
                            "`prediction`.")
            continue
        rows.append((number, row))
    _raise(path, problems)
    return rows


def _csv_rows(path: Path, text: str) -> list[tuple[int, dict[str, Any]]]:
    """Rows by the line they start on; a row of the wrong width is an error, not a
    prediction of None."""
    csv.field_size_limit(MAX_LINE)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, [])
    except csv.Error as exc:
        raise TrimtabError(f"{path}:1: not valid CSV ({exc}). Fix: a header row `id,prediction` "
                           "and one row per case; a cell holds at most 1 MiB.") from None
    twice = sorted({c for c in header if header.count(c) > 1} & {"id", "prediction"})
    if twice:
        raise TrimtabError(f"{path}:1: the header names {', '.join(f'`{c}`' for c in twice)} "
                           "more than once, so one cell of each row would be ignored. Fix: "
                           "keep one `id` and one `prediction` column.")
    missing = [c for c in ("id", "prediction") if c not in header]
    if missing:
        raise TrimtabError(f"{path}:1: the header has no column {', '.join(missing)} (it has: "
                           f"{', '.join(header) or 'none'}). Fix: name the "
                           "columns `id` and `prediction`.")
    rows, problems = [], []
    try:
        for line, row in csv_rows(reader):
            if not row:
                continue
            if len(row) != len(header):
                problems.append(f"{path}:{line}: {len(row)} cells, the header has "
                                f"{len(header)}. Fix: one cell per column; quote cells that "
                                "contain commas.")
                continue
            rows.append((line, dict(zip(header, row, strict=True))))
    except CsvRowError as exc:
        problems.append(f"{path}:{exc.line}: not valid CSV ({exc}). Fix: quote cells that hold "
                        "commas, quotes or line breaks; a cell holds at most 1 MiB.")
    _raise(path, problems)
    return rows


def _raise(path: Path, problems: list[str]) -> None:
    if problems:
        shown = problems[:MAX_PROBLEMS]
        more = len(problems) - len(shown)
        raise TrimtabError("\n".join([f"{len(problems)} problem(s) in the predictions {path}:",
                                      *(f"  {p}" for p in shown),
                                      *([f"  ... and {more} more"] if more else [])]))


def score(ws: Workspace, system: str, release: Release, predictions: Path | Mapping[str, Any],
          *, suite: str | None = None, actor: str) -> EvalReport:
    """Score given predictions with each suite's scorers and store the runs; every
    case must have a prediction and every prediction a case (else nothing is stored)."""
    from trimtab.quality.evaluation import EvalReport

    project = ws.project
    kind = project.system(system).kind
    if kind != "classic":
        raise TrimtabError(
            f"predictions are for classic models; {system!r} is `kind: {kind}`, whose eval "
            f"runs call its release. Fix: run `trimtab eval {system}` without --predictions.")
    if isinstance(predictions, Path):
        given, digest = load(predictions)
        source = {"path": str(predictions), "sha256": digest}
    else:
        given = {str(k): v for k, v in predictions.items()}
        bad = [(case, path, value) for case, prediction in given.items()
               for path, value in non_finite(prediction)]
        if bad:
            case, path, value = bad[0]
            where = "".join(f"[{p!r}]" for p in path)
            raise TrimtabError(f"the prediction for case {case!r}{where} is {value}, which no "
                               "scorer can judge. Fix: give a finite number, or None.")
        digest = hashlib.sha256(json.dumps(given, sort_keys=True, default=str)
                                .encode()).hexdigest()
        source = {"path": None, "sha256": digest}
    declared = suite_prep.suites_of(project, system, suite)
    prepared = [suite_prep.prepare(project, system, name, spec, release.spec, prompts=False)
                for name, spec in declared.items()]
    where = source["path"] or "the predictions"
    for ready in prepared:
        ids = [c.id for c in ready.dataset.cases]
        lacking = [i for i in ids if i not in given]
        unknown = sorted(set(given) - set(ids))
        if lacking or unknown:
            raise TrimtabError(
                f"{where} does not match suite {ready.name!r} ({ready.dataset.path}, "
                f"{len(ids)} cases): "
                + "; ".join(filter(None, [
                    f"no prediction for {_few(lacking)}" if lacking else "",
                    f"case(s) not in the dataset: {_few(unknown)}" if unknown else ""]))
                + ". Fix: predict every case of the dataset (and only those); with several "
                "suites, pick one with --suite.")
    report = EvalReport(system, release, [])
    for ready in prepared:
        report.runs.append(_run(ws, release, ready, given, source, actor))
    return report


def _run(ws: Workspace, release: Release, ready: suite_prep.PreparedSuite,
         given: dict[str, Any], source: dict[str, Any], actor: str) -> SuiteRun:
    started = datetime.now(UTC)

    async def scored() -> list[CaseOutcome]:
        outcomes = []
        try:
            for case in ready.dataset.cases:
                value = given[case.id]
                answer = Answer(value if isinstance(value, str)
                                else json.dumps(value, ensure_ascii=False))
                outcomes.append(CaseOutcome(case, answer, {
                    s.name: await s.score(case, answer) for s in ready.scorers}))
            return outcomes
        finally:
            for scorer in ready.scorers:
                await scorer.aclose()

    outcomes = ws.caller.run_sync(scored())
    scorers, fairness = summarise(ready, outcomes)
    run = SuiteRun(ready, release, outcomes, scorers, fairness, started, datetime.now(UTC))
    run.reasons = gate_reasons(run)
    run.source = source
    save(ws, run, actor)
    return run


def _few(ids: list[str]) -> str:
    shown = ", ".join(repr(i) for i in ids[:5])
    return shown + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
