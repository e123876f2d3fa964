"""Erasure of one person's calls (GDPR Art. 17), leaving the audit chain intact.

A person's calls are found by the user id they were recorded with
(``calls.user_id``, set by ``user=`` in the SDK, the gateway's ``user`` field
or ``record()``). Erasing deletes those calls, every row about them in a
table with a ``call_id`` column (scores, reviews, review sample items, labels:
whatever names the call), and renames the person in the per-user cost rollups
to a pseudonym (``erased-<erasure id>``), so totals and metrics stay right but
name no one. The same id where it names a person outside the call log (the
reviewer of other calls' reviews, an independent reviewer, who closed a finding
or made a drift baseline, a category or token a drift baseline's profile kept)
becomes the pseudonym too: those records stay, naming no one. The erasure
itself is one audit entry holding a reference (the request's id in the team's
register, the counts, who and when), never the user id: audit entries cannot
be edited without breaking the chain, so they must not hold personal data in
the first place.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Connection, delete, func, select, update

from trimtab.store import audit
from trimtab.store.schema import metadata
from trimtab.store.schema.call_log import calls, rollups
from trimtab.store.schema.governance import assurance_findings, assurance_reviews
from trimtab.store.schema.monitoring import drift_baselines, drift_results
from trimtab.store.schema.quality import call_flags, labels, reviews, scores

#: Where a record of judging or measuring the calls names a person ("table.column"):
#: reviews, scores, flags and labels they gave on other people's calls, independent
#: reviews, drift baselines and checks. Records of changes (releases, deployments,
#: approvals, incidents, freezes, holds, drills, identities) keep their names, as the
#: audit trail does: who changed what is what accountability needs.
NAME_COLUMNS = {
    "reviews.reviewer": reviews.c.reviewer,
    "scores.actor": scores.c.actor,
    "call_flags.actor": call_flags.c.actor,
    "labels.actor": labels.c.actor,
    "assurance_reviews.reviewer": assurance_reviews.c.reviewer,
    "assurance_reviews.actor": assurance_reviews.c.actor,
    "assurance_findings.closed_by": assurance_findings.c.closed_by,
    "drift_baselines.created_by": drift_baselines.c.created_by,
    "drift_results.actor": drift_results.c.actor,
}

#: Ids per statement: far below every database's bound-parameter limit.
CHUNK = 500


@dataclass(frozen=True)
class Erasure:
    """What an erasure removed (or, in a dry run, would)."""

    id: str
    request: str
    calls: int
    by_system: dict[str, int]
    related: dict[str, int]  # table -> rows deleted that named an erased call
    rollups: int  # per-user rollup rows renamed to the pseudonym
    names: dict[str, int]  # "table.column" (or drift_baselines.profile) -> rows renamed
    held: int  # calls a legal hold kept (not erased)
    hold_overridden: int  # held calls erased anyway, on an explicit override
    dry_run: bool
    reason: str = ""
    systems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _call_tables() -> list:
    """Every table but the call log whose rows are about one call (a ``call_id`` column),
    children before the tables they reference, so deleting never trips a foreign key."""
    return [t for t in reversed(metadata.sorted_tables) if "call_id" in t.c and t is not calls]


def _chunks(ids: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


def _subject(user_id: str, systems: list[str] | None) -> list[ColumnElement[bool]]:
    where = [calls.c.user_id == user_id]
    if systems:
        where.append(calls.c.system.in_(systems))
    return where


def _count(conn: Connection, query) -> int:
    return conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()


def held_calls(conn: Connection, user_id: str, held: ColumnElement[bool],
               systems: list[str] | None = None) -> int:
    """How many of ``user_id``'s calls (in ``systems``) a legal hold covers."""
    return _count(conn, select(calls.c.id).where(*_subject(user_id, systems), held))


def _renamed(value: Any, name: str, pseudonym: str) -> Any:
    """``value`` (parsed JSON) with every string equal to ``name`` (a value or a key)
    replaced by ``pseudonym``."""
    if isinstance(value, str):
        return pseudonym if value == name else value
    if isinstance(value, list):
        return [_renamed(v, name, pseudonym) for v in value]
    if isinstance(value, dict):
        return {(pseudonym if k == name else k): _renamed(v, name, pseudonym)
                for k, v in value.items()}
    return value


def _profiles_naming(conn: Connection, name: str,
                     pseudonym: str) -> list[tuple[str, dict[str, str]]]:
    """Drift baselines whose profile or extraction plan keeps ``name`` as a value
    (a category's count, a vocabulary token): (id, the columns rewritten)."""
    forms = {name, json.dumps(name)[1:-1]}  # as stored, raw or \u-escaped
    found = []
    for row in conn.execute(select(drift_baselines.c.id, drift_baselines.c.profile,
                                   drift_baselines.c.extraction)):
        changed = {}
        for column in ("profile", "extraction"):
            text = getattr(row, column)
            if any(form in text for form in forms):
                before = json.loads(text)
                after = _renamed(before, name, pseudonym)
                if after != before:
                    changed[column] = json.dumps(after, separators=(",", ":"),
                                                 ensure_ascii=False)
        if changed:
            found.append((row.id, changed))
    return found


def pseudonymise_names(conn: Connection, name: str, pseudonym: str, *,
                       dry_run: bool = False) -> dict[str, int]:
    """Rename the person ``name`` to ``pseudonym`` wherever a record outside the call
    log names them (NAME_COLUMNS and drift profiles); rows per place (would be)."""
    counts: dict[str, int] = {}
    for place, column in NAME_COLUMNS.items():
        if dry_run:
            counts[place] = _count(conn, select(column).where(column == name))
        else:
            counts[place] = conn.execute(update(column.table).where(column == name)
                                         .values({column.name: pseudonym})).rowcount
    profiles = _profiles_naming(conn, name, pseudonym)
    if not dry_run:
        for baseline_id, values in profiles:
            conn.execute(update(drift_baselines).where(drift_baselines.c.id == baseline_id)
                         .values(values))
    counts["drift_baselines.profile"] = len(profiles)
    return {k: v for k, v in counts.items() if v}


def erase_user(conn: Connection, user_id: str, *, erasure_id: str, request: str, actor: str,
               reason: str = "", systems: list[str] | None = None,
               held: ColumnElement[bool] | None = None, include_held: bool = False,
               dry_run: bool = False) -> Erasure:
    """Erase ``user_id``'s calls (only in ``systems`` when given). ``held`` is the
    SQL condition of calls under a legal hold: they are kept unless
    ``include_held`` (an override the caller has justified). Audited as
    ``calls.erase`` unless a dry run."""
    where = _subject(user_id, systems)
    kept = held_calls(conn, user_id, held, systems) if held is not None else 0
    if held is not None and not include_held:
        where.append(~held)
    found = conn.execute(select(calls.c.id, calls.c.system).where(*where)).all()
    ids = [row.id for row in found]
    by_system = dict(sorted(Counter(row.system for row in found).items()))
    related: dict[str, int] = {}
    pseudonym = f"erased-{erasure_id}"
    user_rollups = (rollups.c.dimension == "user") & (rollups.c.value == user_id[:200])
    if dry_run:
        for table in _call_tables():
            related[table.name] = sum(_count(conn, select(table.c.call_id).where(
                table.c.call_id.in_(chunk))) for chunk in _chunks(ids))
        renamed = _count(conn, select(rollups.c.bucket).where(user_rollups))
        names = pseudonymise_names(conn, user_id, pseudonym, dry_run=True)
    else:
        for table in _call_tables():
            related[table.name] = sum(conn.execute(delete(table).where(
                table.c.call_id.in_(chunk))).rowcount for chunk in _chunks(ids))
        for chunk in _chunks(ids):
            conn.execute(delete(calls).where(calls.c.id.in_(chunk)))
        renamed = conn.execute(update(rollups).where(user_rollups).values(
            value=pseudonym)).rowcount
        names = pseudonymise_names(conn, user_id, pseudonym)
    overridden = kept if include_held else 0
    result = Erasure(
        id=erasure_id, request=request, calls=len(ids), by_system=by_system,
        related={k: v for k, v in related.items() if v}, rollups=renamed, names=names,
        held=kept - overridden, hold_overridden=overridden, dry_run=dry_run, reason=reason,
        systems=list(systems or []))
    if not dry_run:
        audit.append(conn, actor=actor, action="calls.erase", object_type="erasure",
                     object_id=erasure_id, system=None, payload={
                         "request": request, "reason": reason, "calls": result.calls,
                         "by_system": by_system, "related": result.related,
                         "rollups_pseudonymised": renamed, "pseudonym": pseudonym,
                         "names_pseudonymised": names,
                         "held_kept": result.held, "hold_overridden": overridden,
                         "systems": result.systems or None})
    return result
