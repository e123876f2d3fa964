"""Drafts of the reports an incident may owe, filled from evidence, gaps marked.

Four formats, one per report the regimes table's deadlines name:

- ``nis2-early-warning`` (NIS2 Art. 23(4)(a), 24 hours): that a significant
  incident happened, whether unlawful or malicious action is suspected, and
  whether it may reach across borders;
- ``nis2-notification`` (Art. 23(4)(b), 72 hours): the early warning brought
  up to date, with a first assessment of severity and impact and, where there
  are any, indicators of compromise;
- ``nis2-final`` (Art. 23(4)(d), a month after the notification): a detailed
  description with severity and impact, the kind of threat or root cause, the
  mitigation applied and ongoing, and any cross-border impact;
- ``ai-act-serious-incident`` (EU AI Act Art. 73): the provider and the
  high-risk system (release, model), which kind of serious incident it is
  (Art. 3(49)), when it happened and when the provider learned of it, whether
  a causal link with the system is established, who and what was affected,
  where, the corrective action, and that the system was not altered before the
  authority was told (Art. 73(6)) - which a freeze records.

Every field says where its value came from (the incident, its notes, the
project file, deployments, the call log, the audit trail). What the store and
the project file cannot know (the legal entity, a judgement of malice, the
Member States concerned) is never guessed: it is listed as missing, with what
the person filing must add. The result is a draft for a person to complete and
send; trimtab sends nothing to any authority.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from trimtab.errors import TrimtabError
from trimtab.escaping import markdown_text
from trimtab.govern.freeze import hold_before
from trimtab.govern.incidents import deadlines
from trimtab.govern.timeline import active_at
from trimtab.project.models import Project
from trimtab.store import Store
from trimtab.store import audit as audit_store
from trimtab.store import calls as call_store
from trimtab.store import deployments as deployment_store
from trimtab.store import freezes as freeze_store
from trimtab.store import holds as hold_store
from trimtab.store import incidents as incident_store
from trimtab.store import releases as release_store
from trimtab.store import suspensions as suspension_store
from trimtab.store import systems as system_store
from trimtab.store.incidents import Incident

FORMATS = ("nis2-early-warning", "nis2-notification", "nis2-final", "ai-act-serious-incident")
TITLES = {
    "nis2-early-warning": "NIS2 early warning (Directive (EU) 2022/2555, Art. 23(4)(a))",
    "nis2-notification": "NIS2 incident notification (Art. 23(4)(b))",
    "nis2-final": "NIS2 final report (Art. 23(4)(d))",
    "ai-act-serious-incident": "EU AI Act serious incident report (Regulation (EU) 2024/1689, "
                               "Art. 73)",
}
#: Which deadline of the regimes table each report answers (regime id, deadline name).
ANSWERS = {
    "nis2-early-warning": ("NIS2", "early warning"),
    "nis2-notification": ("NIS2", "incident notification"),
    "nis2-final": ("NIS2", "final report"),
    "ai-act-serious-incident": ("EU AI Act", "serious incident report"),
}
#: The Art. 3(49) kind each AI Act category establishes; the rest is for a person to say.
ART_3_49 = {
    "ai-act-death": "(a) death of a person, or serious harm to a person's health",
    "ai-act-critical-infrastructure": "(b) serious and irreversible disruption of the "
                                      "management or operation of critical infrastructure",
}


@dataclass(frozen=True)
class Field:
    section: str
    name: str
    value: Any  # None: missing
    source: str  # where the value came from; for a gap, what the filer must add

    @property
    def missing(self) -> bool:
        return self.value is None or self.value == [] or self.value == ""

    def to_dict(self) -> dict[str, Any]:
        value = self.value.isoformat() if isinstance(self.value, datetime) else self.value
        return {"section": self.section, "field": self.name, "value": value,
                "missing": self.missing, "source": self.source}


@dataclass(frozen=True)
class Report:
    format: str
    title: str
    incident: str
    system: str
    generated_at: datetime
    deadline: dict[str, Any] | None
    fields: list[Field]

    @property
    def gaps(self) -> list[Field]:
        return [f for f in self.fields if f.missing]

    def to_dict(self) -> dict[str, Any]:
        return {"format": self.format, "title": self.title, "incident": self.incident,
                "system": self.system, "generated_at": self.generated_at.isoformat(),
                "deadline": self.deadline, "fields": [f.to_dict() for f in self.fields],
                "gaps": [f"{f.section}: {f.name}" for f in self.gaps]}

    def markdown(self) -> str:
        lines = [f"# {self.title}", "",
                 f"DRAFT for incident {self.incident} ({self.system}), generated "
                 f"{self.generated_at:%Y-%m-%d %H:%M} UTC by trimtab from recorded evidence. "
                 "Check every value and complete each MISSING field before it is sent; "
                 "trimtab sends nothing.", ""]
        if self.deadline:
            due = datetime.fromisoformat(self.deadline["due"])
            lines += [f"Due: {due:%Y-%m-%d %H:%M} UTC ({self.deadline['regime']}: "
                      f"{self.deadline['name']})", ""]
        section = None
        for f in self.fields:
            if f.section != section:
                lines += [""] if section is not None else []
                section = f.section
                lines += [f"## {section}", ""]
            if f.missing:
                lines.append(f"- **{f.name}**: **MISSING** - {f.source}")
            else:
                lines.append(f"- **{f.name}**: {_text(f.value)}  _(source: {f.source})_")
        lines += ["", f"## Gaps ({len(self.gaps)})", ""]
        lines += [f"- {f.section}: {f.name}" for f in self.gaps] or ["- none"]
        return "\n".join(lines) + "\n"


#: A report is a legal draft: a note or a summary is shown whole, never cut.
_WHOLE = 1_000_000


def _text(value: Any) -> str:
    """A field's value as Markdown. Summaries, notes, reasons and names were typed by
    people or recorded from calls: they stay text (trimtab.escaping), on one line."""
    if isinstance(value, list):
        return "".join(f"\n  - {_text(v)}" for v in value)
    if isinstance(value, dict):
        return markdown_text(", ".join(f"{k}: {v}" for k, v in value.items()), _WHOLE)
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M} UTC"
    return markdown_text(value, _WHOLE)


@dataclass(frozen=True)
class Evidence:
    """What the store holds about an incident, read once for every format."""

    incident: Incident
    project: Project | None
    window: tuple[datetime, datetime]
    counts: call_store.WindowCounts
    active: dict[str, str | None]  # env -> release id at awareness
    models: list[str]
    changes_after: list[str]  # deployments, suspensions after awareness
    freezes: list[freeze_store.Freeze]
    overrides: int
    holds: list[hold_store.Hold]


def evidence(store: Store, project: Project | None, incident: Incident,
             now: datetime) -> Evidence:
    holds_before = hold_before(project)
    with store.read() as conn:
        holds = hold_store.list_all(conn, incident_id=incident.id, include_released=True)
        start = min([h.since for h in holds], default=incident.aware_at - holds_before)
        end = incident.closed_at or now
        counts = call_store.window_counts(conn, incident.system, start, end)
        try:
            stored = system_store.get(conn, incident.system)
        except TrimtabError:
            stored = None
        history = deployment_store.history(conn, stored.id) if stored else []
        envs = sorted({d.env for d in history})
        active = {env: active_at(conn, history, env, incident.aware_at).release for env in envs}
        models = sorted({m for rid in set(active.values()) if rid
                         for m in _models(release_store.resolve(conn, rid).spec)})
        changes = [f"{d.created_at:%Y-%m-%d %H:%M} {d.action} {d.release_id[:12]} in {d.env} "
                   f"by {d.actor}" + (f": {d.reason}" if d.reason else "")
                   for d in history if incident.aware_at <= d.created_at <= end]
        trail = audit_store.entries(conn, system=incident.system, since=incident.aware_at)
        changes += [f"{e.time:%Y-%m-%d %H:%M} {e.action} by {e.actor}" for e in trail
                    if e.action in ("system.suspend", "system.resume") and e.time <= end]
        current = [s for s in suspension_store.all_current(conn) if s.system == incident.system]
        changes += [f"suspended in {s.env} since {s.time:%Y-%m-%d %H:%M}" for s in current]
        freezes = freeze_store.of_incident(conn, incident.id)
        overrides = sum(1 for e in trail if e.action == "freeze.override")
    return Evidence(incident=incident, project=project, window=(start, end), counts=counts,
                    active=active, models=models, changes_after=changes, freezes=freezes,
                    overrides=overrides, holds=holds)


def _models(spec: dict[str, Any]) -> list[str]:
    """Every model a release names (its primary and fallbacks), whatever the spec's shape."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "model" and isinstance(value, str):
                    found.append(value)
                elif key != "prompts":
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(spec)
    return found


def _common(ev: Evidence) -> list[Field]:
    i = ev.incident
    spec = None
    if ev.project is not None and i.system in ev.project.spec.systems:
        spec = ev.project.spec.systems[i.system]
    start, end = ev.window
    c = ev.counts
    return [
        Field("Reporting entity", "Entity (legal name, sector, Member State of establishment)",
              None, "not in trimtab: add your organisation's registered details"),
        Field("Reporting entity", "Contact for this report", None,
              "add the person the authority or CSIRT should reach"),
        Field("Reporting entity", "Project", ev.project.spec.project if ev.project else None,
              "trimtab.yaml `project`" if ev.project else "no project file was loaded"),
        Field("Affected service", "System", i.system, "incident record"),
        Field("Affected service", "Description", spec.description if spec else None,
              "trimtab.yaml systems.NAME.description" if spec else
              "the system is not declared in trimtab.yaml"),
        Field("Affected service", "Owner", spec.owner if spec else None,
              "trimtab.yaml systems.NAME.owner" if spec else "declare the system's owner"),
        Field("Incident", "Summary", i.summary, "incident record (trimtab incident open)"),
        Field("Incident", "Severity (team's rating)", i.severity, "incident record"),
        Field("Incident", "Reporting categories", i.categories or None,
              "incident record (--category)" if i.categories else
              "no category was recorded: state which regime applies"),
        Field("Incident", "Became aware", i.aware_at, "incident record (--aware-at)"),
        Field("Incident", "Status", "closed" if i.closed_at else "ongoing",
              "incident record"),
        Field("Impact (call log)", "Evidence window", f"{start:%Y-%m-%d %H:%M} to "
              f"{end:%Y-%m-%d %H:%M} UTC", "the incident's legal hold, else "
              "incidents.hold_before before awareness, up to the close or now"),
        Field("Impact (call log)", "Calls in the window", c.calls, "call log"),
        Field("Impact (call log)", "Failed calls in the window", c.errors, "call log (status)"),
        Field("Impact (call log)", "Distinct user ids in the window", c.users,
              "call log (user_id; calls without one are not counted)"),
        Field("Impact (call log)", "Calls per release",
              {(k[:12] or "unknown"): v for k, v in c.by_release.items()} or None,
              "call log" if c.by_release else "no calls recorded in the window"),
    ]


def _nis2_early(ev: Evidence) -> list[Field]:
    return [
        Field("Early warning", "Suspected unlawful or malicious act", None,
              "a judgement for the team: yes, no or unknown, and why"),
        Field("Early warning", "Possible cross-border impact", None,
              "a judgement for the team: which other Member States may be affected"),
    ]


def _nis2_notification(ev: Evidence) -> list[Field]:
    i = ev.incident
    return _nis2_early(ev) + [
        Field("Initial assessment", "Severity and impact", _impact(ev),
              "incident severity and the call log's counts"),
        Field("Initial assessment", "Indicators of compromise", None,
              "where there are any (addresses, hashes, accounts); trimtab records none"),
        Field("Initial assessment", "Actions so far",
              [f"{n.time:%Y-%m-%d %H:%M} {n.text} ({n.actor})" for n in i.notes]
              + ev.changes_after + _frozen(ev) or None,
              "incident notes, deployments, suspensions and freezes since awareness"),
    ]


def _nis2_final(ev: Evidence) -> list[Field]:
    i = ev.incident
    return [
        Field("Description", "Detailed description", [i.summary] + [
            f"{n.time:%Y-%m-%d %H:%M} {n.text}" for n in i.notes],
            "incident summary and timeline notes"),
        Field("Description", "Severity and impact", _impact(ev),
              "incident severity and the call log's counts"),
        Field("Description", "Incident handled (closed)", i.closed_at,
              "incident close" if i.closed_at else
              "still open: NIS2 then asks for a progress report, and the final one a month "
              "after handling ends"),
        Field("Cause", "Type of threat or root cause", i.root_cause,
              "incident close (--root-cause)" if i.root_cause else
              "close the incident with --root-cause, or state the cause found so far"),
        Field("Mitigation", "Measures applied", (
            [i.actions] if i.actions else []) + ev.changes_after + _frozen(ev) or None,
              "incident close (--actions), deployments, suspensions, freezes"),
        Field("Mitigation", "Measures ongoing", None,
              "what is still being done; trimtab cannot tell"),
        Field("Cross-border", "Cross-border impact", None,
              "which other Member States were affected, if any"),
    ]


def _ai_act(ev: Evidence) -> list[Field]:
    i = ev.incident
    spec = None
    if ev.project is not None and i.system in ev.project.spec.systems:
        spec = ev.project.spec.systems[i.system]
    compliance = spec.compliance if spec else None
    kinds = [ART_3_49[c] for c in i.categories if c in ART_3_49]
    widespread = "ai-act-widespread" in i.categories
    return [
        Field("Provider", "Role of the reporting organisation",
              compliance.role if compliance and compliance.role else None,
              "trimtab.yaml systems.NAME.compliance.role" if compliance and compliance.role
              else "set compliance.role (provider or deployer); Art. 73 binds providers, "
                   "deployers inform them"),
        Field("AI system", "Risk level", spec.risk if spec else None,
              "trimtab.yaml systems.NAME.risk" if spec else "declare the system"),
        Field("AI system", "Intended purpose",
              compliance.intended_purpose if compliance else None,
              "trimtab.yaml compliance.intended_purpose" if compliance and
              compliance.intended_purpose else "set compliance.intended_purpose"),
        Field("AI system", "EU database registration number", None,
              "the number from the EU database for high-risk systems (Art. 71)"),
        Field("AI system", "Release active when the team became aware",
              {env: (rid[:12] if rid else "none") for env, rid in ev.active.items()} or None,
              "deployment history" if ev.active else "no deployment recorded"),
        Field("AI system", "Models used by those releases", ev.models or None,
              "release specs" if ev.models else "no release was active"),
        Field("Serious incident", "Kind (Art. 3(49))", kinds or None,
              "incident categories" if kinds else
              "say which of Art. 3(49)(a)-(d) applies: harm to health, critical "
              "infrastructure, fundamental-rights obligations, property or environment"),
        Field("Serious incident", "Widespread infringement (Art. 3(61))",
              "yes" if widespread else None,
              "incident category ai-act-widespread" if widespread else
              "state whether it is widespread (it shortens the deadline to 2 days)"),
        Field("Serious incident", "When it occurred", None,
              "the moment of occurrence; trimtab records only when the team became aware"),
        Field("Serious incident", "Causal link with the AI system", i.root_cause,
              "incident close (--root-cause)" if i.root_cause else
              "established, likely or under investigation, and why"),
        Field("Serious incident", "Persons or property affected", None,
              "who was harmed and how; the call log's counts are above, not a count of harm"),
        Field("Serious incident", "Member States where it occurred", None,
              "where the incident occurred (the report goes to their authorities)"),
        Field("Response", "Corrective action", ([i.actions] if i.actions else [])
              + ev.changes_after or None,
              "incident close (--actions), deployments and suspensions since awareness"),
        Field("Response", "System not altered before informing the authority (Art. 73(6))",
              _frozen(ev) or None,
              "freeze records" if ev.freezes else
              "no freeze recorded: freeze it (trimtab incident freeze) or explain why changes "
              "could not affect the investigation"),
        Field("Response", "Evidence kept (legal hold)",
              [f"hold {h.id}: calls from {h.since:%Y-%m-%d %H:%M} to "
               f"{h.until:%Y-%m-%d %H:%M} UTC" if h.until else
               f"hold {h.id}: calls from {h.since:%Y-%m-%d %H:%M} UTC, open"
               for h in ev.holds] or None,
              "legal holds" if ev.holds else "no legal hold recorded"),
    ]


def _impact(ev: Evidence) -> str:
    c = ev.counts
    share = f" ({c.errors / c.calls:.1%})" if c.calls else ""
    return (f"rated {ev.incident.severity}; {c.calls} calls in the evidence window, "
            f"{c.errors} failed{share}, {c.users} distinct user ids")


def _frozen(ev: Evidence) -> list[str]:
    found = []
    for f in ev.freezes:
        pinned = ", ".join(f"{e}={r[:12]}" for e, r in sorted(f.pinned.items())) or "none"
        lifted = (f", lifted {f.lifted_at:%Y-%m-%d %H:%M} by {f.lifted_by}" if f.lifted_at
                  else ", still frozen")
        found.append(f"frozen {f.frozen_at:%Y-%m-%d %H:%M} UTC (pinned: {pinned}){lifted}")
    if ev.freezes:
        found.append(f"{ev.overrides} admin override(s) of the freeze")
    return found


BUILDERS = {
    "nis2-early-warning": _nis2_early,
    "nis2-notification": _nis2_notification,
    "nis2-final": _nis2_final,
    "ai-act-serious-incident": _ai_act,
}


def draft(store: Store, project: Project | None, ref: str, fmt: str, *,
          now: datetime | None = None) -> Report:
    if fmt not in FORMATS:
        raise TrimtabError(f"--format {fmt!r}: use one of {', '.join(FORMATS)}.")
    now = now or datetime.now(UTC)
    with store.read() as conn:
        incident = incident_store.get(conn, ref)
    ev = evidence(store, project, incident, now)
    regime, name = ANSWERS[fmt]
    due = [d for d in deadlines(incident) if d.regime.startswith(regime) and d.name == name]
    return Report(format=fmt, title=TITLES[fmt], incident=incident.id, system=incident.system,
                  generated_at=now, deadline=due[0].to_dict() if due else None,
                  fields=_common(ev) + BUILDERS[fmt](ev))

