"""What the maturity checks read: one system's facts, gathered from the store and the
project file in one read transaction at a moment ``now`` (what happened after it is
left out). The checks themselves, predicates over these facts, are in verdicts.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from trimtab.assess.checks import CLASSIC, LLM
from trimtab.errors import TrimtabError
from trimtab.project.models import Project, SystemSpec
from trimtab.store import Store
from trimtab.store import alerts as alert_store
from trimtab.store import approvals as approval_store
from trimtab.store import assurance as assurance_store
from trimtab.store import audit as audit_store
from trimtab.store import calls as call_store
from trimtab.store import deployments as deployment_store
from trimtab.store import documents as document_store
from trimtab.store import drift as drift_store
from trimtab.store import drills as drill_store
from trimtab.store import evals as eval_store
from trimtab.store import releases as release_store
from trimtab.store import reviews as review_store
from trimtab.store import systems as system_store
from trimtab.store.deployments import Deployment
from trimtab.store.releases import Release

#: The calls A4 and O5 read.
LOG_WINDOW = timedelta(days=7)
#: The reviews O3 counts.
REVIEW_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class Facts:
    """Everything the checks read for one system, gathered in one read transaction."""

    name: str
    spec: SystemSpec | None
    registered: bool
    environments: list[str]
    deployments: list[Deployment]  # every environment, oldest first
    releases: dict[str, Release]
    coverage: call_store.Coverage | None
    drift_baselines: int
    newest_drift_check: datetime | None
    alert_rules: dict[str, dict]  # rule name -> {metric, env, channels, evaluated_at}
    chain: audit_store.ChainReport
    checkpoints: int  # signed checkpoints the chain was compared with
    documents: list[document_store.DocumentRecord]
    approvals: list[approval_store.ApprovalRequest]
    policy_approvals: int  # approvals the production policy asks of this system; 0: none
    eval_runs: list[eval_store.EvalRun]  # newest first
    gate_suites: list[str]  # suites production's gate requires
    #: Releases an admin forced past a failing gate into production (``gate.override``).
    gate_overrides: set[str]
    review_sample: review_store.Sample | None
    runbook: str | None  # the runbook's path when it exists
    drills: list[drill_store.Drill]  # newest first
    reviews_30d: int  # reviews of sampled calls
    independent_reviews: list[assurance_store.IndependentReview]  # newest first
    now: datetime

    @property
    def production(self) -> str:
        return self.environments[-1]

    @property
    def track(self) -> str:
        return CLASSIC if self.spec is not None and self.spec.kind == CLASSIC else LLM


def gather(store: Store, project: Project, name: str, now: datetime, *,
           chain: tuple[audit_store.ChainReport, int] | None = None) -> Facts:
    """``chain``: the audit chain's verdict and checkpoint count when the caller
    has it already (one chain serves every system: --portfolio verifies it once)."""
    spec = project.spec.systems.get(name)
    environments = list(project.spec.environments)
    production = environments[-1]
    # Evidence as of ``now``: what happened after it is left out, so an assessment or
    # a document taken at a past moment says what the store showed then.
    with store.read() as conn:
        system = system_store.find(conn, name)
        history: list[Deployment] = []
        releases: dict[str, Release] = {}
        if system is not None:
            history = sorted((d for d in deployment_store.history(conn, system.id)
                              if d.created_at <= now), key=lambda d: d.id)
            releases = {r.id: r for r in release_store.for_system(conn, system.id)
                        if r.created_at <= now}
        coverage = call_store.coverage(conn, name, production, now - LOG_WINDOW, until=now)
        baselines = [b for b in drift_store.baselines(conn, name) if b.created_at <= now]
        newest = [r for r in drift_store.results(conn, name, limit=50) if r.time <= now][:1]
        states = alert_store.states(conn)
        own_chain = audit_store.verify(conn) if chain is None else None
        documents = document_store.for_system(conn, name)
        approvals = [a for a in approval_store.list_all(conn, system=name)
                     if a.requested_at <= now]
        eval_runs = [r for r in eval_store.runs(conn, system=name, limit=500)
                     if r.finished_at <= now]
        overrides = {e.object_id for e in audit_store.entries(
            conn, system=name, action="gate.override")
            if e.time <= now and json.loads(e.payload).get("env") == production}
        sample = review_store.latest_sample(conn, system=name, until=now)
        drills = drill_store.for_system(conn, name)
        # Only reviews of sampled calls work the sample: a reviewer picking calls at
        # will says nothing about how the weekly sample fares.
        reviewed = sum(1 for r in review_store.for_system(conn, name, since=now - REVIEW_WINDOW)
                       if r.sample_id is not None and r.time <= now)
        independent = assurance_store.for_system(conn, name)
    verified, checkpoints = (chain if own_chain is None
                             else chain_with_checkpoints(store, project, own_chain))
    rules: dict[str, dict] = {}
    for rule_name, rule in project.spec.alerts.items():
        if rule.system not in (None, name):
            continue
        evaluated = [s.evaluated_at for (r, sys_name, _), s in states.items()
                     if r == rule_name and sys_name == name and s.evaluated_at <= now]
        rules[rule_name] = {"metric": rule.metric, "env": rule.env, "score": rule.score,
                            "channels": list(rule.channels),
                            "evaluated_at": max(evaluated, default=None)}
    return Facts(
        name=name, spec=spec, registered=system is not None, environments=environments,
        deployments=history, releases=releases, coverage=coverage,
        drift_baselines=len(baselines), newest_drift_check=newest[0].time if newest else None,
        alert_rules=rules, chain=verified, checkpoints=checkpoints, documents=documents,
        approvals=approvals,
        policy_approvals=_policy_approvals(project, spec, production), eval_runs=eval_runs,
        gate_suites=[n for n, s in (spec.evals.items() if spec else ())
                     if production in s.gate.environments],
        gate_overrides=overrides, review_sample=sample, reviews_30d=reviewed,
        runbook=_runbook(project, name), drills=drills, independent_reviews=independent,
        now=now,
    )


def verified_chain(store: Store, project: Project) -> tuple[audit_store.ChainReport, int]:
    """The audit chain's verdict, checked against the signed checkpoints, and how
    many checkpoints there were: the same for every system of the store."""
    with store.read() as conn:
        chain = audit_store.verify(conn)
    return chain_with_checkpoints(store, project, chain)


def chain_with_checkpoints(store: Store, project: Project,
                           chain: audit_store.ChainReport) -> tuple[audit_store.ChainReport, int]:
    """A hash chain cannot show its own tail cut off; signed checkpoints kept
    outside the store can. Without any, the chain's own verdict is all there is."""
    from trimtab.govern import checkpoints

    try:
        found = checkpoints.read(checkpoints.location(project))
        if not found:
            return chain, 0
        return checkpoints.verify(store, project), len(found)
    except TrimtabError as exc:
        if "no checkpoint file" in str(exc):  # none written yet: the usual start
            return chain, 0
        return audit_store.ChainReport(ok=False, entries=chain.entries, head_hash=chain.head_hash,
                                       problem=f"checkpoints cannot be checked: {exc}"), 0


def _runbook(project: Project, system: str) -> str | None:
    from trimtab.govern.drills import runbook_path

    path = runbook_path(project, system)
    return str(path.relative_to(project.root)) if path.is_file() else None


def _policy_approvals(project: Project, spec: SystemSpec | None, env: str) -> int:
    policy = project.spec.policies.get(env)
    if policy is None or spec is None or (policy.risk is not None and spec.risk not in policy.risk):
        return 0
    return policy.approvals
