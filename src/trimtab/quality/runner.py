"""Running a suite: every case through the release as production runs it, scored,
summarised, compared with a baseline, judged by the gate, and stored.

Cases run concurrently up to the suite's bound on the workspace's runtime
(the release's prompts, params, fallbacks, retries and circuit breakers; the
system's redaction for what is stored). Eval calls stay out of the call log.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from trimtab.actor import ci_run_url, current_actor
from trimtab.errors import TrimtabError
from trimtab.quality.answers import Answer, Summary, Verdict
from trimtab.quality.datasets import Case
from trimtab.quality.judge import Judge
from trimtab.quality.metrics import largest_gap, mcnemar_exact
from trimtab.quality.suites import PreparedSuite
from trimtab.runtime import CallFailed
from trimtab.sdk.call_options import CallOptions, build_messages
from trimtab.store import evals as eval_store
from trimtab.store.evals import EvalRun

if TYPE_CHECKING:
    from trimtab.store.releases import Release
    from trimtab.workspace import Workspace

#: p-value under which a difference between runs is called significant.
ALPHA = 0.05
TEST_NAME = "McNemar exact test"


@dataclass
class CaseOutcome:
    case: Case
    answer: Answer
    verdicts: dict[str, Verdict]

    @property
    def passed(self) -> bool:
        return all(v.passed for v in self.verdicts.values())

    def failures(self) -> list[str]:
        return [f"{name}: {v.detail}" if v.detail else name
                for name, v in self.verdicts.items() if not v.passed]


@dataclass
class ScorerResult:
    name: str
    type: str
    summary: Summary
    threshold: float

    @property
    def passed(self) -> bool:
        value = self.summary.value
        return value is not None and value >= self.threshold - 1e-12

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "threshold": self.threshold,
                "passed": self.passed, **self.summary.to_dict()}


@dataclass
class FairnessResult:
    tag: str
    scorer: str
    metric: str
    groups: dict[str, float | None]
    gap: float | None
    best: str | None
    worst: str | None
    max_gap: float

    @property
    def passed(self) -> bool:
        return self.gap is None or self.gap <= self.max_gap + 1e-12

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "passed": self.passed}


@dataclass
class Comparison:
    baseline_run_id: str
    baseline_release_id: str
    improved: list[str]
    regressed: list[str]
    still_passing: int
    still_failing: int
    new_cases: int
    p_value: float
    test: str = TEST_NAME

    @property
    def significant(self) -> bool:
        return bool(self.improved or self.regressed) and self.p_value < ALPHA

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "significant": self.significant}


@dataclass
class SuiteRun:
    prepared: PreparedSuite
    release: Release
    outcomes: list[CaseOutcome]
    scorers: list[ScorerResult]
    fairness: list[FairnessResult]
    started_at: datetime
    finished_at: datetime
    comparison: Comparison | None = None
    reasons: list[str] = field(default_factory=list)
    judge_cost_usd: Decimal = Decimal(0)
    stored: EvalRun | None = None
    #: Set when the outputs were a classic model's given predictions (path, sha256).
    source: dict[str, Any] | None = None

    @property
    def release_id(self) -> str:
        return self.release.id

    @property
    def passed(self) -> bool:
        return not self.reasons

    @property
    def failing_cases(self) -> list[CaseOutcome]:
        return [o for o in self.outcomes if not o.passed]

    @property
    def cost_usd(self) -> Decimal | None:
        """What the system's calls cost (the cases whose price is known); None if none is."""
        known = [o.answer.cost_usd for o in self.outcomes if o.answer.cost_usd is not None]
        return sum(known, Decimal(0)) if known else None

    def summary(self) -> dict[str, Any]:
        return {
            "scorers": [s.to_dict() for s in self.scorers],
            "fairness": [f.to_dict() for f in self.fairness],
            "comparison": self.comparison.to_dict() if self.comparison else None,
            "reasons": self.reasons,
            "failing_cases": [o.case.id for o in self.failing_cases],
            "judge_cost_usd": str(self.judge_cost_usd),
            "gate": self.prepared.spec.gate.model_dump(),
            **({"predictions": self.source} if self.source is not None else {}),
        }


Progress = Callable[[int], None]


async def execute(ws: Workspace, release: Release, prepared: PreparedSuite,
                  on_case: Progress | None = None, concurrency: int | None = None
                  ) -> list[CaseOutcome]:
    """Call the release for every case (bounded), score each answer, in case order.

    A fixed pool of ``concurrency`` workers takes the cases in order: a semaphore
    over one task per case kept 10,000 tasks and their wake-ups on the loop
    (bench/evals_vs_promptfoo.py), where the pool keeps only the calls in flight.
    """
    spec = release.spec
    caller = ws.quiet_caller
    cases = prepared.dataset.cases
    outcomes: list[CaseOutcome | None] = [None] * len(cases)
    queue = iter(range(len(cases)))  # shared: each index is taken by one worker

    async def one(case: Case) -> CaseOutcome:
        messages = build_messages(spec, case.variables, case.messages)
        started = time.perf_counter()
        try:
            result = await caller.complete_release(release, CallOptions(
                variables=case.variables, messages=case.messages, tags=case.tags or None,
                source="eval"))
        except (CallFailed, TrimtabError) as exc:
            answer = Answer(None, latency_ms=round((time.perf_counter() - started) * 1000, 3),
                            error=str(exc), messages=messages)
        else:
            usage = result.usage
            answer = Answer(result.text, latency_ms=result.latency_ms,
                            cost_usd=result.cost_usd, messages=messages, model=result.model,
                            input_tokens=usage.input_tokens if usage else None,
                            output_tokens=usage.output_tokens if usage else None,
                            fallback_used=result.fallback_used)
        verdicts = {s.name: await s.score(case, answer) for s in prepared.scorers}
        if on_case is not None:
            on_case(1)
        return CaseOutcome(case, answer, verdicts)

    async def worker() -> None:
        for i in queue:
            outcomes[i] = await one(cases[i])

    workers = max(1, min(concurrency or prepared.spec.concurrency, len(cases)))
    # What this machine lacks for the release (unset keys, unpriced models) is logged
    # as the SDK's start logs it, but from a thread while the first calls are in flight:
    # the price check loads genai-prices, which the first answer's cost needs anyway.
    ready = asyncio.get_running_loop().run_in_executor(None, ws.warn_unready)
    try:
        await asyncio.gather(*(worker() for _ in range(workers)))
        await ready
        return [o for o in outcomes if o is not None]
    finally:
        for scorer in prepared.scorers:
            await scorer.aclose()


def summarise(prepared: PreparedSuite, outcomes: list[CaseOutcome]
              ) -> tuple[list[ScorerResult], list[FairnessResult]]:
    """Each scorer's metric against its threshold; each fairness limit per tag group."""
    results = [
        ScorerResult(s.name, s.spec.type,
                     s.summarise([(o.case, o.verdicts[s.name]) for o in outcomes]), s.threshold)
        for s in prepared.scorers
    ]
    fairness = []
    for limit in prepared.spec.fairness:
        groups: dict[str, list[CaseOutcome]] = {}
        for outcome in outcomes:
            value = outcome.case.tags.get(limit.tag)
            if value is not None:
                groups.setdefault(value, []).append(outcome)
        for scorer in prepared.scorers:
            if limit.scorers and scorer.name not in limit.scorers:
                continue
            per_group = {
                value: scorer.summarise([(o.case, o.verdicts[scorer.name]) for o in members])
                for value, members in sorted(groups.items())
            }
            values = {g: s.value for g, s in per_group.items()}
            gap, best, worst = largest_gap(values)
            metric = next(iter(per_group.values())).metric if per_group else "pass_rate"
            fairness.append(FairnessResult(limit.tag, scorer.name, metric, values, gap, best,
                                           worst, limit.max_gap))
    return results, fairness


def compare(outcomes: list[CaseOutcome], baseline: EvalRun,
            baseline_results: list[eval_store.CaseResult]) -> Comparison:
    """Case by case against a stored run on the same dataset: which improved, which
    regressed, and McNemar's exact test on the pairs."""
    before = {r.case_id: r.passed for r in baseline_results}
    improved, regressed, both, neither, new = [], [], 0, 0, 0
    for outcome in outcomes:
        was = before.get(outcome.case.id)
        if was is None:
            new += 1
        elif was and not outcome.passed:
            regressed.append(outcome.case.id)
        elif not was and outcome.passed:
            improved.append(outcome.case.id)
        elif was:
            both += 1
        else:
            neither += 1
    return Comparison(baseline.id, baseline.release_id, improved, regressed, both, neither,
                      new, mcnemar_exact(len(improved), len(regressed)))


def gate_reasons(run: SuiteRun) -> list[str]:
    """Why the gate fails this run (empty: it passes)."""
    reasons = [
        f"{s.name}: {s.summary.metric} {_fmt(s.summary.value)} is below its threshold "
        f"{s.threshold:g}" for s in run.scorers if not s.passed
    ]
    reasons += [
        f"fairness by {f.tag}: {f.scorer} {f.metric} differs by {f.gap:.3f} between "
        f"{f.best} ({_fmt(f.groups[f.best or ''])}) and {f.worst} "
        f"({_fmt(f.groups[f.worst or ''])}), more than {f.max_gap:g}"
        for f in run.fairness if not f.passed and f.gap is not None
    ]
    comparison, policy = run.comparison, run.prepared.spec.gate.regressions
    if comparison is not None and comparison.regressed:
        worse = len(comparison.regressed) > len(comparison.improved)
        if policy == "any" or (policy == "significant" and worse and comparison.significant):
            reasons.append(
                f"{len(comparison.regressed)} case(s) regressed against run "
                f"{comparison.baseline_run_id[:12]} (release "
                f"{comparison.baseline_release_id[:12]}), {len(comparison.improved)} improved; "
                f"{comparison.test} p={comparison.p_value:.3g}")
    return reasons


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def save(ws: Workspace, run: SuiteRun, actor: str) -> EvalRun:
    """Store the run with every case (outputs under the system's logging mode); audited."""
    redactor = ws.quiet_caller.spec(run.release)[1]
    rows = []
    for position, outcome in enumerate(run.outcomes):
        answer = outcome.answer
        rows.append({
            "position": position, "case_id": outcome.case.id, "passed": outcome.passed,
            "output": redactor.text(answer.text) if redactor.keeps_text else None,
            "error": answer.error, "latency_ms": answer.latency_ms,
            "cost_micro_usd": _micro(answer.cost_usd), "input_tokens": answer.input_tokens,
            "output_tokens": answer.output_tokens, "model": answer.model,
            "scores": json.dumps({n: v.to_dict() for n, v in outcome.verdicts.items()},
                                 ensure_ascii=False),
            "tags": json.dumps(outcome.case.tags, ensure_ascii=False) if outcome.case.tags
            else None,
        })
    prepared = run.prepared
    values = {
        "system": prepared.system, "suite": prepared.name, "release_id": run.release_id,
        "dataset_path": prepared.dataset.path, "dataset_sha256": prepared.dataset.sha256,
        "cases": len(run.outcomes), "passed_cases": len(run.outcomes) - len(run.failing_cases),
        "errors": sum(o.answer.error is not None for o in run.outcomes), "passed": run.passed,
        "baseline_run_id": run.comparison.baseline_run_id if run.comparison else None,
        "cost_micro_usd": _micro(run.cost_usd),
        "summary": json.dumps(run.summary(), ensure_ascii=False, default=str),
        "started_at": run.started_at, "finished_at": run.finished_at, "ci_url": ci_run_url(),
    }
    with ws.store.write() as conn:
        run.stored = eval_store.save_run(conn, run=values, results=rows, actor=actor)
    return run.stored


def _micro(usd: Decimal | None) -> int | None:
    return None if usd is None else int((usd * 1_000_000).to_integral_value())


def run_suite(ws: Workspace, release: Release, prepared: PreparedSuite, *,
              baseline: tuple[EvalRun, list[eval_store.CaseResult]] | None = None,
              on_case: Progress | None = None, concurrency: int | None = None,
              actor: str | None = None) -> SuiteRun:
    """Run, summarise, compare, judge and store one suite on one release."""
    started = datetime.now(UTC)
    outcomes = ws.quiet_caller.run_sync(execute(ws, release, prepared, on_case, concurrency))
    scorers, fairness = summarise(prepared, outcomes)
    run = SuiteRun(prepared, release, outcomes, scorers, fairness, started, datetime.now(UTC))
    run.judge_cost_usd = sum((s.cost_usd for s in prepared.scorers if isinstance(s, Judge)),
                             Decimal(0))
    if baseline is not None:
        run.comparison = compare(outcomes, *baseline)
    run.reasons = gate_reasons(run)
    save(ws, run, actor or current_actor())
    return run
