"""The Workspace's methods for governance: the kill switch, incidents with their freezes
and legal holds, drills, independent reviews, reports and timelines, the audit chain and
its checkpoints, evidence bundles and erasure.

A mixin of trimtab.workspace.Workspace, which gives the ``store``, ``project``,
``authorize`` and the other parts these methods use; each hands them to the
package that does the work.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trimtab.actor import current_actor

if TYPE_CHECKING:
    from trimtab.govern.checkpoints import Checkpoint
    from trimtab.govern.evidence import EvidenceBundle, EvidenceVerdict
    from trimtab.govern.incidents import Deadline
    from trimtab.govern.reports import Report
    from trimtab.govern.timeline import Timeline
    from trimtab.store.alerts import AlertEvent
    from trimtab.store.assurance import Finding, IndependentReview
    from trimtab.store.audit import AuditEntry, ChainReport
    from trimtab.store.drills import Drill
    from trimtab.store.erasure import Erasure
    from trimtab.store.freezes import Freeze
    from trimtab.store.holds import Hold
    from trimtab.store.incidents import Incident
    from trimtab.store.privileges import RolePlan
    from trimtab.store.suspensions import Suspension


class GovernMethods:
    """Governance: mixed into Workspace."""

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

    def audit_log(self, *, system: str | None = None, since: datetime | None = None,
                  action: str | None = None, limit: int | None = None) -> list[AuditEntry]:
        from trimtab.store import audit as audit_store

        with self.store.read() as conn:
            return audit_store.entries(conn, system=system, since=since, action=action, limit=limit)

    def verify_audit(self, *, checkpoints: str | None = None,
                     public_key: str | Path | None = None) -> ChainReport:
        """The chain's own verdict; with ``checkpoints`` (a file or fsspec URL of
        signed checkpoints) truncation and rewrites before the newest one show too."""
        from trimtab.store import audit as audit_store

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

    def raise_deadline_alerts(self, *, now: datetime | None = None) -> list[AlertEvent]:
        """An ``incident-deadline`` alert for each reporting deadline within
        ``incidents.warn_before``, once each (the monitor does this every cycle)."""
        from trimtab.govern import deadline_alerts

        return deadline_alerts.raise_due(self.store, self.project, now=now,
                                         actor=self.authorize("alerts.evaluate"))

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
                               max_rows=evidence.MAX_ROWS if max_rows is None else max_rows)

    @staticmethod
    def verify_evidence(folder: str | Path, *, expect: str | None = None) -> EvidenceVerdict:
        """Every file of a bundle hashed again against its manifest (no store needed)."""
        from trimtab.govern import evidence

        return evidence.verify(Path(folder), expect=expect)

