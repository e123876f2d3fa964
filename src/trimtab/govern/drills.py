"""Runbooks and drills: the rehearsed answer to "the system is misbehaving".

A runbook is Markdown in the team's repository (runbooks/SYSTEM.md), started
from a skeleton that already names this system's own commands and deadlines,
then edited by the team; trimtab never overwrites it. A drill record says who
walked through which scenario, when, what they found and how long the restore
took. Check G5 of the assessment reads both.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from trimtab.errors import TrimtabError
from trimtab.project.models import Project
from trimtab.store import Store
from trimtab.store import drills as drill_store
from trimtab.store.drills import Drill

#: Bounds on what a drill record holds: it is a summary, not the minutes.
MAX_TEXT = 20_000
MAX_PARTICIPANTS = 100


def runbook_path(project: Project, system: str) -> Path:
    return project.root / "runbooks" / f"{system}.md"


def write_runbook(project: Project, system: str) -> tuple[Path, bool]:
    """The skeleton, unless the team's runbook exists already: (path, written now)."""
    spec = project.system(system)
    path = runbook_path(project, system)
    if path.exists():
        return path, False
    path.parent.mkdir(parents=True, exist_ok=True)
    production = project.production
    path.write_text(_SKELETON.format(
        system=system, owner=spec.owner, production=production, risk=spec.risk,
        before=project.spec.environments[-2] if len(project.spec.environments) > 1
        else production), encoding="utf-8")
    return path, True


def record(store: Store, project: Project, system: str, *, scenario: str,
           participants: list[str], findings: str, held_at: datetime | None = None,
           restore_minutes: float | None = None, actor: str) -> Drill:
    project.system(system)  # an unknown name fails with the declared ones
    problems = []
    if not scenario.strip():
        problems.append("--scenario is empty: say what was rehearsed")
    people = [p.strip() for p in participants if p.strip()]
    if not people:
        problems.append("--participants is empty: name who took part")
    if len(people) > MAX_PARTICIPANTS:
        problems.append(f"more than {MAX_PARTICIPANTS} participants")
    if len(scenario) > MAX_TEXT or len(findings) > MAX_TEXT:
        problems.append(f"scenario and findings are kept under {MAX_TEXT:,} characters each")
    moment = (held_at or datetime.now(UTC)).astimezone(UTC)
    if moment > datetime.now(UTC):
        problems.append(f"--at {moment:%Y-%m-%d %H:%M} is in the future: record a drill held")
    if restore_minutes is not None and not 0 <= restore_minutes < 100_000:
        problems.append("--restore-minutes must be between 0 and 100,000")
    if problems:
        raise TrimtabError("cannot record the drill: " + "; ".join(problems) + ".")
    with store.write() as conn:
        return drill_store.record(conn, system=system, held_at=moment, scenario=scenario.strip(),
                                  participants=people, findings=findings.strip(),
                                  restore_minutes=restore_minutes, actor=actor)


def drills(store: Store, system: str | None = None) -> list[Drill]:
    with store.read() as conn:
        return drill_store.for_system(conn, system)


_SKELETON = """\
# Runbook: {system}

Owner: {owner}. Risk: {risk}. Keep this file in Git next to trimtab.yaml and
rehearse it at least once a year (`trimtab incident drill {system} ...`).

## 1. Stop the harm

- Bring the system to its safe state in every process within a second:
  `trimtab suspend {system} --env {production} --reason "..."` (answers with
  `when_suspended` from trimtab.yaml). Resume with `trimtab resume {system} --env {production}`.
- Or return to the previous release: `trimtab rollback {system} --env {production}`.

## 2. Record it

- `trimtab incident open {system} --severity high -m "..." [--aware-at TIME]`:
  the regulatory clocks (NIS2, EU AI Act, GDPR) start at the moment of awareness.
- `trimtab incidents` shows what is due when.

## 3. Understand it

- `trimtab calls --system {system} --since 6h` and `trimtab calls show ID`.
- `trimtab history {system}` and `trimtab diff OLD NEW` for what changed.
- `trimtab metrics {system} --window 6h` for latency, errors and cost.

## 4. Recover and learn

- Fix, `trimtab release {system}`, promote through {before} to {production}.
- `trimtab incident close ID --root-cause "..." --actions "..."`.

## Contacts

- (fill in: on-call, data protection officer, authority contacts)
"""
