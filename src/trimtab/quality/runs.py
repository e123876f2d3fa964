"""Stored eval runs, read back for `trimtab evals` and the Python API."""

from __future__ import annotations

from trimtab.store import Store
from trimtab.store import evals as eval_store
from trimtab.store import releases as release_store
from trimtab.store.evals import CaseResult, EvalRun


def runs(store: Store, system: str, *, suite: str | None = None, release: str | None = None,
         limit: int = 50) -> list[EvalRun]:
    """Newest first; ``release`` is an id or prefix."""
    with store.read() as conn:
        release_id = release_store.resolve(conn, release, system=system).id if release else None
        return eval_store.runs(conn, system=system, suite=suite, release_id=release_id,
                               limit=limit)


def run_with_results(store: Store, ref: str) -> tuple[EvalRun, list[CaseResult]]:
    with store.read() as conn:
        run = eval_store.get(conn, ref)
        return run, eval_store.results(conn, run.id)
