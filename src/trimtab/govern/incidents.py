"""Incidents and their regulatory deadlines (NIS2, the EU AI Act and GDPR run in parallel).

An incident records when the team became aware and which categories apply
(an AI Act serious incident, a NIS2 significant incident, a personal-data
breach, ...). Every deadline of every regime whose category applies is
computed from the regimes table shipped in the package (regimes.yaml): data,
versioned, because the dates move; never code.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from trimtab.errors import TrimtabError
from trimtab.govern import freeze as freezing
from trimtab.project.models import Project
from trimtab.store import Store
from trimtab.store import incidents as incident_store
from trimtab.store.incidents import Incident

REGIMES_FILE = Path(__file__).with_name("regimes.yaml")
SEVERITIES = ("low", "medium", "high", "critical")
_SPAN = re.compile(r"^(\d+)\s*(h|d|mo)$")


@dataclass(frozen=True)
class Deadline:
    incident: str
    system: str
    regime: str
    name: str
    due: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"incident": self.incident, "system": self.system, "regime": self.regime,
                "name": self.name, "due": self.due.isoformat()}


@lru_cache(maxsize=4)
def regimes(path: Path = REGIMES_FILE) -> dict[str, Any]:
    """The regimes table: {"version", "regimes": [{id, name, categories, deadlines}]}."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def known_categories() -> list[str]:
    return sorted({c for r in regimes()["regimes"] for c in r["categories"]})


def _add(moment: datetime, span: str) -> datetime:
    match = _SPAN.match(span.strip())
    if not match:
        raise ValueError(f"{span!r} is not a span (h, d or mo)")
    amount, unit = int(match.group(1)), match.group(2)
    if unit == "h":
        return moment + timedelta(hours=amount)
    if unit == "d":
        return moment + timedelta(days=amount)
    month = moment.month - 1 + amount  # calendar months, clamped to the month's last day
    year, month = moment.year + month // 12, month % 12 + 1
    return moment.replace(year=year, month=month,
                          day=min(moment.day, calendar.monthrange(year, month)[1]))


def deadlines(incident: Incident, table: dict[str, Any] | None = None) -> list[Deadline]:
    """Every deadline that applies to ``incident``, soonest first."""
    found = []
    for regime in (table or regimes())["regimes"]:
        if not set(regime["categories"]) & set(incident.categories):
            continue
        done: dict[str, datetime] = {"aware": incident.aware_at}
        for step in regime["deadlines"]:
            due = _add(done[step["from"]], step["after"])
            done[step["name"]] = due
            found.append(Deadline(incident.id, incident.system, regime["name"], step["name"],
                                  due))
    return sorted(found, key=lambda d: d.due)


def open_incident(store: Store, project: Project, system: str, *, severity: str,
                  summary: str, categories: list[str], aware_at: datetime | None,
                  actor: str, freeze: bool | None = None,
                  hold_since: datetime | None = None) -> Incident:
    """Record an incident. A serious one (a reporting category, or critical)
    freezes its system and holds its calls in the same transaction, unless
    ``freeze=False``; ``freeze=True`` freezes any (govern/freeze.py)."""
    project.system(system)
    if severity not in SEVERITIES:
        raise TrimtabError(f"--severity {severity!r}: use one of {', '.join(SEVERITIES)}.")
    known = known_categories()
    unknown = [c for c in categories if c not in known]
    if unknown:
        raise TrimtabError(f"unknown incident category {unknown[0]!r}. Fix: use one of "
                           f"{', '.join(known)}.")
    if not summary.strip():
        raise TrimtabError("an incident needs --summary: what happened, in a sentence.")
    now = datetime.now(UTC)
    aware = aware_at or now
    if aware > now + timedelta(minutes=5):
        raise TrimtabError("--aware-at is in the future. Fix: give when the team became aware.")
    if hold_since is not None and hold_since > aware:
        raise TrimtabError("--hold-since is after --aware-at: the hold must cover the calls "
                           "before the team became aware. Fix: give an earlier time.")
    with store.write() as conn:
        made = incident_store.open_(conn, system=system, severity=severity, summary=summary,
                                    categories=categories, aware_at=aware, actor=actor)
        if freeze if freeze is not None else freezing.serious(made):
            since = hold_since or aware - freezing.hold_before(project)
            freezing.freeze_in(conn, made, since=since, actor=actor)
        return made


def note(store: Store, ref: str, text: str, *, actor: str) -> Incident:
    if not text.strip():
        raise TrimtabError("a timeline note needs text.")
    with store.write() as conn:
        return incident_store.note(conn, incident_store.get(conn, ref), text, actor=actor)


def close(store: Store, ref: str, *, root_cause: str, actions: str, actor: str) -> Incident:
    if not root_cause.strip() or not actions.strip():
        raise TrimtabError("closing an incident needs --root-cause and --actions.")
    with store.write() as conn:
        found = incident_store.get(conn, ref)
        if found.closed_at is None:
            freezing.before_close(conn, found, actor=actor)
        return incident_store.close(conn, found, root_cause=root_cause, actions=actions,
                                    actor=actor)


def incidents(store: Store, *, include_closed: bool = False,
              system: str | None = None) -> list[Incident]:
    with store.read() as conn:
        return incident_store.list_all(conn, include_closed=include_closed, system=system)


def due(store: Store, *, system: str | None = None) -> list[Deadline]:
    """Every deadline of every open incident, soonest first."""
    return sorted((d for i in incidents(store, system=system) for d in deadlines(i)),
                  key=lambda d: d.due)
