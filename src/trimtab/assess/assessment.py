"""A system's stage, its target, the gap and the next smallest steps.

The weakest link decides: a system is at stage N when every check of stages
1..N passes (checks that do not apply to its track are left out, never counted
as passes). The next step is the cheapest failing check of the stage above, so
a team always sees one small thing to do rather than a wall of requirements.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from trimtab.assess.checks import NO_SOURCE, SKIPS, STAGES
from trimtab.assess.evidence import gather
from trimtab.assess.verdicts import Verdict, evaluate
from trimtab.errors import TrimtabError
from trimtab.project.models import Project, ScaleSpec
from trimtab.store import Store
from trimtab.store.audit import ChainReport


@dataclass(frozen=True)
class Advice:
    component: str
    verdict: str  # skip | add
    reason: str


@dataclass(frozen=True)
class Assessment:
    system: str
    track: str
    stage: int
    target: int
    verdicts: list[Verdict]
    skips: list[Advice]
    assessed_at: datetime
    notes: list[str] = field(default_factory=list)

    @property
    def gap(self) -> int:
        return max(0, self.target - self.stage)

    @property
    def next_steps(self) -> list[Verdict]:
        """Failing checks of the next stage up, cheapest first; none at or above target."""
        if self.stage >= self.target:
            return []
        failing = [v for v in self.verdicts
                   if v.check.stage == self.stage + 1 and v.counts and not v.passes]
        # A check whose evidence trimtab cannot record yet is no step a team can take
        # now: it is listed, after the ones they can.
        return sorted(failing, key=lambda v: (v.state == NO_SOURCE, v.check.cost, v.check.id))

    def to_dict(self) -> dict[str, Any]:
        return {
            "system": self.system, "track": self.track,
            "stage": self.stage, "stage_name": STAGES[self.stage],
            "target": self.target, "target_name": STAGES[self.target], "gap": self.gap,
            "assessed_at": self.assessed_at.isoformat(),
            "checks": [{"id": v.check.id, "stage": v.check.stage, "title": v.check.title,
                        "state": v.state, "passes": v.passes, "evidence": v.evidence,
                        "fix": v.fix} for v in self.verdicts],
            "next_steps": [{"id": v.check.id, "title": v.check.title, "fix": v.fix}
                           for v in self.next_steps],
            "skip": [{"component": a.component, "verdict": a.verdict, "reason": a.reason}
                     for a in self.skips],
            "notes": list(self.notes),
        }


def assess(store: Store, project: Project, system: str, *, now: datetime | None = None,
           chain: tuple[ChainReport, int] | None = None) -> Assessment:
    """``chain``: the audit chain's verdict when the caller verified it already
    (see ``evidence.verified_chain``); otherwise it is verified here."""
    if system not in project.spec.systems:
        raise TrimtabError(
            f"no system named {system!r} in {project.path.name}. "
            f"Declared: {', '.join(project.spec.systems) or 'none'}."
        )
    now = now or datetime.now(UTC)
    facts = gather(store, project, system, now, chain=chain)
    verdicts = evaluate(facts)
    stage = stage_of(verdicts)
    target = project.spec.systems[system].resolved_target_stage
    notes = []
    if stage > target:
        notes.append(
            f"Above its target (stage {target}, {STAGES[target]}): the extra machinery of stage "
            f"{stage} slows iteration on a system that does not need it. Keep what is cheap, "
            "and relax the rest (for example approvals outside production)."
        )
    elif stage == target:
        notes.append(f"At its target stage {target} ({STAGES[target]}): keep the evidence fresh.")
    return Assessment(system=system, track=facts.track, stage=stage, target=target,
                      verdicts=verdicts, skips=skip_advice(project.spec.scale),
                      assessed_at=now, notes=notes)


def stage_of(verdicts: list[Verdict]) -> int:
    stage = 0
    for level in (1, 2, 3, 4):
        if all(v.passes for v in verdicts if v.check.stage == level and v.counts):
            stage = level
        else:
            break
    return stage


def skip_advice(scale: ScaleSpec) -> list[Advice]:
    advice = []
    for skip in SKIPS:
        declared = getattr(scale, skip.signal)
        if declared >= skip.needed_at:
            advice.append(Advice(skip.component, "add",
                                 f"scale.{skip.signal} is {declared:,} (needed from "
                                 f"{skip.needed_at:,}): the problem it solves is yours now"))
        else:
            advice.append(Advice(skip.component, "skip", skip.reason))
    return advice


def markdown(assessment: Assessment) -> str:
    a = assessment
    lines = [
        f"# {a.system}: stage {a.stage} ({STAGES[a.stage]}), target {a.target} "
        f"({STAGES[a.target]})", "",
        f"Track: {a.track}. Assessed {a.assessed_at:%Y-%m-%d %H:%M} UTC.", "",
    ]
    lines += [f"> {note}" for note in a.notes]
    if a.next_steps:
        lines += ["", "## Next steps", ""]
        lines += [f"{i}. **{v.check.id}** {v.check.title}: `{v.fix}`"
                  for i, v in enumerate(a.next_steps, 1)]
    lines += ["", "## Checks", "", "| id | stage | state | evidence |", "|---|---|---|---|"]
    lines += [f"| {v.check.id} | {v.check.stage} | {v.state} | {_cell(v.evidence)} |"
              for v in a.verdicts]
    lines += ["", "## What to skip", ""]
    lines += [f"- **{s.component}**: {s.verdict}. {s.reason}" for s in a.skips]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
