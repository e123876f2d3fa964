"""A workspace is a project file plus the store and artefact store it uses.

``trimtab.connect()`` returns one; the CLI, the gateway and the monitor are
thin shells over its methods, so every front end does the same thing. This
is the facade: each method hands what it needs (the store, the project file,
the artefact store) to the package that does the work, in a line or two.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trimtab.actor import current_actor
from trimtab.errors import TrimtabError
from trimtab.observe.metrics import MetricRow, Series
from trimtab.observe.metrics import compute as compute_metrics
from trimtab.observe.metrics import series as metric_series
from trimtab.project.loader import find_project_file, load_project, missing_project_file
from trimtab.project.models import Project
from trimtab.quality import gates
from trimtab.recorder.observers import Observers
from trimtab.recorder.recorder import Recorder
from trimtab.recorder.records import CallRecord
from trimtab.releases import lifecycle
from trimtab.releases.active import ActiveReleases
from trimtab.releases.artefacts import ArtefactStore
from trimtab.releases.diffs import SpecDiff
from trimtab.sdk.record import RecordPrivacy, call_record
from trimtab.store import Store
from trimtab.store import audit as audit_store
from trimtab.store import calls as call_store
from trimtab.store import deployments as deployment_store
from trimtab.store import drift as drift_store
from trimtab.store import keys as key_store
from trimtab.store import releases as release_store
from trimtab.store import systems as system_store
from trimtab.store.audit import AuditEntry, ChainReport
from trimtab.store.calls import Call
from trimtab.store.deployments import Deployment
from trimtab.store.drift import DriftBaseline, DriftResult
from trimtab.store.engine import database_url_from_env, default_sqlite_url
from trimtab.store.keys import ApiKey
from trimtab.store.releases import Release
from trimtab.store.systems import System

if TYPE_CHECKING:
    import threading

    from trimtab.assess.assessment import Assessment
    from trimtab.assess.documents import Generated
    from trimtab.assess.portfolio import Ranked
    from trimtab.govern.checkpoints import Checkpoint
    from trimtab.govern.evidence import EvidenceBundle, EvidenceVerdict
    from trimtab.govern.identities import User
    from trimtab.govern.incidents import Deadline
    from trimtab.govern.reports import Report
    from trimtab.govern.timeline import Timeline
    from trimtab.observe.channels import Outcome
    from trimtab.observe.cost_report import CostReport
    from trimtab.observe.drift.monitor import DriftCheck
    from trimtab.observe.label_metrics import LabelMetrics
    from trimtab.observe.monitor import Cycle
    from trimtab.observe.retention import Pruned
    from trimtab.quality.changes import Change
    from trimtab.quality.evaluation import EvalReport, Progress
    from trimtab.quality.labels import Labelled
    from trimtab.quality.review import Pending, ReviewProgress, ReviewStats
    from trimtab.quality.sampling import Tick
    from trimtab.quality.weekly import WeekScore
    from trimtab.sdk.calling import Caller, SystemClient
    from trimtab.store.alerts import AlertEvent, AlertState, Delivery
    from trimtab.store.approvals import ApprovalRequest
    from trimtab.store.assessments import StoredAssessment
    from trimtab.store.assurance import Finding, IndependentReview
    from trimtab.store.documents import DocumentRecord
    from trimtab.store.drills import Drill
    from trimtab.store.erasure import Erasure
    from trimtab.store.evals import CaseResult, EvalRun
    from trimtab.store.flags import Flag
    from trimtab.store.freezes import Freeze
    from trimtab.store.holds import Hold
    from trimtab.store.identities import Grant, Identity, Token
    from trimtab.store.incidents import Incident
    from trimtab.store.labels import Label
    from trimtab.store.privileges import RolePlan
    from trimtab.store.reviews import Review
    from trimtab.store.reviews import Sample as ReviewSample
    from trimtab.store.sampling import ReleaseQuality
    from trimtab.store.scores import Score
    from trimtab.store.sessions import Session
    from trimtab.store.suspensions import Suspension

log = logging.getLogger("trimtab")

#: Seconds the hot paths (gateway requests, record(), the OpenTelemetry exporter) trust
#: their last look at trimtab.yaml.
PROJECT_TTL = 1.0

#: The parts of a workspace that start on first use; ``started()`` asks about them.
PARTS = ("store", "recorder", "caller", "active", "artefacts")


class Workspace:
    """The Python API: where things live, systems, releases, environments, the
    call log, drift, cost, scores, alerts, gateway keys and the audit log."""

    def __init__(self, project_file: Path | None, database_url: str | None = None):
        self.project_file = project_file
        self._database_url = database_url
        self._project: tuple[tuple[int, int] | None, Project] | None = None
        self._project_looked = float("-inf")  # when recent_project() last looked at the file
        # Called with every record after it is spooled (Prometheus, OpenTelemetry): see
        # subscribe().
        self.observers = Observers()
        # Recorder(...) keywords for when the recorder starts (the gateway sets writer).
        self.recorder_options: dict[str, Any] = {}
        self._privacy = RecordPrivacy()
        self._unready: list[str] | None = None  # warn_unready() has run
        # What scheduled housekeeping (run_scheduled) remembers between cycles.
        self._schedule: dict[str, Any] = {}
        # The API token this workspace acts with (default: TRIMTAB_TOKEN); a server
        # sets it per request.
        self.token: str | None = None

    # --- where things live --------------------------------------------------

    @property
    def project(self) -> Project:
        """The project file as it is now: reloaded when it changed on disk, so a
        long-lived workspace never releases a stale declaration."""
        if self.project_file is None:
            raise missing_project_file()
        try:
            stat = self.project_file.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            stamp = None
        if self._project is None or self._project[0] != stamp:
            self._project = (stamp, load_project(self.project_file))
        return self._project[1]

    def recent_project(self, *, fresh: bool = False) -> Project | None:
        """The project file for the hot paths (the gateway per request, record()
        per call): looked at (a stat) at most every PROJECT_TTL seconds, or now
        when ``fresh`` (a gateway starting). A stat per call cost 2 us, and 15 us
        while the writer thread held the GIL. A file broken mid-edit must not
        fail calls: the last good version keeps serving, and the problem is
        logged (once per look) until it is fixed."""
        if self.project_file is None:
            return None
        now = time.monotonic()
        if not fresh and self._project is not None and now - self._project_looked < PROJECT_TTL:
            return self._project[1]
        try:
            project = self.project
        except TrimtabError as exc:
            if self._project is None:
                raise
            log.error("%s; still using the last good version of %s", exc,
                      self.project_file.name)
            project = self._project[1]
        self._project_looked = now
        return project

    @property
    def root(self) -> Path | None:
        return self.project_file.parent if self.project_file else None

    @cached_property
    def database_url(self) -> str:
        url = self._database_url or database_url_from_env()
        if url:
            return url
        if self.root is None:
            raise TrimtabError(
                "no store to open: there is no trimtab.yaml here and TRIMTAB_DATABASE_URL "
                "is not set. Fix: cd into your project or export TRIMTAB_DATABASE_URL."
            )
        return default_sqlite_url(self.root)

    @cached_property
    def store(self) -> Store:
        return Store(self.database_url)

    @cached_property
    def artefacts(self) -> ArtefactStore:
        url = os.environ.get("TRIMTAB_ARTEFACT_STORE") or self.project.spec.artefact_store
        if url is None:
            url = str(self.project.root / ".trimtab" / "artefacts")
        elif "://" not in url and not os.path.isabs(url):
            url = str(self.project.root / url)
        return ArtefactStore(url)

    @cached_property
    def spool_dir(self) -> Path:
        explicit = os.environ.get("TRIMTAB_SPOOL_DIR")
        if explicit:
            return Path(explicit)
        if self.root is not None:
            return self.root / ".trimtab" / "spool"
        return Path.home() / ".cache" / "trimtab" / "spool"

    @cached_property
    def recorder(self) -> Recorder:
        """Started on first use. ``TRIMTAB_RECORDER_WRITER=process`` (the gateway's
        default) moves the writer off this process's GIL into a child process."""
        options = dict(self.recorder_options)
        writer = os.environ.get("TRIMTAB_RECORDER_WRITER")
        if writer:
            if writer not in ("thread", "process"):
                raise TrimtabError(f"TRIMTAB_RECORDER_WRITER={writer!r} is not a writer. "
                                   "Fix: set it to `thread` or `process`.")
            options["writer"] = writer
        return Recorder(self.store, self.spool_dir, **options)

    @cached_property
    def active(self) -> ActiveReleases:
        return ActiveReleases(self.store)

    def started(self, part: str) -> bool:
        """Whether a part that starts on first use (``PARTS``: the store, the
        recorder, ...) has started: asking never starts it."""
        if part not in PARTS:
            raise ValueError(f"started({part!r}): a workspace's parts are {', '.join(PARTS)}")
        return part in self.__dict__  # a cached_property lives there once computed

    # --- calls and their observers --------------------------------------------

    def emit(self, record: CallRecord, required: bool = False) -> str:
        """Spool a record (durable before this returns), then tell the observers.

        An observer that fails is logged and skipped: exporting telemetry must
        never fail the call it describes. A record the spool cannot take is
        dropped and counted, or, when ``required``, raises RecordingUnavailable.
        """
        call_id = self.recorder.record(record, required=required)
        self.observers.notify(record)
        return call_id

    def subscribe(self, observer: Callable[[CallRecord], object], *,
                  flush: Callable[[float], bool] | None = None,
                  close: Callable[[], None] | None = None) -> None:
        """Hand ``observer`` every record after it is spooled. An exporter that
        buffers (OpenTelemetry's batch span processor) gives ``flush`` and
        ``close`` too, so that ``flush()`` and ``close()`` push out what it holds."""
        self.observers.subscribe(observer, flush=flush, close=close)

    def unsubscribe(self, observer: Callable[[CallRecord], object]) -> None:
        self.observers.unsubscribe(observer)

    @cached_property
    def caller(self) -> Caller:
        from trimtab.sdk.calling import Caller  # the runtime (httpx, prices) loads on first call

        self.warn_unready()
        return Caller(lambda system, env: self.active.route(system, env), self.emit,
                      self._simulated_refusal, self._recording_required,
                      lambda: self.recorder.writable())

    def _recording_required(self, system: str) -> bool:
        """The system's ``recording`` policy (required at target stage 4 by default)."""
        project = self.recent_project()
        spec = project.spec.systems.get(system) if project is not None else None
        return spec is not None and spec.recording_required

    def _simulated_refusal(self, env: str) -> str | None:
        project = self.recent_project()
        if project is None:
            return "no trimtab.yaml allows the simulated provider here (allow_simulated)."
        return project.simulated_refusal(env)

    def warn_unready(self) -> list[str]:
        """Log, once per workspace, each provider whose key variable is unset and
        each model with no price (project/readiness.py); the gateway and the SDK
        call this as they start. Returns the lines."""
        if self._unready is not None or self.project_file is None:
            return self._unready or []
        from trimtab.project.readiness import readiness

        try:
            project = self.recent_project()
        except TrimtabError:  # a broken file: the call that needs it says so
            return []
        self._unready = readiness(project) if project is not None else []
        for line in self._unready:
            log.warning("trimtab: %s", line)
        return self._unready

    def system(self, name: str, env: str | None = None) -> SystemClient:
        """A handle to call a system's active release: ``.run(vars)``, ``await .arun(vars)``.

        ``env`` defaults to the last (production) environment.
        """
        from trimtab.sdk.calling import SystemClient

        return SystemClient(self, name, env)

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every recorded call is in the store (scripts call this last)."""
        if self.started("caller"):
            self.caller.drain(timeout)
        done = self.recorder.flush(timeout) if self.started("recorder") else True
        return self.observers.flush(timeout) and done

    def close(self) -> None:
        if self.started("caller"):
            self.caller.close()
        if self.started("recorder"):
            self.recorder.close()
        if self.started("active"):
            self.active.close()
        if self.started("store"):
            self.store.dispose()
        self.observers.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # --- systems and releases -------------------------------------------------

    def sync(self, names: list[str] | None = None) -> list[tuple[System, str]]:
        """Register or update systems from the project file (all when names is None)."""
        return lifecycle.sync(self.store, self.project, names,
                              actor=self.authorize("system.sync"))

    def systems(self) -> list[System]:
        with self.store.read() as conn:
            return system_store.list_all(conn)

    def get_system(self, name: str) -> System:
        with self.store.read() as conn:
            return system_store.get(conn, name)

    def release(self, system: str, note: str = "") -> tuple[Release, bool]:
        """Snapshot ``system`` as declared now. Returns (release, created)."""
        return lifecycle.snapshot(self.store, self.project, self.artefacts, system, note,
                                  actor=self.authorize("release.create", system))

    def releases(self, system: str) -> list[Release]:
        with self.store.read() as conn:
            return release_store.for_system(conn, system_store.get(conn, system).id)

    def get_release(self, ref: str, system: str | None = None) -> Release:
        return lifecycle.get(self.store, ref, system)

    def diff(self, old_ref: str, new_ref: str) -> tuple[Release, Release, SpecDiff]:
        return lifecycle.diff(self.store, old_ref, new_ref)

    def fetch_artefact(self, ref: str, name: str, destination: Path) -> Path:
        return lifecycle.fetch_artefact(self.store, self.artefacts, ref, name, destination)

    # --- environments -------------------------------------------------------

    def promote(self, system: str, ref: str, env: str, reason: str = "", *,
                canary: int | None = None, shadow: int | None = None,
                force: bool = False, skip_order: bool = False
                ) -> Deployment | ApprovalRequest | None:
        """Make a release active in ``env``; None when it already was.

        With ``canary=N`` the release answers N% of calls beside the stable one;
        with ``shadow=N`` it gets a copy of N% of calls, recorded, never returned.
        A later plain promote graduates it; a rollback aborts it. Where an
        approval policy protects ``env``, the result is a pending ApprovalRequest
        that applies once approved (``approve``).

        An environment that eval suites guard (``gate:``) takes the release only
        with a passing run of each, checked before any approval is asked for
        (trimtab.quality.gates); ``force`` with a ``reason`` overrides that (the
        admin role; audited). A shadow answers no one: not gated.
        Environments go in their declared order (releases/order.py) unless
        ``skip_order`` with a ``reason``, checked before the gate and any approval.
        """
        actor = self.authorize("gate.override" if force else "deployment.promote", system)
        override = _freeze_override(force, reason)
        lifecycle.check_not_frozen(self.store, system, env, "promote", override=override)
        lifecycle.check_order(self.store, self.project, system, ref, env,
                              skip_order=skip_order, reason=reason)
        if shadow is None:
            gates.require(self.store, self.project, system, ref, env, force=force,
                          reason=reason, actor=actor)
        held = _approvals().hold(self.store, self.project, system, ref, env, reason,
                                 canary=canary, shadow=shadow, actor=actor)
        return held or self._apply_promotion(system, ref, env, reason, canary=canary,
                                             shadow=shadow, actor=actor, skip_order=skip_order,
                                             freeze_override=override)

    def _apply_promotion(self, system: str, ref: str, env: str, reason: str, *,
                         canary: int | None, shadow: int | None,
                         actor: str, skip_order: bool = False,
                         freeze_override: str | None = None) -> Deployment | None:
        """The promotion itself: what ``promote`` does where no approval is needed,
        and what an approved request applies (never past a freeze: an override is
        the admin's, at the moment of the change)."""
        with self._changing_routes():
            return lifecycle.promote(self.store, self.project, system, ref, env, reason,
                                     canary=canary, shadow=shadow, actor=actor,
                                     skip_order=skip_order, freeze_override=freeze_override)

    def approve(self, request: str, *, release: str | None = None, comment: str = "",
                now: datetime | None = None) -> tuple[ApprovalRequest, Deployment | None]:
        """Approve a pending promotion (optionally naming the release approved);
        at the quorum it applies. Returns the request and the deployment if it applied."""
        pending = self.approval(request)
        actor = self.authorize("approval.decide", pending.system)
        # A frozen system takes no approval: the quorum is not spent on a change
        # that could not apply (store/freezes.py refuses it again when applying).
        lifecycle.check_not_frozen(self.store, pending.system, pending.env, "promote")
        return _approvals().approve(
            self.store, request, release=release, comment=comment, now=now,
            actor=actor, apply=self._apply_approved)

    def _apply_approved(self, r: ApprovalRequest) -> Deployment | None:
        """An approved request applies while its release still passes its gates; the
        order was checked when it was requested."""
        gates.recheck(self.store, self.project, r.system, r.release_id, r.env,
                      actor=r.requested_by)
        return self._apply_promotion(
            r.system, r.release_id, r.env, f"{r.reason} (approved: request {r.id})".strip(),
            canary=r.percent if r.mode == "canary" else None, shadow=None,
            actor=r.requested_by, skip_order=True)

    def reject(self, request: str, *, reason: str,
               now: datetime | None = None) -> ApprovalRequest:
        pending = self.approval(request)
        return _approvals().reject(self.store, request, reason=reason, now=now,
                                   actor=self.authorize("approval.decide", pending.system))

    def approval(self, request: str) -> ApprovalRequest:
        from trimtab.store import approvals as approval_store

        with self.store.read() as conn:
            return approval_store.get(conn, request)

    def approvals(self, *, include_closed: bool = False,
                  system: str | None = None) -> list[ApprovalRequest]:
        """Promotion requests waiting for approval (all of them with ``include_closed``)."""
        return _approvals().requests(self.store, include_closed=include_closed, system=system)

    def rollback(self, system: str, env: str, to: str | None = None,
                 reason: str = "", *, force: bool = False) -> Deployment:
        """Go back to the previous release (or ``to``); ``force`` with a ``reason``
        rolls back a system an incident froze (admin; audited)."""
        protected = _approvals().policy(self.project, system, env) is not None
        action = "deployment.rollback.protected" if protected else "deployment.rollback"
        actor = self.authorize("freeze.override" if force else action, system)
        with self._changing_routes():
            return lifecycle.rollback(self.store, self.project, system, env, to, reason,
                                      actor=actor,
                                      freeze_override=_freeze_override(force, reason))

    # --- the kill switch (trimtab.govern.suspend) -----------------------------

    def suspend(self, system: str, env: str, *, reason: str) -> Suspension:
        """Stop ``system`` in ``env``: every call gets its declared safe answer
        (``when_suspended:``), here at once and in every other process within a
        second; audited."""
        from trimtab.govern import suspend

        with self._changing_routes():
            return suspend.suspend(self.store, self.project, system, env, reason=reason,
                                   actor=self.authorize("system.suspend", system))

    def resume(self, system: str, env: str, *, reason: str) -> Suspension:
        """Lift a suspension (a high-risk system needs an approver); returns what it was."""
        from trimtab.govern import suspend

        action = "system.resume.high-risk" if suspend.high_risk(self.project, system) \
            else "system.resume"
        with self._changing_routes():
            return suspend.resume(self.store, self.project, system, env, reason=reason,
                                  actor=self.authorize(action, system))

    def suspensions(self) -> list[Suspension]:
        from trimtab.govern import suspend

        return suspend.suspended(self.store)

    # --- incidents (trimtab.govern.incidents) ------------------------------------

    def open_incident(self, system: str, *, severity: str, summary: str,
                      categories: list[str] | None = None,
                      aware_at: datetime | None = None, freeze: bool | None = None,
                      hold_since: datetime | None = None) -> Incident:
        """Record an incident; its regulatory deadlines run from ``aware_at`` (now).
        A serious one (a reporting category, or critical) freezes the system and
        holds its calls unless ``freeze=False`` (trimtab.govern.freeze)."""
        from trimtab.govern import incidents

        return incidents.open_incident(
            self.store, self.project, system, severity=severity, summary=summary,
            categories=list(categories or []), aware_at=aware_at, freeze=freeze,
            hold_since=hold_since, actor=self.authorize("incident.manage", system))

    def freeze_incident(self, ref: str, *, hold_since: datetime | None = None
                        ) -> tuple[Freeze, Hold]:
        """Freeze an open incident's system and hold its calls (one opened unfrozen)."""
        from trimtab.govern import freeze

        return freeze.freeze(self.store, self._project_or_none(), ref, since=hold_since,
                             actor=self.authorize("incident.manage",
                                                  self.incident(ref).system))

    def unfreeze_incident(self, ref: str, *, reason: str) -> list[Freeze]:
        """Lift an incident's freeze (an approver); its legal hold stays."""
        from trimtab.govern import freeze

        return freeze.unfreeze(self.store, ref, reason=reason,
                               actor=self.authorize("incident.unfreeze",
                                                    self.incident(ref).system))

    def release_holds(self, ref: str, *, reason: str) -> list[Hold]:
        """Release an incident's legal holds (an admin): its calls follow retention again."""
        from trimtab.govern import freeze

        return freeze.release_holds(self.store, ref, reason=reason,
                                    actor=self.authorize("hold.release",
                                                         self.incident(ref).system))

    def freezes(self, *, system: str | None = None,
                include_lifted: bool = False) -> list[Freeze]:
        from trimtab.govern import freeze

        return freeze.freezes(self.store, system=system, include_lifted=include_lifted)

    def holds(self, *, system: str | None = None,
              include_released: bool = False) -> list[tuple[Hold, int]]:
        """Legal holds, each with how many calls it keeps."""
        from trimtab.govern import freeze

        return freeze.holds(self.store, system=system, include_released=include_released)

    def note_incident(self, ref: str, text: str) -> Incident:
        from trimtab.govern import incidents

        return incidents.note(self.store, ref, text,
                              actor=self.authorize("incident.manage", self.incident(ref).system))

    def close_incident(self, ref: str, *, root_cause: str, actions: str) -> Incident:
        from trimtab.govern import incidents

        return incidents.close(self.store, ref, root_cause=root_cause, actions=actions,
                               actor=self.authorize("incident.manage",
                                                    self.incident(ref).system))

    def record_drill(self, system: str, *, scenario: str, participants: list[str],
                     findings: str = "", held_at: datetime | None = None,
                     restore_minutes: float | None = None) -> Drill:
        """Record a tabletop drill of the system's runbook (audited)."""
        from trimtab.govern import drills

        return drills.record(self.store, self.project, system, scenario=scenario,
                             participants=participants, findings=findings, held_at=held_at,
                             restore_minutes=restore_minutes,
                             actor=self.authorize("incident.manage", system))

    def drills(self, system: str | None = None) -> list[Drill]:
        from trimtab.govern import drills

        return drills.drills(self.store, system)

    def write_runbook(self, system: str) -> tuple[Path, bool]:
        """runbooks/SYSTEM.md from a skeleton, unless the team's own exists."""
        from trimtab.govern import drills

        return drills.write_runbook(self.project, system)

    # --- independent reviews (trimtab.govern.assurance) ----------------------------

    def record_independent_review(self, system: str, *, reviewer: str, organisation: str,
                                  scope: str, findings: list[str] | None = None,
                                  reviewed_at: datetime | None = None,
                                  due_at: datetime | None = None,
                                  no_findings: bool = False) -> IndependentReview:
        """Record a review by someone outside the team, each finding open until
        closed (audited; evidence for check G6). A review without findings needs
        ``no_findings=True``; findings are due ``due_at`` (90 days after it)."""
        from trimtab.govern import assurance

        return assurance.record(self.store, self.project, system, reviewer=reviewer,
                                organisation=organisation, scope=scope,
                                findings=list(findings or []), reviewed_at=reviewed_at,
                                due_at=due_at, no_findings=no_findings,
                                actor=self.authorize("assurance.manage", system))

    def close_finding(self, ref: str, *, resolution: str) -> Finding:
        """Close an independent review's finding with what was done (audited)."""
        from trimtab.govern import assurance

        system = assurance.finding(self.store, ref).system
        return assurance.close(self.store, ref, resolution=resolution,
                               actor=self.authorize("assurance.manage", system))

    def independent_reviews(self, system: str | None = None) -> list[IndependentReview]:
        """Newest first, each with its findings."""
        from trimtab.govern import assurance

        return assurance.reviews(self.store, system)

    def incident(self, ref: str) -> Incident:
        from trimtab.store import incidents as incident_store

        with self.store.read() as conn:
            return incident_store.get(conn, ref)

    def incidents(self, *, include_closed: bool = False,
                  system: str | None = None) -> list[Incident]:
        from trimtab.govern import incidents

        return incidents.incidents(self.store, include_closed=include_closed, system=system)

    def incident_report(self, ref: str, fmt: str, *, now: datetime | None = None) -> Report:
        """A draft of the report ``fmt`` (nis2-early-warning, nis2-notification,
        nis2-final, ai-act-serious-incident) for an incident, filled from evidence,
        its gaps marked (trimtab.govern.reports). Reads only."""
        from trimtab.govern import reports

        return reports.draft(self.store, self._project_or_none(), ref, fmt, now=now)

    def timeline(self, system: str, *, at: datetime, window: timedelta = timedelta(hours=6),
                 samples: int = 5) -> Timeline:
        """What ran, what changed and what it produced around ``at`` (the window
        runs half before, half after): trimtab.govern.timeline. Reads only."""
        from trimtab.govern import timeline

        return timeline.timeline(self.store, self._project_or_none(), system, at=at,
                                 window=window, samples=samples)

    def deadlines(self, *, system: str | None = None) -> list[Deadline]:
        """Every reporting deadline of every open incident, soonest first."""
        from trimtab.govern import incidents

        return incidents.due(self.store, system=system)

    @contextlib.contextmanager
    def _changing_routes(self) -> Iterator[None]:
        """After a deployment change, this process serves it at once; the others
        within a second (ActiveReleases watches the store's change signal)."""
        try:
            yield
        finally:
            if self.started("active"):
                self.active.invalidate()

    # --- evals ----------------------------------------------------------------

    def eval(self, system: str, *, release: str | None = None, suite: str | None = None,
             baseline: str | None = None, progress: Progress | None = None,
             concurrency: int | None = None,
             predictions: str | Path | Mapping[str, Any] | None = None) -> EvalReport:
        """Run ``system``'s eval suites on a release (default: as declared now) and store
        the runs; see trimtab.quality.evaluation.

        ``predictions`` (a classic model, which trimtab cannot call): a JSONL/CSV file
        or a ``{case id: prediction}`` mapping of the team's own predictions on the
        suite's dataset, scored instead of calling; see trimtab.quality.predictions."""
        from trimtab.quality.evaluation import evaluate

        if predictions is not None:
            from trimtab.quality import predictions as given
            from trimtab.quality.evaluation import resolve_release

            if baseline is not None:
                raise TrimtabError("--baseline compares cases run now with a stored run; with "
                                   "--predictions, compare the stored runs with `trimtab evals`.")
            actor = self.authorize("eval.run", system)
            target = resolve_release(self, system, release)
            source = Path(predictions) if isinstance(predictions, str | Path) else predictions
            return given.score(self, system, target, source, suite=suite, actor=actor)
        return evaluate(self, system, release=release, suite=suite, baseline=baseline,
                        progress=progress, concurrency=concurrency,
                        actor=self.authorize("eval.run", system))

    # --- human review -----------------------------------------------------------

    def review_sample(self, system: str, *, week: str | None = None, size: int | None = None,
                      seed: int | None = None) -> tuple[ReviewSample, bool]:
        """This ISO week's (or ``week``'s) review sample, drawn once; (sample, drawn now)."""
        from trimtab.quality import review

        return review.draw(self.store, self.project, system, week=week, size=size, seed=seed,
                           actor=self.authorize("review.sample", system))

    def review_next(self, system: str) -> Pending | None:
        """The next sampled call the acting reviewer has not reviewed (None: all done)."""
        from trimtab.quality import review

        return review.next_call(self.store, system, self.authorize("review.add", system))

    def review(self, call_id: str, verdict: str, *, score: int | None = None,
               labels: list[str] | None = None, comment: str | None = None) -> Review:
        """A reviewer's verdict on a call (pass or fail, a 1-5 score, labels); once per
        reviewer and call; audited, and kept as the call's ``review`` score."""
        from trimtab.quality import review

        system = self.call(call_id).system
        return review.record(self.store, call_id, reviewer=self.authorize("review.add", system),
                             verdict=verdict, score=score, labels=labels or [],
                             comment=comment)

    def review_stats(self, system: str, *, since: datetime | None = None) -> ReviewStats:
        """Reviewed pass rate (Wilson interval), reviewers' agreement, and each sampled
        scorer's (an LLM judge's) agreement with people on the calls both judged."""
        from trimtab.quality import review

        self.project.system(system)
        return review.stats(self.store, system, since=since)

    def review_progress(self, system: str, *, reviewer: str | None = None,
                        weeks: int = 8) -> ReviewProgress:
        """The newest sample's progress (by anyone and by ``reviewer``) and the weekly
        pass rate of reviewed calls (the dashboard's quality trend)."""
        from trimtab.quality import review

        self.project.system(system)
        return review.progress(self.store, system, reviewer=reviewer, weeks=weeks)

    def flag(self, call_id: str, reason: str | None = None) -> tuple[Flag, bool]:
        """Flag a call for human review: it always joins its week's review sample;
        (the flag, whether it is new). Audited."""
        from trimtab.quality import review

        system = self.call(call_id).system
        return review.flag(self.store, call_id, reason=reason,
                           actor=self.authorize("call.flag", system))

    def flags(self, system: str, *, limit: int = 100) -> list[Flag]:
        """Calls of ``system`` flagged for review, newest first."""
        from trimtab.store import flags as flag_store

        self.project.system(system)
        with self.store.read() as conn:
            return flag_store.for_system(conn, system, limit=limit)

    def score_sample(self, system: str | None = None, *,
                     now: datetime | None = None) -> list[Tick]:
        """One tick of sampled scoring now (what the monitor does each cycle): the next
        drawn calls of ``system`` (default: every system with ``scoring:``) scored."""
        from trimtab.quality import sampling

        self.authorize("score.sample", system)
        if system is not None:
            return [sampling.tick(self.store, self.project, system, now=now)]
        return sampling.tick_all(self.store, self.project, now=now)

    def quality_by_release(self, system: str, *, window: timedelta = timedelta(days=7),
                           name: str | None = None) -> list[ReleaseQuality]:
        """``quality_score`` per release: each sampled scorer's mean and passes."""
        from trimtab.quality import sampling

        self.project.system(system)
        return sampling.by_release(self.store, system, window=window, name=name)

    def quality_weekly(self, system: str, *, weeks: int = 8,
                       now: datetime | None = None) -> list[WeekScore]:
        """The weekly quality score (people's, else the sampled scorers'), its Wilson
        95% interval and trend, oldest week first."""
        from trimtab.quality import weekly

        self.project.system(system)
        return weekly.weekly(self.store, system, weeks=weeks, now=now)

    def changed_since(self, ref: str, systems: list[str] | None = None) -> list[Change]:
        """Which systems with eval suites (or ``systems``) changed since git ``ref``: their
        release content or their suites differ from what the ref held."""
        from trimtab.quality.changes import changed_since

        return changed_since(self.project, ref, systems)

    def eval_runs(self, system: str, *, suite: str | None = None, release: str | None = None,
                  limit: int = 50) -> list[EvalRun]:
        """Stored eval runs of a system, newest first."""
        from trimtab.quality import runs

        return runs.runs(self.store, system, suite=suite, release=release, limit=limit)

    def eval_results(self, run_id: str) -> tuple[EvalRun, list[CaseResult]]:
        """One stored run (id or prefix) and its cases."""
        from trimtab.quality import runs

        return runs.run_with_results(self.store, run_id)

    def status(self) -> list[Deployment]:
        """The stable deployment of every (system, env)."""
        with self.store.read() as conn:
            return deployment_store.current_all(conn)

    def candidates(self) -> list[Deployment]:
        """Canaries and shadows running beside a stable release."""
        with self.store.read() as conn:
            return deployment_store.candidates_all(conn)

    def history(self, system: str, env: str | None = None) -> list[Deployment]:
        with self.store.read() as conn:
            return deployment_store.history(conn, system_store.get(conn, system).id, env)

    def active_release(self, system: str, env: str) -> Release | None:
        """Read through to the store: always the latest (the runtime uses ``active``)."""
        return lifecycle.active_release(self.store, system, env)

    # --- the call log ---------------------------------------------------------

    def record(self, system: str, inputs: Any, output: Any, latency_ms: float, *,
               env: str | None = None, status: str = "ok", error: str | None = None,
               model: str | None = None, user: str | None = None,
               tags: dict[str, str] | None = None, **fields: Any) -> str:
        """Record a call or prediction made elsewhere (a scikit-learn model, an
        endpoint trimtab does not proxy). Returns the call id; never blocks on
        the database. RecordingUnavailable when the spool cannot take it and the
        system requires recording (``recording: required``)."""
        return self.emit(call_record(
            self.recent_project(), self._release_of, self._privacy, system, inputs, output,
            latency_ms, env=env, status=status, error=error, model=model, user=user, tags=tags,
            fields=fields), self._recording_required(system))

    def _release_of(self, system: str, env: str) -> Release | None:
        return self.active.get(system, env)

    def calls(self, *, system: str | None = None, env: str | None = None,
              since: datetime | None = None, until: datetime | None = None,
              status: str | None = None, release: str | None = None, model: str | None = None,
              text: str | None = None, limit: int = 50) -> list[Call]:
        """Recorded calls, newest first; ``text`` searches what the logging mode stored
        (request, response, error) in the newest calls the other filters keep
        (store.calls.SEARCH_SCAN of them)."""
        with self.store.read() as conn:
            return call_store.query(conn, system=system, env=env, since=since, until=until,
                                    status=status, release=release, model=model, text=text,
                                    limit=limit)

    def call(self, ref: str) -> Call:
        with self.store.read() as conn:
            return call_store.get(conn, ref)

    def metrics(self, *, window: timedelta = timedelta(hours=24),
                by: tuple[str, ...] | list[str] = (), system: str | None = None,
                env: str | None = None, tag: str | None = None,
                end: datetime | None = None) -> list[MetricRow]:
        """Calls, errors, p50/p95/p99, tokens and cost over a window, grouped."""
        return compute_metrics(self.store, window=window, by=tuple(by), system=system, env=env,
                               tag=tag, end=end)

    def metric_series(self, *, window: timedelta = timedelta(hours=24),
                      system: str | None = None, env: str | None = None,
                      end: datetime | None = None) -> Series:
        """The same metrics per step over a window (a chart's points)."""
        return metric_series(self.store, window=window, system=system, env=env, end=end)

    def prune(self, older_than: timedelta | None = None, *, system: str | None = None,
              dry_run: bool = False) -> list[Pruned]:
        """Delete calls older than each system's ``retention_days`` (else its risk's
        default, ``retention:``); ``older_than`` reaches only systems with neither.
        Audited per system; rollups stay."""
        from trimtab.observe import retention

        declared = self.project.spec.systems if self.project_file else {}
        defaults = self.project.spec.retention if self.project_file else None
        actor = current_actor() if dry_run else self.authorize("calls.prune", system)
        return retention.prune(self.store, declared, defaults=defaults, actor=actor,
                               older_than=older_than, system=system, dry_run=dry_run)

    def erase(self, user: str, *, request: str, reason: str = "",
              systems: list[str] | None = None, skip_held: bool = False,
              override_hold: bool = False, dry_run: bool = False) -> Erasure:
        """Erase one person's calls and what names them (GDPR Art. 17); audited as a
        reference (``request``), never the user id. See trimtab.govern.erasure."""
        from trimtab.govern.erasure import erase

        actor = current_actor() if dry_run else self.authorize("calls.erase")
        return erase(self.store, user, request=request, actor=actor, reason=reason,
                     systems=systems, skip_held=skip_held, override_hold=override_hold,
                     dry_run=dry_run)

    # --- drift ----------------------------------------------------------------

    def drift_baseline(self, system: str, *, env: str | None = None,
                       window: timedelta | None = None, since: datetime | None = None,
                       until: datetime | None = None, file: str | Path | None = None,
                       name: str | None = None, embeddings: bool = False,
                       kinds: Mapping[str, str] | None = None,
                       fields: Mapping[str, str] | None = None) -> DriftBaseline:
        """Store a drift reference profile of ``system`` in ``env``.

        The reference is a file, a time window (``since``/``until``, or the last
        ``window``), or by default the first 7 days of calls of the release
        active in ``env``. Only the profile is stored, never the rows.
        ``kinds`` forces column kinds (``{"amount": "numerical", "rating":
        "categorical"}``), kept for later checks; ``fields`` maps call fields to
        a CSV/Parquet file's columns (``{"output": "churned"}``): unmapped, every
        column is a feature.
        """
        return _drift().store_baseline(
            self.store, self._project_or_none(), system, env=env, window=window, since=since,
            until=until, file=file, name=name, embeddings=embeddings, kinds=kinds, fields=fields,
            actor=self.authorize("drift.baseline", system))

    def drift(self, system: str, *, env: str | None = None,
              reference: str | Path | timedelta | tuple[datetime, datetime] | None = None,
              current: Path | timedelta | tuple[datetime, datetime] = timedelta(hours=24),
              end: datetime | None = None, drift_share: float = 0.5, embeddings: bool = False,
              save: bool = True, kinds: Mapping[str, str] | None = None,
              fields: Mapping[str, str] | None = None) -> DriftCheck:
        """Check the current window of ``system`` for drift against a reference.

        ``reference``: None for the newest stored baseline, a baseline name or
        id prefix, a file, a (start, end) window, or a span that ends where the
        current window starts. ``current``: the last span before ``end`` (now),
        a (start, end) window, or a file. A span never reaches back into the
        reference's calls: it starts where the reference ends (an error when
        no call is left). The result is stored and audited unless ``save=False``.
        ``kinds`` and ``fields`` as for ``drift_baseline`` (a stored baseline keeps
        its own kinds).
        """
        return _drift().check_system(
            self.store, self._project_or_none(), system, env=env, reference=reference,
            current=current, end=end, drift_share=drift_share, embeddings=embeddings,
            kinds=kinds, fields=fields,
            save=save, actor=self.authorize("drift.check", system) if save else None)

    def drift_baselines(self, system: str, env: str | None = None) -> list[DriftBaseline]:
        """Stored baselines of ``system``, newest first."""
        with self.store.read() as conn:
            return drift_store.baselines(conn, system, env)

    def drift_history(self, system: str, env: str | None = None,
                      limit: int = 20) -> list[DriftResult]:
        """Stored drift results of ``system``, newest first."""
        with self.store.read() as conn:
            return drift_store.results(conn, system, env, limit)

    # --- cost and scores ------------------------------------------------------

    def cost_report(self, month: str | None = None) -> CostReport:
        """Spend of ``month`` (YYYY-MM; default: the last full month, or the latest
        month with calls when that one has none) by system, model and user, against
        the month before; read from rollups."""
        from trimtab.observe import cost_report

        budgets = self.project.spec.budgets if self.project_file is not None else {}
        return cost_report.build(self.store, month or cost_report.default_month(self.store),
                                 budgets)

    def score(self, call_id: str, name: str, value: float, comment: str | None = None) -> Score:
        """Record a quality score on a recorded call (a reviewer's or an evaluator's
        verdict, like a Langfuse score); audited. ``quality_score`` rules average them."""
        from trimtab.observe import scores

        system = self.call(call_id).system
        return scores.add(self.store, call_id, name, value, comment,
                          actor=self.authorize("score.add", system))

    def scores(self, call_id: str) -> list[Score]:
        from trimtab.observe import scores

        return scores.for_call(self.store, call_id)

    # --- ground truth for classic models (trimtab.quality.labels) ------------

    def label(self, call: str | Mapping[str, Any] | list[tuple[str, Any]], value: Any = None,
              *, system: str | None = None, key: str | None = None,
              since: datetime | None = None, output_field: str | None = None,
              skip_unknown: bool = False, at: datetime | None = None) -> Labelled:
        """Store true labels that arrived after the prediction: ``ws.label(call_id,
        "fraud")``, or many as ``{ref: value}`` / ``[(ref, value), ...]``. A ref is a
        call id, or with ``key=`` the value of that tag on a call of ``system``.
        Labelling a call again keeps the latest label (its revision counts up);
        every label is checked before any is stored; one audit entry per batch.
        ``at`` is when the truth became known (default now), to load history."""
        from trimtab.quality import labels

        if isinstance(call, str):
            if value is None:
                raise TrimtabError("label(): give the true label, e.g. ws.label(call_id, "
                                   "'fraud') or ws.label(call_id, 42.5).")
            if key is None:
                call = self.call(call).id  # a unique prefix is enough for one call
            rows = [labels.LabelRow(call, value, "label()")]
        else:
            pairs = call.items() if isinstance(call, Mapping) else call
            rows = [labels.LabelRow(str(ref), v, f"[{i}]") for i, (ref, v) in enumerate(pairs)]
        return labels.apply(self.store, rows, actor_for=self._labeller, source="label()",
                            system=system, key=key, since=since, output_field=output_field,
                            skip_unknown=skip_unknown, now=at)

    def label_file(self, path: str | Path, *, system: str | None = None, key: str | None = None,
                   id_column: str | None = None, value_column: str = "label",
                   since: datetime | None = None, output_field: str | None = None,
                   skip_unknown: bool = False, at: datetime | None = None) -> Labelled:
        """Labels from a CSV or Parquet file: a column of call ids (``call_id``) or of
        a tag's values (the column named like ``key``), and a ``label`` column."""
        from trimtab.quality import labels

        path = Path(path)
        rows = labels.read_file(path, ref_column=id_column or key or "call_id",
                                value_column=value_column)
        return labels.apply(self.store, rows, actor_for=self._labeller, source=str(path),
                            system=system, key=key, since=since, output_field=output_field,
                            skip_unknown=skip_unknown, now=at)

    def _labeller(self, system: str, envs: set[str]) -> str:
        return self.authorize("label.add", system)

    def label_metrics(self, system: str, *, window: timedelta = timedelta(days=7),
                      env: str | None = None, end: datetime | None = None) -> list[LabelMetrics]:
        """Accuracy, per-class precision/recall/F1, macro-F1, MAE and RMSE of the labels
        that arrived in the window: all releases first, then each release."""
        from trimtab.observe import label_metrics

        return label_metrics.compute(self.store, system, window=window, end=end, env=env)

    def label_of(self, call_id: str) -> Label | None:
        """The current label of a call (None if it has none)."""
        from trimtab.store import labels as label_store

        with self.store.read() as conn:
            return label_store.get(conn, call_store.get(conn, call_id).id)

    # --- alerts ---------------------------------------------------------------

    def check_alerts(self, *, now: datetime | None = None) -> Cycle:
        """Evaluate every alert rule once and send the notifications that are due."""
        from trimtab.observe.monitor import run_cycle

        self.authorize("alerts.evaluate")
        return run_cycle(self.store, self.project, now=now)

    def monitor(self, interval: float | timedelta = 30.0,
                stop_event: threading.Event | None = None, **kwargs) -> None:
        """Evaluate and notify every ``interval`` until ``stop_event`` is set."""
        from trimtab.observe.monitor import run_monitor

        run_monitor(self.store, lambda: self.project, interval, stop_event,
                    chores=self.run_scheduled, **kwargs)

    def alert_states(self) -> list[AlertState]:
        """The current state of every (rule, system, env) evaluated so far."""
        from trimtab.store import alerts as alert_store

        with self.store.read() as conn:
            return list(alert_store.states(conn).values())

    def alert_events(self, *, rule: str | None = None, system: str | None = None,
                     since: datetime | None = None, limit: int | None = 50) -> list[AlertEvent]:
        """Firing and resolved events, newest first."""
        from trimtab.store import alerts as alert_store

        with self.store.read() as conn:
            return alert_store.events(conn, rule=rule, system=system, since=since, limit=limit)

    def alert_deliveries(self, event_ids: list[int]) -> dict[int, list[Delivery]]:
        from trimtab.store import alerts as alert_store

        with self.store.read() as conn:
            return alert_store.deliveries(conn, event_ids)

    def test_channel(self, name: str) -> Outcome:
        """Send a test message through a channel now; the outcome says whether it went."""
        from trimtab.observe import channels

        return channels.send_test(self.project, name)

    # --- gateway keys -------------------------------------------------------

    def create_key(self, name: str, *, env: str | list[str], systems: list[str] | None = None,
                   tags: dict[str, str] | None = None,
                   any_env: bool = False) -> tuple[ApiKey, str]:
        """A virtual key for one application; the returned text is shown once.

        It may call only the environments in ``env`` (the first is its default),
        unless ``any_env``: then ``X-Trimtab-Env`` may name any of them."""
        envs = [env] if isinstance(env, str) else list(dict.fromkeys(env))
        if not envs:
            raise TrimtabError("a key needs an environment. Fix: --env ENV.")
        for one in envs:
            self.project.check_env(one)
        for system in systems or []:
            self.project.system(system)
        actor = self.authorize("key.manage")
        with self.store.write() as conn:
            return key_store.create(
                conn, name=name, default_env=envs[0], systems=systems or None, tags=tags or {},
                actor=actor, envs=None if any_env else envs,
            )

    def keys(self) -> list[ApiKey]:
        with self.store.read() as conn:
            return key_store.list_all(conn)

    def revoke_key(self, key_id: str) -> ApiKey:
        actor = self.authorize("key.manage")
        with self.store.write() as conn:
            return key_store.revoke(conn, key_id, actor=actor)

    def authenticate(self, presented: str) -> ApiKey | None:
        with self.store.read() as conn:
            return key_store.authenticate(conn, presented)

    # --- identities, roles, tokens (trimtab.govern) ----------------------------

    def authorize(self, action: str, system: str | None = None) -> str:
        """Who is acting, when they may do ``action`` (see trimtab.govern.roles);
        PermissionDenied, audited, when they may not."""
        from trimtab.govern.roles import authorize

        return authorize(self.store, self._project_or_none(), action, system=system,
                         token=self.token)

    def whoami(self) -> tuple[str, str | None, bool]:
        """(name, project-wide role or None, single-user mode)."""
        from trimtab.govern.roles import whoami

        return whoami(self.store, self._project_or_none(), token=self.token)

    def add_user(self, name: str, role: str, *, system: str | None = None) -> User:
        return _identities().add_user(self.store, self._project_or_none(), name, role,
                                      system=system, token=self.token)

    def users(self) -> list[User]:
        return _identities().users(self.store, self._project_or_none())

    def grant(self, name: str, role: str, *, system: str | None = None) -> Grant:
        return _identities().grant(self.store, self._project_or_none(), name, role,
                                   system=system, token=self.token)

    def revoke(self, name: str, role: str, *, system: str | None = None) -> Grant:
        return _identities().revoke(self.store, self._project_or_none(), name, role,
                                    system=system, token=self.token)

    def remove_user(self, name: str) -> Identity:
        return _identities().remove_user(self.store, self._project_or_none(), name,
                                         token=self.token)

    def create_token(self, *, user: str | None = None, name: str = "cli",
                     expires: timedelta | None = None) -> tuple[Token, str]:
        """An API token (for ``user``, default oneself); the text is shown once."""
        return _identities().create_token(self.store, self._project_or_none(), user=user,
                                          label=name, expires=expires, token=self.token)

    def authenticate_token(self, presented: str) -> Token | None:
        """The live API token ``presented`` is (its owner acts), or None."""
        from trimtab.store import identities as identity_store

        with self.store.read() as conn:
            return identity_store.authenticate(conn, presented, datetime.now(UTC))

    def tokens(self, user: str | None = None) -> list[Token]:
        return _identities().tokens(self.store, user)

    def revoke_token(self, token_id: str) -> Token:
        return _identities().revoke_token(self.store, self._project_or_none(), token_id,
                                          token=self.token)

    # --- browser sessions (the dashboard's sign-in) ------------------------------

    def start_session(self, kind: str, subject: str, name: str,
                      lifetime: timedelta) -> str:
        """A browser session for an authenticated token (``u``) or key (``k``); its
        secret, which the signed cookie carries."""
        from trimtab.store import sessions

        now = datetime.now(UTC)
        with self.store.write() as conn:
            return sessions.start(conn, kind=kind, subject=subject, name=name, now=now,
                                  expires_at=now + lifetime)

    def session(self, secret: str) -> Session | None:
        """The live browser session ``secret`` names (not signed out, not expired)."""
        from trimtab.store import sessions

        with self.store.read() as conn:
            return sessions.live(conn, secret, datetime.now(UTC))

    def end_session(self, secret: str) -> bool:
        """Sign-out: the session is refused from now on, by every worker."""
        from trimtab.store import sessions

        with self.store.write() as conn:
            return sessions.end(conn, secret, datetime.now(UTC))

    # --- audit --------------------------------------------------------------

    def audit_log(self, *, system: str | None = None, since: datetime | None = None,
                  action: str | None = None, limit: int | None = None) -> list[AuditEntry]:
        with self.store.read() as conn:
            return audit_store.entries(conn, system=system, since=since, action=action, limit=limit)

    def verify_audit(self, *, checkpoints: str | None = None,
                     public_key: str | Path | None = None) -> ChainReport:
        """The chain's own verdict; with ``checkpoints`` (a file or fsspec URL of
        signed checkpoints) truncation and rewrites before the newest one show too."""
        if checkpoints is None:
            with self.store.read() as conn:
                return audit_store.verify(conn)
        from trimtab.govern import checkpoints as audit_checkpoints  # cryptography on demand

        return audit_checkpoints.verify(self.store, self._project_or_none(),
                                        checkpoints=checkpoints, public_key=public_key)

    def checkpoint_audit(self, *, to: str | None = None,
                         key: str | Path | None = None) -> Checkpoint:
        """Sign the audit chain's head and append it outside the store."""
        from trimtab.govern import checkpoints as audit_checkpoints

        self.authorize("audit.checkpoint")
        return audit_checkpoints.checkpoint(self.store, self._project_or_none(), to=to, key=key)

    def database_roles(self, *, prefix: str = "trimtab", owners: list[str] = (),
                       writers: list[str] = (), readers: list[str] = ()) -> RolePlan:
        """PostgreSQL roles so ordinary connections cannot rewrite history (admin)."""
        from trimtab.govern.database_roles import create_roles
        from trimtab.store.privileges import require_postgresql

        require_postgresql(self.store.dialect)
        return create_roles(self.store, actor=self.authorize("db.roles"), prefix=prefix,
                            owners=owners, writers=writers, readers=readers)

    def checkpoint_location(self, explicit: str | None = None) -> str:
        from trimtab.govern import checkpoints as audit_checkpoints

        return audit_checkpoints.location(self._project_or_none(), explicit)

    def run_scheduled(self, now: datetime | None = None) -> None:
        """Housekeeping the monitor does each cycle: sampled scoring of real outputs
        (systems with ``scoring:``, bounded per cycle), a signed audit checkpoint
        when ``audit.checkpoint_every`` is set and the chain moved since the last one,
        and an alert for each incident reporting deadline that came near."""
        if self.project_file is None:
            return
        if any(s.scoring is not None for s in self.project.spec.systems.values()):
            from trimtab.quality import sampling

            sampling.tick_all(self.store, self.project, now=now)
        if self.project.spec.audit.checkpoint_every:
            from trimtab.govern import checkpoints as audit_checkpoints

            audit_checkpoints.scheduled(self.store, self.project, self._schedule, now=now)
        from trimtab.govern import deadline_alerts

        deadline_alerts.raise_due(self.store, self.project, actor=current_actor(), now=now)

    def raise_deadline_alerts(self, *, now: datetime | None = None) -> list[AlertEvent]:
        """An ``incident-deadline`` alert for each reporting deadline within
        ``incidents.warn_before``, once each (the monitor does this every cycle)."""
        from trimtab.govern import deadline_alerts

        return deadline_alerts.raise_due(self.store, self.project, now=now,
                                         actor=self.authorize("alerts.evaluate"))

    def _project_or_none(self) -> Project | None:
        """The project file, or None where there is none (a store-only workspace)."""
        return self.project if self.project_file is not None else None

    def assess(self, system: str, *, now: datetime | None = None,
               save: bool = True) -> Assessment:
        """The system's maturity stage from evidence, with the next smallest steps;
        stored (unless ``save=False``) so the stage has a history."""
        return self._assess(system, now=now, save=save, chain=None)

    def _assess(self, system: str, *, now: datetime | None, save: bool,
                chain: tuple[ChainReport, int] | None) -> Assessment:
        from trimtab.assess import portfolio
        from trimtab.assess.assessment import assess

        assessment = assess(self.store, self.project, system, now=now, chain=chain)
        if save:
            portfolio.save(self.store, assessment, current_actor())
        return assessment

    def assess_all(self, *, now: datetime | None = None, save: bool = True) -> list[Assessment]:
        """Every declared system assessed at one moment, in declaration order. The
        audit chain is the store's, not a system's: it is verified once for all."""
        from trimtab.assess.evidence import verified_chain

        now = now or datetime.now(UTC)
        chain = verified_chain(self.store, self.project)
        return [self._assess(name, now=now, save=save, chain=chain)
                for name in self.project.spec.systems]

    def portfolio(self, *, now: datetime | None = None, save: bool = True) -> list[Ranked]:
        """Every declared system assessed and ranked by gap × impact."""
        from trimtab.assess import portfolio

        now = now or datetime.now(UTC)
        return portfolio.rank(self.store, self.project, self.assess_all(now=now, save=save),
                              now)

    def documents(self, system: str, *, kinds: list[str] | None = None, fmt: str = "md",
                  out: Path | None = None, as_of: datetime | None = None) -> list[Generated]:
        """Write the compliance documents for ``system`` from evidence (default: all
        kinds, Markdown, into docs/compliance/ beside trimtab.yaml) and record each
        one's hash; the same store state and ``as_of`` give the same bytes."""
        from trimtab.assess import documents

        folder = out or (self.project.root / "docs" / "compliance")
        return documents.generate(self.store, self.project, system,
                                  kinds=list(kinds or documents.KINDS), fmt=fmt, out=folder,
                                  as_of=as_of, actor=current_actor())

    def export_evidence(self, system: str, *, since: datetime, out: Path | None = None,
                        progress: Any = None, max_rows: int | None = None) -> EvidenceBundle:
        """An evidence bundle of ``system`` since ``since`` (tables as JSON and CSV,
        the generated documents, a manifest of sha256 hashes); audited."""
        from trimtab.govern import evidence

        actor = self.authorize("evidence.export", system)
        out = out or Path.cwd() / f"evidence-{system}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
        documents = None
        if self.project_file is not None and system in self.project.spec.systems:
            def documents(folder: Path) -> list[Path]:
                return [g.path for g in self.documents(system, out=folder)]
        return evidence.export(self.store, system, since=since, out=out, actor=actor,
                               documents=documents, progress=progress,
                               max_rows=max_rows or evidence.MAX_ROWS)

    @staticmethod
    def verify_evidence(folder: str | Path, *, expect: str | None = None) -> EvidenceVerdict:
        """Every file of a bundle hashed again against its manifest (no store needed)."""
        from trimtab.govern import evidence

        return evidence.verify(Path(folder), expect=expect)

    def document_records(self, system: str) -> list[DocumentRecord]:
        """The compliance documents generated for ``system``, newest first (their hashes)."""
        from trimtab.assess import documents

        return documents.records(self.store, system)

    def assessment_history(self, system: str, limit: int = 50) -> list[StoredAssessment]:
        from trimtab.assess import portfolio

        return portfolio.history(self.store, system, limit)


def _freeze_override(force: bool, reason: str) -> str | None:
    """The reason an admin's ``--force`` gives to pass a freeze, required."""
    if not force:
        return None
    if not reason.strip():
        raise TrimtabError("--force needs --reason \"why\": the override and its reason are "
                           "kept in the audit trail.")
    return reason


def _approvals():
    from trimtab.govern import approvals

    return approvals


def _identities():
    from trimtab.govern import identities

    return identities


def _drift():
    """The drift monitor, or a clear error when its optional dependencies are missing."""
    try:
        from trimtab.observe.drift import monitor
    except ImportError as exc:
        raise TrimtabError(
            f"drift checks need numpy and scipy ({exc.name} is missing). "
            "Fix: pip install 'trimtab[drift]'."
        ) from None
    return monitor


def connect(project: str | Path | None = None, *, database_url: str | None = None) -> Workspace:
    """Find the project (argument, TRIMTAB_PROJECT, or cwd and parents) and its store."""
    if project is not None:
        path = Path(project)
        project_file = path / "trimtab.yaml" if path.is_dir() else path
        if not project_file.is_file():
            raise TrimtabError(
                f"{project_file}: no such project file. "
                "Fix: run `trimtab init` there, or point at the directory holding trimtab.yaml."
            )
    else:
        project_file = find_project_file()
    ws = Workspace(project_file, database_url)
    # --- telemetry: OTLP span export when OTEL_EXPORTER_OTLP_*ENDPOINT is set ---
    from trimtab.telemetry.otel import install_from_env

    install_from_env(ws)
    return ws


_default: Workspace | None = None


def active_release(system: str, env: str) -> Release | None:
    """The release active in ``env``, from the project found from the working directory."""
    global _default
    if _default is None:
        _default = connect()
    return _default.active_release(system, env)


def run_monitor(ws: Workspace, interval: float | timedelta = 30.0,
                stop_event: threading.Event | None = None, **kwargs) -> None:
    """Evaluate ``ws``'s alert rules and notify every ``interval`` until
    ``stop_event`` is set (``on_cycle=`` is called with each cycle); safe in a thread."""
    ws.monitor(interval, stop_event, **kwargs)


def instrument(client: Any, system: str, *, env: str | None = None,
               workspace: Workspace | None = None, tags: dict[str, str] | None = None,
               provider: str | None = None) -> Any:
    """Record an existing OpenAI client's calls under ``system`` (see
    trimtab.sdk.instrument); here so that leaving ``workspace`` out can mean
    the project this process runs in, which only this layer may open."""
    from trimtab.sdk.instrument import instrument as wrap

    return wrap(client, system, env=env, workspace=workspace or connect(), tags=tags,
                provider=provider)
