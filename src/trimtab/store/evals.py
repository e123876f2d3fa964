"""Eval runs and case results: what the promotion gate and `trimtab eval` read back.

A run is written once, whole (its cases with it), with an audit entry in the
same transaction: the gate trusts a passing run, so who ran it, on which
release and on which dataset bytes is part of the tamper-evident trail.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from trimtab.errors import TrimtabError
from trimtab.store import audit
from trimtab.store.ids import new_call_id
from trimtab.store.schema.quality import eval_results, eval_runs


@dataclass(frozen=True)
class EvalRun:
    id: str
    system: str
    suite: str
    release_id: str
    dataset_path: str
    dataset_sha256: str
    cases: int
    passed_cases: int
    errors: int
    passed: bool
    baseline_run_id: str | None
    cost_micro_usd: int | None
    summary: str  # JSON
    started_at: datetime
    finished_at: datetime
    actor: str
    ci_url: str | None

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def details(self) -> dict[str, Any]:
        return json.loads(self.summary)

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k != "summary"}
        data["started_at"] = self.started_at.isoformat()
        data["finished_at"] = self.finished_at.isoformat()
        data["summary"] = self.details
        return data


@dataclass(frozen=True)
class CaseResult:
    run_id: str
    position: int
    case_id: str
    passed: bool
    output: str | None
    error: str | None
    latency_ms: float
    cost_micro_usd: int | None
    input_tokens: int | None
    output_tokens: int | None
    model: str | None
    scores: str  # JSON {scorer: verdict}
    tags: str | None

    @property
    def verdicts(self) -> dict[str, dict[str, Any]]:
        return json.loads(self.scores)

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["scores"] = self.verdicts
        data["tags"] = json.loads(self.tags) if self.tags else {}
        return data


def save_run(conn: Connection, *, run: dict[str, Any], results: list[dict[str, Any]],
             actor: str) -> EvalRun:
    """Insert a finished run and its case results; audited as ``eval.run``."""
    run_id = new_call_id()
    values = {**run, "id": run_id, "actor": actor}
    conn.execute(insert(eval_runs).values(**values))
    if results:
        conn.execute(insert(eval_results), [{**r, "run_id": run_id} for r in results])
    audit.append(
        conn, actor=actor, action="eval.run", object_type="eval_run", object_id=run_id,
        system=run["system"],
        payload={"suite": run["suite"], "release": run["release_id"],
                 "dataset": run["dataset_path"], "dataset_sha256": run["dataset_sha256"],
                 "cases": run["cases"], "passed_cases": run["passed_cases"],
                 "passed": run["passed"], "baseline_run": run["baseline_run_id"],
                 "ci_url": run.get("ci_url")},
    )
    return EvalRun(**values)


def get(conn: Connection, ref: str) -> EvalRun:
    """A run by its id or a unique prefix of it."""
    ref = ref.strip().lower()
    rows = conn.execute(select(eval_runs).where(eval_runs.c.id.startswith(ref, autoescape=True))
                        .limit(2)).all() if ref else []
    if len(rows) != 1:
        raise TrimtabError(
            f"{'no' if not rows else 'more than one'} eval run has an id starting with {ref!r}. "
            "Fix: copy one from `trimtab evals SYSTEM`.")
    return EvalRun(**rows[0]._mapping)


def latest(conn: Connection, *, system: str, suite: str, release_id: str,
           dataset_sha256: str | None = None) -> EvalRun | None:
    """The newest run of a suite on a release (on exactly these dataset bytes, if given)."""
    query = select(eval_runs).where(eval_runs.c.system == system, eval_runs.c.suite == suite,
                                    eval_runs.c.release_id == release_id)
    if dataset_sha256 is not None:
        query = query.where(eval_runs.c.dataset_sha256 == dataset_sha256)
    row = conn.execute(query.order_by(eval_runs.c.id.desc()).limit(1)).first()
    return EvalRun(**row._mapping) if row else None


def runs(conn: Connection, *, system: str, suite: str | None = None,
         release_id: str | None = None, limit: int = 50) -> list[EvalRun]:
    """Newest first."""
    query = select(eval_runs).where(eval_runs.c.system == system)
    if suite is not None:
        query = query.where(eval_runs.c.suite == suite)
    if release_id is not None:
        query = query.where(eval_runs.c.release_id == release_id)
    rows = conn.execute(query.order_by(eval_runs.c.id.desc()).limit(limit))
    return [EvalRun(**r._mapping) for r in rows]


def results(conn: Connection, run_id: str) -> list[CaseResult]:
    rows = conn.execute(select(eval_results).where(eval_results.c.run_id == run_id)
                        .order_by(eval_results.c.position))
    return [CaseResult(**r._mapping) for r in rows]


def record_override(conn: Connection, *, system: str, release_id: str, env: str, reason: str,
                    actor: str, suites: list[dict[str, Any]]) -> None:
    """A promotion past a failing eval gate: who, why, and what the gate said."""
    audit.append(
        conn, actor=actor, action="gate.override", object_type="release", object_id=release_id,
        system=system, payload={"env": env, "reason": reason, "suites": suites},
    )
