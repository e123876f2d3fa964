"""Gates on promotion: an environment a suite guards takes only releases with a
passing run of that suite, on exactly that release and exactly the dataset's
current bytes.

Checked by every path that promotes (the CLI, the Python API and the HTTP API
all go through Workspace.promote, which calls ``require``), before an approval
request is made. An override needs a reason and
leaves a ``gate.override`` audit entry naming what it overrode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trimtab.errors import TrimtabError
from trimtab.project.models import Project
from trimtab.quality.datasets import file_sha256
from trimtab.store import Store
from trimtab.store import deployments as deployment_store
from trimtab.store import evals as eval_store
from trimtab.store import releases as release_store
from trimtab.store import systems as system_store
from trimtab.store.evals import EvalRun
from trimtab.store.releases import Release
from trimtab.store.systems import System

if TYPE_CHECKING:
    from sqlalchemy import Connection

#: Failing cases named per suite in a refusal; the rest are counted.
NAMED_CASES = 10


class GateClosed(TrimtabError):
    """A promotion the eval gate refuses."""

    exit_code = 1

    def __init__(self, verdict: GateVerdict):
        self.verdict = verdict
        super().__init__(verdict.message())


@dataclass
class SuiteCheck:
    suite: str
    dataset: str
    dataset_sha256: str | None
    run: EvalRun | None
    problem: str | None = None
    failing_cases: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem is None

    def to_dict(self) -> dict[str, Any]:
        return {"suite": self.suite, "dataset": self.dataset,
                "dataset_sha256": self.dataset_sha256, "run": self.run.id if self.run else None,
                "ok": self.ok, "problem": self.problem, "failing_cases": self.failing_cases}


@dataclass
class GateVerdict:
    system: str
    env: str
    release_id: str
    checks: list[SuiteCheck]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def message(self) -> str:
        failing = [c for c in self.checks if not c.ok]
        lines = [f"{self.env} requires passing eval suites; release {self.release_id[:12]} of "
                 f"{self.system!r} has {len(failing)} failing:"]
        for check in failing:
            lines.append(f"  {check.suite}: {check.problem}")
            if check.failing_cases:
                shown = check.failing_cases[:NAMED_CASES]
                more = len(check.failing_cases) - len(shown)
                lines.append(f"    failing cases: {', '.join(shown)}"
                             + (f" and {more} more" if more else ""))
        lines.append(f"Fix: trimtab eval {self.system} --release {self.release_id[:12]}, until "
                     "it passes; or, as an admin, --force --reason \"...\" (audited).")
        return "\n".join(lines)


def required(project: Project, system: str, env: str) -> list[str]:
    """The suites whose gate names ``env``."""
    return [name for name, suite in project.system(system).evals.items()
            if env in suite.gate.environments]


def check(conn: Connection, project: Project, system: str, release_id: str,
          env: str) -> GateVerdict:
    """Whether each suite ``env`` requires has a passing run for this release and dataset."""
    checks = []
    for name in required(project, system, env):
        suite = project.system(system).evals[name]
        path = project.root / suite.dataset
        sha = file_sha256(path) if path.is_file() else None
        item = SuiteCheck(name, suite.dataset, sha, None)
        if sha is None:
            item.problem = f"its dataset {suite.dataset} is missing"
        else:
            item.run = eval_store.latest(conn, system=system, suite=name, release_id=release_id,
                                         dataset_sha256=sha)
            if item.run is None:
                item.problem = _no_run(conn, system, name, release_id, sha)
            elif not item.run.passed:
                details = item.run.details
                item.failing_cases = list(details.get("failing_cases", []))
                why = "; ".join(details.get("reasons", [])) or "the gate failed"
                item.problem = f"run {item.run.short_id} failed: {why}"
        checks.append(item)
    return GateVerdict(system, env, release_id, checks)


def _no_run(conn: Connection, system: str, suite: str, release_id: str, sha: str) -> str:
    other = eval_store.latest(conn, system=system, suite=suite, release_id=release_id)
    said = (f"no run on this release with dataset sha256 {sha[:12]}")
    if other is not None:
        said += (f" (run {other.short_id} used {other.dataset_sha256[:12]}: the dataset changed "
                 "since, and a changed dataset is a new baseline)")
    return said


def enforce(conn: Connection, project: Project, system: System, release: Release, env: str,
            *, force: bool, reason: str, actor: str) -> GateVerdict | None:
    """Refuse (GateClosed) a promotion the gate does not pass, unless forced with a reason,
    which is audited. None when no suite guards ``env`` or the release is already there."""
    if not required(project, system.name, env):
        return None
    current = deployment_store.active(conn, system.id, env)
    if current is not None and current.release_id == release.id:
        return None
    verdict = check(conn, project, system.name, release.id, env)
    if verdict.ok:
        return verdict
    if not force:
        raise GateClosed(verdict)
    if not reason.strip():
        raise TrimtabError("--force overrides the eval gate only with --reason \"why\"; the "
                           "override and its reason are kept in the audit trail.")
    eval_store.record_override(conn, system=system.name, release_id=release.id, env=env,
                               reason=reason, actor=actor,
                               suites=[c.to_dict() for c in verdict.checks if not c.ok])
    return verdict


def require(store: Store, project: Project, system: str, ref: str, env: str, *,
            force: bool, reason: str, actor: str) -> GateVerdict | None:
    """``enforce`` in a transaction of its own, for Workspace.promote: before the
    promotion, and before an approval request, so no approver is asked to pass a
    release its evals failed."""
    with store.write() as conn:
        found = system_store.find(conn, system)
        if found is None:
            return None  # the promotion itself says the system is unknown
        release = release_store.resolve(conn, ref)
        return enforce(conn, project, found, release, env, force=force, reason=reason,
                       actor=actor)


def recheck(store: Store, project: Project, system: str, release_id: str, env: str, *,
            actor: str) -> GateVerdict | None:
    """The gate again, when an approved request is about to apply: between the
    request and the quorum the dataset may have changed or a run been replaced,
    and a promotion applies only while its release still passes. An admin's
    audited override at request time stands: approvers saw it."""
    import json

    from trimtab.store import audit as audit_store

    with store.read() as conn:
        overrides = audit_store.entries(conn, system=system, action="gate.override")
    if any(e.object_id == release_id and json.loads(e.payload).get("env") == env
           for e in overrides):
        return None
    return require(store, project, system, release_id, env, force=False, reason="", actor=actor)
