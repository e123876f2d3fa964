"""Each maturity check as a predicate over what the store and the project file
hold. Evidence expires (7 days of logs, 90 days for a rollback, 12 months for
documents, drills and independent reviews), so every verdict is taken at a moment ``now``.

A verdict carries the evidence it used (ids, dates, counts) so a person can
check it, and a check whose evidence trimtab does not record yet says so.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from trimtab.assess.checks import (
    AUTOMATED,
    CHECKS,
    CLASSIC,
    MANUAL,
    MISSING,
    NO_SOURCE,
    NOT_APPLICABLE,
    Check,
)
from trimtab.assess.evidence import Facts
from trimtab.project.alert_rules import LABEL_METRICS
from trimtab.store import assurance as assurance_store
from trimtab.store import evals as eval_store
from trimtab.store.deployments import Deployment

ROLLBACK_WINDOW = timedelta(days=90)
DOCUMENTS_WINDOW = timedelta(days=365)
DRILL_WINDOW = timedelta(days=365)
INDEPENDENT_REVIEW_WINDOW = timedelta(days=365)
SAMPLE_WINDOW = timedelta(days=7)
#: A drift check on schedule runs at least weekly.
DRIFT_CHECK_WINDOW = timedelta(days=7)
#: Reviews a month must hold for the sample to count as worked (or the whole sample).
REVIEWS_NEEDED = 10
COVERAGE_NEEDED = 0.95
#: Model names that float to whatever the provider serves today.
_ALIAS = re.compile(r"(^|[-_.:/@])(latest|default|current|stable|preview)$")
#: Latency and error-rate rules O6 looks for.
_OPS_METRICS = ("latency_p95", "latency_p99", "error_rate")


@dataclass(frozen=True)
class Verdict:
    check: Check
    state: str  # automated | manual | missing | n/a | no evidence source yet
    evidence: str
    fix: str

    @property
    def passes(self) -> bool:
        if self.state == AUTOMATED:
            return True
        return self.state == MANUAL and not self.check.needs_automation

    @property
    def counts(self) -> bool:
        return self.state != NOT_APPLICABLE


def evaluate(facts: Facts) -> list[Verdict]:
    return [_verdict(check, facts) for check in CHECKS]


def _verdict(check: Check, facts: Facts) -> Verdict:
    fix = check.fix.format(system=facts.name, production=facts.production,
                           before_production=_before(facts.environments))
    if facts.track not in check.tracks:
        return Verdict(check, NOT_APPLICABLE, f"does not apply to {facts.track} systems", fix)
    no_source = _NO_SOURCE.get((facts.track, check.id))
    if no_source is not None and not facts.eval_runs:
        return Verdict(check, NO_SOURCE, no_source, fix)
    state, evidence = _EVALUATORS[check.id](facts)
    return Verdict(check, state, evidence, fix)


def _before(environments: list[str]) -> str:
    return environments[-2] if len(environments) > 1 else environments[-1]


# --- the checks ------------------------------------------------------------------


def _m1(f: Facts) -> tuple[str, str]:
    if f.spec is None:
        return MISSING, "not declared in trimtab.yaml"
    if not f.registered:
        return MISSING, "declared but not in the store yet"
    missing = [field for field in ("owner", "description") if not getattr(f.spec, field).strip()]
    if missing:
        return MISSING, f"empty: {', '.join(missing)}"
    return MANUAL, (f"owner {f.spec.owner}, tier {f.spec.tier}, risk {f.spec.risk}, "
                    f"environments {' → '.join(f.environments)}")


def _production_history(f: Facts) -> list[Deployment]:
    return [d for d in f.deployments if d.env == f.production]


def _active(f: Facts, env: str) -> Deployment | None:
    stable = [d for d in f.deployments if d.env == env and d.action in ("promote", "rollback")]
    return stable[-1] if stable else None


def _m2(f: Facts) -> tuple[str, str]:
    active = _active(f, f.production)
    if active is None:
        return MISSING, f"no release has been promoted to {f.production}"
    return MANUAL, f"release {active.release_id[:12]} active since {_day(active.created_at)}"


def _a1(f: Facts) -> tuple[str, str]:
    active = _active(f, f.production)
    if active is None:
        return MISSING, f"nothing runs in {f.production}"
    release = f.releases.get(active.release_id)
    spec = json.loads(release.spec_json) if release else {}
    if f.track == CLASSIC:
        artefacts = spec.get("artefacts") or {}
        if not artefacts:
            return MISSING, f"release {active.release_id[:12]} pins no model artefact"
        return AUTOMATED, f"release {active.release_id[:12]} pins {len(artefacts)} artefact(s)"
    model = str(spec.get("model") or "")
    if not model or _ALIAS.search(model):
        return MISSING, f"release {active.release_id[:12]} uses model {model or '(none)'!r}"
    return AUTOMATED, f"release {active.release_id[:12]} pins model {model}"


def _a2(f: Facts) -> tuple[str, str]:
    changes = _production_history(f)
    if not changes:
        return MISSING, f"no change recorded in {f.production}"
    from_ci = sum(1 for d in changes if d.ci_url)
    return AUTOMATED, (f"{len(changes)} change(s) through trimtab, {from_ci} from CI; "
                       f"last by {changes[-1].actor} on {_day(changes[-1].created_at)}")


def _a3(f: Facts) -> tuple[str, str]:
    active = _active(f, f.production)
    if active is None:
        return MISSING, f"nothing runs in {f.production}"
    if len(f.environments) == 1:
        return MISSING, "only one environment is declared"
    lower = {d.release_id for d in f.deployments
             if d.env in f.environments[:-1] and d.created_at <= active.created_at}
    if active.release_id in lower:
        return AUTOMATED, f"release {active.release_id[:12]} ran in a lower environment first"
    return MISSING, f"release {active.release_id[:12]} went to {f.production} directly"


def _a4(f: Facts) -> tuple[str, str]:
    c = f.coverage
    if c is None or c.calls == 0:
        return MISSING, f"no calls recorded in {f.production} in the last 7 days"
    share = c.complete / c.calls
    evidence = f"{c.complete:,} of {c.calls:,} calls complete ({share:.1%}) in 7 days"
    if f.track == CLASSIC:  # predictions carry no tokens or cost: any recorded call counts
        return AUTOMATED, f"{c.calls:,} predictions recorded in 7 days"
    return (AUTOMATED if share >= COVERAGE_NEEDED else MISSING), evidence


def _a5(f: Facts) -> tuple[str, str]:
    releases = []
    for d in _production_history(f):
        if d.release_id not in releases:
            releases.append(d.release_id)
    if len(releases) < 2:
        return MISSING, f"only {len(releases)} release(s) ever ran in {f.production}"
    return MANUAL, (f"previous release {releases[-2][:12]} is stored; "
                    f"`trimtab rollback {f.name} --env {f.production}` restores it")


def _evaluated_before(f: Facts, deployment: Deployment) -> list[eval_store.EvalRun]:
    return [r for r in f.eval_runs if r.release_id == deployment.release_id
            and r.finished_at <= deployment.created_at]


def _o1(f: Facts) -> tuple[str, str]:
    if f.spec is not None and not f.spec.evals:
        return MISSING, "no eval suite declared"
    active = _active(f, f.production)
    if active is None:
        return MISSING, f"nothing runs in {f.production}"
    promoted = [d for d in _production_history(f)
                if d.action != "rollback" and d.release_id == active.release_id]
    first = promoted[0] if promoted else active
    runs = _evaluated_before(f, first)
    if not runs:
        return MISSING, (f"release {active.release_id[:12]} reached {f.production} "
                         "without an eval run on its digest")
    newest = runs[0]
    evidence = (f"run {newest.short_id} of suite {newest.suite} on release "
                f"{active.release_id[:12]} before it reached {f.production}")
    if f.gate_suites:
        return AUTOMATED, f"{evidence}; the {f.production} gate requires it"
    if newest.ci_url:
        return AUTOMATED, f"{evidence}, from CI"
    return MANUAL, f"{evidence}, by hand (run it in CI or gate {f.production} on it)"


def _o2(f: Facts) -> tuple[str, str]:
    if not f.eval_runs:
        return MISSING, "no eval run yet"
    newest = f.eval_runs[0]
    sliced = sorted({str(g.get("tag")) for g in newest.details.get("fairness") or []
                     if isinstance(g, dict)})
    where = f"dataset {newest.dataset_path} sha256 {newest.dataset_sha256[:12]}"
    if not sliced:
        return MISSING, (f"{where} is versioned, but results are not sliced by a tag "
                         "(declare fairness: [{tag: language, max_gap: 0.1}])")
    return MANUAL, f"{where}; results sliced by {', '.join(sliced)}"


def _g1(f: Facts) -> tuple[str, str]:
    if not f.gate_suites:
        return MISSING, f"no eval suite gates {f.production}"
    gated_runs = [r.finished_at for r in f.eval_runs if r.suite in f.gate_suites]
    since = min(gated_runs, default=None)  # promotions before the suite existed are history
    promotions = [d for d in _production_history(f) if d.action != "rollback"
                  and (since is None or d.created_at >= since)]
    # Each suite the gate names must have passed on the promoted release (another
    # suite's pass proves nothing of it); an admin's audited override into this very
    # environment, for that release, excuses one (one into staging does not).
    ungated = [d for d in promotions if any(
        not any(r.passed and r.suite == suite for r in _evaluated_before(f, d))
        for suite in f.gate_suites)]
    excused = [d for d in ungated if d.release_id in f.gate_overrides]
    overrides = f"{len(excused)} override(s) audited"
    if len(ungated) > len(excused):
        return MISSING, (f"{len(ungated) - len(excused)} of {len(promotions)} promotion(s) "
                         f"reached {f.production} without a passing run of "
                         f"{', '.join(f.gate_suites)}; {overrides}")
    return AUTOMATED, (f"{f.production} requires {', '.join(f.gate_suites)}; "
                       f"{len(promotions)} promotion(s) checked, {overrides}")


def _o3(f: Facts) -> tuple[str, str]:
    if f.spec is not None and f.spec.review is None:
        return MISSING, "no review policy declared"
    sample = f.review_sample
    if sample is None:
        return MISSING, "no review sample drawn yet"
    if f.now - sample.drawn_at > SAMPLE_WINDOW:
        return MISSING, f"the newest sample ({sample.week}) was drawn {_day(sample.drawn_at)}"
    needed = min(REVIEWS_NEEDED, sample.size)
    evidence = (f"sample {sample.week} ({sample.size} of {sample.population} calls, seed "
                f"{sample.seed}); {f.reviews_30d} review(s) of sampled calls in 30 days")
    if f.reviews_30d < needed:
        return MISSING, f"{evidence}, fewer than {needed}"
    return MANUAL, evidence


def _o4(f: Facts) -> tuple[str, str]:
    """Quality is a review or online-eval score, or (a classic model's usual case)
    a metric over the ground-truth labels that arrive later."""
    return _rule_check(f, ("quality_score", *LABEL_METRICS), "quality")


def _o5(f: Facts) -> tuple[str, str]:
    c = f.coverage
    if c is None or c.calls == 0:
        return MISSING, f"no calls recorded in {f.production} in the last 7 days"
    share = c.attributed / c.calls
    state = MANUAL if share >= COVERAGE_NEEDED else MISSING
    return state, f"{c.attributed:,} of {c.calls:,} calls attributed ({share:.1%}) in 7 days"


def _o6(f: Facts) -> tuple[str, str]:
    # A rule watching only dev or staging says nothing of what users meet.
    found = {metric: [n for n, r in f.alert_rules.items() if r["metric"] == metric
                      and r["channels"] and r["env"] in (None, f.production)]
             for metric in _OPS_METRICS}
    missing = [metric for metric, names in found.items() if not names]
    if missing:
        return MISSING, (f"no rule with a channel watching {f.production} for: "
                         f"{', '.join(missing)}")
    return MANUAL, "; ".join(f"{metric}: {', '.join(names)}" for metric, names in found.items())


def _o7(f: Facts) -> tuple[str, str]:
    if f.drift_baselines == 0:
        return MISSING, "no drift baseline"
    checked = f.newest_drift_check
    state, evidence = _rule_check(f, ("drift",), "drift")
    when = f"last check {_day(checked)}" if checked else "never checked"
    # A drift rule reads stored drift checks: evaluated over none, or over one
    # a stopped job left behind, it proves no schedule.
    if state == AUTOMATED and checked is not None and f.now - checked <= DRIFT_CHECK_WINDOW:
        return AUTOMATED, f"{f.drift_baselines} baseline(s), {when}; {evidence}"
    if checked is not None and f.now - checked <= timedelta(days=30):
        return MANUAL, f"{f.drift_baselines} baseline(s), {when}, by hand ({evidence})"
    return MISSING, f"{f.drift_baselines} baseline(s), {when}; {evidence}"


def _o8(f: Facts) -> tuple[str, str]:
    since = f.now - ROLLBACK_WINDOW
    rollbacks = [d for d in f.deployments if d.action == "rollback" and d.created_at >= since]
    if not rollbacks:
        return MISSING, "no rollback in the last 90 days"
    last = rollbacks[-1]
    return MANUAL, (f"{len(rollbacks)} rollback(s) in 90 days; last in {last.env} on "
                    f"{_day(last.created_at)} by {last.actor}")


def _g2(f: Facts) -> tuple[str, str]:
    """Counted from the first approval request on: promotions made before the team
    adopted approvals are history, not a standing failure."""
    policy = (f"the policy asks {f.policy_approvals}" if f.policy_approvals
              else f"no approval policy for {f.production}")
    requests = [a for a in f.approvals if a.env == f.production]
    if not requests:
        return MISSING, f"no approval recorded for {f.production}; {policy}"
    since = min(a.requested_at for a in requests)
    promotions = [d for d in _production_history(f)
                  if d.action != "rollback" and d.created_at >= since]
    applied = {a.deployment_id: a for a in requests
               if a.state == "applied" and a.deployment_id is not None}
    unapproved = []
    for d in promotions:
        request = applied.get(d.id)
        author = f.releases[d.release_id].author if d.release_id in f.releases else None
        others = [] if request is None else [
            who for who in request.approvals if who not in (request.requested_by, author)]
        if not others:
            unapproved.append(d)
    if unapproved:
        return MISSING, (f"{len(unapproved)} of {len(promotions)} promotion(s) since "
                         f"{_day(since)} without a second person's approval; {policy}")
    if not promotions:
        return MISSING, f"approvals requested since {_day(since)}, none applied yet; {policy}"
    return AUTOMATED, (f"all {len(promotions)} promotion(s) since {_day(since)} approved by "
                       f"someone other than the author and the requester; {policy}")


def _g3(f: Facts) -> tuple[str, str]:
    if not f.chain.ok:
        where = f"at entry {f.chain.first_bad_seq}: " if f.chain.first_bad_seq else ""
        return MISSING, f"the audit trail does not verify {where}{f.chain.problem}"
    if not f.checkpoints:
        return MANUAL, (f"{f.chain.entries:,} entries verify (head {f.chain.head_hash[:12]}), "
                        "but no signed checkpoint exists, so a cut-off tail would not show")
    return AUTOMATED, (f"{f.chain.entries:,} entries verify against {f.checkpoints} signed "
                       "checkpoint(s)")


def _g4(f: Facts) -> tuple[str, str]:
    recent = [d for d in f.documents
              if d.generated_at <= f.now and f.now - d.generated_at <= DOCUMENTS_WINDOW]
    if not recent:
        return MISSING, "no document generated in the last 12 months"
    owned = [d for d in recent if d.owner]
    if not owned:
        return MISSING, "the documents name no owner (set the system's `owner:`)"
    kinds = sorted({d.kind for d in owned})
    newest = max(owned, key=lambda d: d.generated_at)
    # One `trimtab docs` run writes its documents a moment apart, all as of one moment.
    gaps = sum(d.missing for d in owned if d.as_of == newest.as_of and d.actor == newest.actor)
    return MANUAL, (f"{len(kinds)} kind(s) generated, newest {_day(newest.generated_at)} by "
                    f"{newest.actor}, owner {newest.owner}; {gaps} item(s) marked missing")


def _g5(f: Facts) -> tuple[str, str]:
    recent = [d for d in f.drills if d.held_at <= f.now and f.now - d.held_at <= DRILL_WINDOW]
    if f.runbook is None:
        drilled = f"; {len(recent)} drill(s) in 12 months" if recent else ""
        return MISSING, f"no runbook at runbooks/{f.name}.md{drilled}"
    if not recent:
        return MISSING, f"runbook {f.runbook}, but no drill recorded in the last 12 months"
    last = recent[0]
    restore = (f", restore took {last.restore_minutes:g} min"
               if last.restore_minutes is not None else "")
    return MANUAL, (f"runbook {f.runbook}; last drill {_day(last.held_at)} "
                    f"({last.scenario}, {len(last.people)} people{restore})")


def _g6(f: Facts) -> tuple[str, str]:
    """Tracked means every finding has a status, and none is still open past its
    due date at ``now``: an ignored finding is not tracked, only listed."""
    recent = [r for r in f.independent_reviews if r.reviewed_at <= f.now
              and f.now - r.reviewed_at <= INDEPENDENT_REVIEW_WINDOW]
    if not recent:
        older = [r for r in f.independent_reviews if r.reviewed_at <= f.now]
        before = f"; the last was on {_day(older[0].reviewed_at)}" if older else ""
        return MISSING, f"no independent review recorded in the last 12 months{before}"
    last = recent[0]
    findings = [x for r in f.independent_reviews if r.reviewed_at <= f.now for x in r.findings]
    still_open = [x for x in findings
                  if x.status == assurance_store.OPEN or (x.closed_at and x.closed_at > f.now)]
    overdue = [x for x in still_open if x.due_at < f.now]
    mine = last.findings
    closed = sum(1 for x in mine if x not in still_open)
    review = (f"review by {last.reviewer} ({last.organisation}) on {_day(last.reviewed_at)}, "
              f"scope: {_short(last.scope)}; {len(mine)} finding(s), {closed} closed, "
              f"{len(mine) - closed} open")
    if overdue:
        first = overdue[0]
        return MISSING, (f"{review}; {len(overdue)} finding(s) open past their due date, "
                         f"first {first.id} due {_day(first.due_at)}: {_short(first.text)}")
    return MANUAL, f"{review}, none overdue"


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _rule_check(f: Facts, metrics: tuple[str, ...], what: str) -> tuple[str, str]:
    rules = {n: r for n, r in f.alert_rules.items() if r["metric"] in metrics}
    if not rules:
        return MISSING, f"no {what} alert rule"
    with_channel = {n: r for n, r in rules.items() if r["channels"]}
    if not with_channel:
        return MISSING, f"{what} rule(s) {', '.join(rules)} have no channel"
    fresh = [n for n, r in with_channel.items()
             if r["evaluated_at"] is not None and f.now - r["evaluated_at"] <= timedelta(days=1)]
    if fresh:
        return AUTOMATED, f"rule(s) {', '.join(fresh)} evaluated in the last 24 h"
    return MANUAL, (f"rule(s) {', '.join(with_channel)} not evaluated in 24 h "
                    "(run `trimtab monitor`)")


#: Checks whose evidence trimtab cannot record for a track yet (none today: a
#: classic model's eval runs come from its scored holdout predictions, `trimtab
#: eval SYSTEM --predictions FILE`, so O1, O2 and G1 read them like any other run).
_NO_SOURCE: dict[tuple[str, str], str] = {}


def _day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d")


_EVALUATORS = {
    "M1": _m1, "M2": _m2, "A1": _a1, "A2": _a2, "A3": _a3, "A4": _a4, "A5": _a5,
    "O1": _o1, "O2": _o2, "O3": _o3, "O4": _o4, "O5": _o5, "O6": _o6, "O7": _o7, "O8": _o8,
    "G1": _g1, "G2": _g2, "G3": _g3, "G4": _g4, "G5": _g5,
    "G6": _g6,
}
