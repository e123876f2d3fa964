"""Across systems: which gap to close first, the quarter's plan, and the trend.

A team with five systems and one quarter cannot lift all of them at once. The
ranking puts the widest gap on the system that matters most first: impact
grows with risk, with being customer-facing, and (logarithmically, so one busy
system does not drown the rest) with call volume and spend.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from trimtab.assess.assessment import Assessment
from trimtab.assess.checks import STAGES
from trimtab.assess.doc_texts import money
from trimtab.project.models import Project
from trimtab.store import Store
from trimtab.store import assessments as assessment_store
from trimtab.store import calls as call_store

IMPACT_WINDOW = timedelta(days=30)
#: An assessment older than this is itself a finding: the evidence moved on.
STALE_AFTER = timedelta(days=91)
_RISK_WEIGHT = {"minimal": 1.0, "limited": 2.0, "high": 4.0}


@dataclass(frozen=True)
class Ranked:
    assessment: Assessment
    impact: float
    calls_30d: int
    spend_usd_30d: float

    @property
    def priority(self) -> float:
        return self.assessment.gap * self.impact


def impact(store: Store, project: Project, system: str, now: datetime) -> tuple[float, int, float]:
    spec = project.spec.systems[system]
    with store.read() as conn:
        usage = call_store.coverage(conn, system, project.production, now - IMPACT_WINDOW)
    spend = usage.spend_micro_usd / 1_000_000
    weight = _RISK_WEIGHT[spec.risk] * (2.0 if spec.customer_facing else 1.0)
    score = weight * (1 + math.log10(1 + usage.calls) / 2 + math.log10(1 + spend) / 2)
    return round(score, 2), usage.calls, spend


def rank(store: Store, project: Project, assessments: list[Assessment],
         now: datetime) -> list[Ranked]:
    ranked = []
    for a in assessments:
        score, calls, spend = impact(store, project, a.system, now)
        ranked.append(Ranked(a, score, calls, spend))
    return sorted(ranked, key=lambda r: (-r.priority, -r.impact, r.assessment.system))


def save(store: Store, assessment: Assessment, actor: str) -> None:
    failing = [v.check.id for v in assessment.verdicts if v.counts and not v.passes]
    with store.ingest() as conn:
        assessment_store.save(
            conn, time=assessment.assessed_at, system=assessment.system, track=assessment.track,
            stage=assessment.stage, target=assessment.target, failing=failing,
            result=json.dumps(assessment.to_dict(), sort_keys=True), actor=actor)


def history(store: Store, system: str, limit: int = 50) -> list[assessment_store.StoredAssessment]:
    with store.read() as conn:
        return assessment_store.history(conn, system, limit)


def stale_note(latest: assessment_store.StoredAssessment | None, now: datetime) -> str | None:
    if latest is None:
        return "never assessed: run `trimtab assess`"
    age = now - latest.time
    if age > STALE_AFTER:
        return (f"the latest assessment is {age.days} days old (over a quarter): "
                "run `trimtab assess` again")
    return None


def plan_markdown(ranked: list[Ranked], quarter: str, steps_per_system: int = 3) -> str:
    """The quarter's plan: systems in priority order, each with its next steps."""
    lines = [f"# Maturity plan, {quarter}", "",
             "Systems in order of gap × impact; within each, the cheapest step first.", ""]
    todo = [r for r in ranked if r.assessment.gap > 0]
    for i, r in enumerate(todo, 1):
        a = r.assessment
        lines += [f"## {i}. {a.system}: stage {a.stage} ({STAGES[a.stage]}) → "
                  f"{a.target} ({STAGES[a.target]})", "",
                  f"Impact {r.impact:g} ({r.calls_30d:,} calls and {money(r.spend_usd_30d)} "
                  f"in 30 days); priority {r.priority:g}.", ""]
        lines += [f"- [ ] **{v.check.id}** {v.check.title}: `{v.fix}`"
                  for v in a.next_steps[:steps_per_system]]
        lines.append("")
    done = [r.assessment for r in ranked if r.assessment.gap == 0]
    if done:
        lines += ["## At or above target", ""]
        lines += [f"- {a.system}: stage {a.stage} ({STAGES[a.stage]}), target {a.target}"
                  for a in done]
        lines.append("")
    return "\n".join(lines)


def quarter_of(moment: datetime) -> str:
    return f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"
