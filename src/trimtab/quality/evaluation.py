"""`trimtab eval` as a function: which release, which suites, which baseline, then
every suite prepared (all checks before any call) and run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from trimtab.errors import TrimtabError
from trimtab.quality import suites as suite_prep
from trimtab.quality.runner import SuiteRun, run_suite
from trimtab.store import deployments as deployment_store
from trimtab.store import evals as eval_store
from trimtab.store import releases as release_store
from trimtab.store import systems as system_store

if TYPE_CHECKING:
    from trimtab.store.releases import Release
    from trimtab.workspace import Workspace

#: Called per suite run with (label, number of cases); returns what to call per case done.
Progress = Callable[[str, int], Callable[[int], None]]


@dataclass
class EvalReport:
    system: str
    release: Release
    runs: list[SuiteRun]
    baseline: Release | None = None
    baseline_runs: list[SuiteRun] | None = None  # baselines that had to be run now

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.runs)


def evaluate(ws: Workspace, system: str, *, release: str | None = None,
             suite: str | None = None, baseline: str | None = None,
             progress: Progress | None = None, concurrency: int | None = None,
             actor: str | None = None) -> EvalReport:
    """Run a system's suites on a release (default: the system as declared now, released).

    With ``baseline`` (an environment, whose active release is taken, or a release),
    each suite is compared case by case with the baseline's run on the same dataset
    bytes; a baseline that has no such run is run first.
    """
    project = ws.project
    declared = suite_prep.suites_of(project, system, suite)
    if concurrency is not None and not 1 <= concurrency <= 256:
        raise TrimtabError(f"--concurrency {concurrency}: use 1-256.")
    target = resolve_release(ws, system, release)
    base = _baseline(ws, system, baseline) if baseline else None
    # Every suite (and a baseline that must run) is checked before the first call: a
    # bad case in the last suite must not surface after the first spent its budget.
    prepared = {name: suite_prep.prepare(project, system, name, spec, target.spec)
                for name, spec in declared.items()}
    baselines = {name: _stored_baseline(ws, system, base, ready)
                 for name, ready in prepared.items()} if base is not None else {}
    report = EvalReport(system, target, [], base, [])
    for name, ready in prepared.items():
        stored = baselines.get(name)
        if isinstance(stored, suite_prep.PreparedSuite):
            assert base is not None
            tick = progress(f"{system}/{name} baseline {base.short_id}",
                            len(stored.dataset.cases)) if progress else None
            ran = run_suite(ws, base, stored, on_case=tick, concurrency=concurrency,
                            actor=actor)
            report.baseline_runs.append(ran)  # type: ignore[union-attr]
            stored = _with_results(ws, ran.stored)
        tick = progress(f"{system}/{name}", len(ready.dataset.cases)) if progress else None
        report.runs.append(run_suite(ws, target, ready, baseline=stored, on_case=tick,
                                     concurrency=concurrency, actor=actor))
    return report


def resolve_release(ws: Workspace, system: str, ref: str | None) -> Release:
    if ref is None:
        return ws.release(system, note="snapshot for trimtab eval")[0]
    with ws.store.read() as conn:
        return release_store.resolve(conn, ref, system=system)


def _baseline(ws: Workspace, system: str, ref: str) -> Release:
    """An environment's active release, or a release by id."""
    if ref in ws.project.environments:
        with ws.store.read() as conn:
            found = system_store.find(conn, system)
            current = deployment_store.active(conn, found.id, ref) if found else None
            if current is None:
                raise TrimtabError(f"--baseline {ref}: no release of {system!r} is active in "
                                   f"{ref!r}. Fix: name a release instead.")
            return release_store.resolve(conn, current.release_id)
    with ws.store.read() as conn:
        return release_store.resolve(conn, ref, system=system)


def _stored_baseline(ws: Workspace, system: str, base: Release,
                     ready: suite_prep.PreparedSuite):
    """The baseline's stored run on these dataset bytes with its results; else the
    baseline prepared to run now (its prompts checked against the cases too)."""
    with ws.store.read() as conn:
        found = eval_store.latest(conn, system=system, suite=ready.name, release_id=base.id,
                                  dataset_sha256=ready.dataset.sha256)
    if found is not None:
        return _with_results(ws, found)
    return suite_prep.prepare(ws.project, system, ready.name, ready.spec, base.spec)


def _with_results(ws: Workspace, run: eval_store.EvalRun | None):
    assert run is not None
    with ws.store.read() as conn:
        return run, eval_store.results(conn, run.id)
