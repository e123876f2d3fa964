"""Drift checks on a system's recorded calls: baselines in, stored verdicts out.

The workspace calls ``store_baseline`` and ``check_system``; they read calls
and baselines through ``trimtab.store.drift`` and never keep reference rows:
a baseline is a profile plus the extraction plan that cut its columns, so a
check only reads the current window's calls.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trimtab.actor import current_actor
from trimtab.errors import TrimtabError
from trimtab.observe.drift import calls as call_columns
from trimtab.observe.drift.check import check_drift
from trimtab.observe.drift.files import read_window
from trimtab.observe.drift.profiles import DatasetProfile, profile
from trimtab.observe.drift.report import DriftReport
from trimtab.observe.drift.tables import read_columns
from trimtab.project.loader import missing_project_file
from trimtab.store import Store
from trimtab.store import deployments as deployment_store
from trimtab.store import drift as drift_store
from trimtab.store import systems as system_store
from trimtab.store.drift import DriftBaseline, DriftResult

if TYPE_CHECKING:
    from trimtab.project.models import Project

DEFAULT_BASELINE_SPAN = timedelta(days=7)
#: Calls read per window: a reference keeps its oldest, a current window its newest,
#: and the report says so.
MAX_ROWS = 200_000


log = logging.getLogger("trimtab")

@dataclass(frozen=True)
class Window:
    """Rows of a reference or current window and what they were, in words."""

    description: str
    rows: list[dict[str, Any]]
    start: datetime | None = None
    end: datetime | None = None
    release_id: str | None = None
    source: str = "calls"  # calls | file
    notes: tuple[str, ...] = ()
    #: A table read by column (CSV, Parquet): raw drift columns and row count, no rows.
    columns: tuple[dict[str, Any], int] | None = None


@dataclass(frozen=True)
class DriftCheck:
    """A finished check: the report, both windows in words, the stored row."""

    system: str
    env: str
    reference: str
    current: str
    report: DriftReport
    baseline: DriftBaseline | None = None
    result: DriftResult | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "system": self.system, "env": self.env, "reference": self.reference,
            "current": self.current,
            "baseline_id": self.baseline.id if self.baseline else None,
            "result_id": self.result.id if self.result else None,
            **self.report.to_dict(), "notes": [*self.report.notes, *self.notes],
        }


# --- windows ------------------------------------------------------------------------


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def calls_window(
    store: Store, system: str, env: str, start: datetime, end: datetime, *,
    release_id: str | None = None, which: str = "current", fix: str = "widen --current",
    after_reference: bool = False,
) -> Window:
    """Calls of [start, end); ``after_reference``: the span was moved to start where
    the reference ends, so an empty window means the baseline holds every call."""
    if after_reference and start >= end:
        _covered(start)
    if start >= end:
        raise TrimtabError(f"the {which} window starts at {_stamp(start)}, after it ends at "
                           f"{_stamp(end)}. Fix: give the earlier time first.")
    with store.read() as conn:
        rows = drift_store.calls_between(conn, system, env, start, end, release_id=release_id,
                                         limit=MAX_ROWS + 1, newest=which == "current")
    of_release = f" of release {release_id[:12]}" if release_id else ""
    if not rows and after_reference:
        _covered(start)
    if not rows:
        raise TrimtabError(
            f"no calls for {system}{of_release} in env {env} between {_stamp(start)} and "
            f"{_stamp(end)} (the {which} window) — record some calls or {fix}."
        )
    notes = ()
    if len(rows) > MAX_ROWS:
        kept = "newest" if which == "current" else "oldest"
        rows = rows[1:] if which == "current" else rows[:MAX_ROWS]
        notes = (f"the {which} window holds more than {MAX_ROWS:,} calls; the {kept} "
                 f"{MAX_ROWS:,} were used",)
    description = f"calls{of_release} {_stamp(start)} → {_stamp(end)}"
    return Window(description, rows, start, end, release_id, "calls", notes)


def _covered(reference_end: datetime) -> None:
    raise TrimtabError(
        f"no calls after the reference window, which ends at {_stamp(reference_end)}: the "
        "baseline covers all calls so far, and comparing calls with themselves finds no "
        "drift. Fix: record more calls and check again, or pass --current START..END to "
        "compare a window of your choice."
    )


def file_window(path: Path, fields: Mapping[str, str] | None = None) -> Window:
    """A file's rows; a CSV or Parquet table is read by column (no row records)."""
    table = read_columns(path, fields)
    if table is not None:
        raw, n_rows, notes = table
        return Window(f"file {path.name} ({n_rows:,} rows)", [], source="file",
                      notes=tuple(notes), columns=(raw, n_rows))
    rows, notes = read_window(path, fields)
    return Window(f"file {path.name} ({len(rows):,} rows)", rows, source="file",
                  notes=tuple(notes))


def resolve_kinds(kinds: Mapping[str, str] | None, columns: Mapping[str, Any]) -> dict[str, str]:
    """``kinds`` by drift column: ``amount`` names ``input.amount`` (or ``output.amount``)
    when no column is called exactly ``amount``."""
    resolved = {}
    for name, kind in (kinds or {}).items():
        found = next((c for c in (name, f"input.{name}", f"output.{name}") if c in columns),
                     None)
        if found is None:
            raise TrimtabError(
                f"kinds: no column {name!r}. The columns are: {', '.join(sorted(columns))}. "
                "Fix: name one of those, e.g. --kinds amount=numerical."
            )
        resolved[found] = kind
    return resolved


def first_week_of_release(store: Store, system: str, env: str,
                          span: timedelta = DEFAULT_BASELINE_SPAN,
                          now: datetime | None = None) -> Window:
    """The default reference: the first ``span`` of calls the active release answered.

    A release younger than ``span`` gives the calls so far: the window ends now,
    not in the future, so later checks know which calls the baseline already holds.
    """
    with store.read() as conn:
        found = system_store.find(conn, system)
        active = deployment_store.active(conn, found.id, env) if found else None
        first = drift_store.first_call_time(conn, system, env, active.release_id) \
            if active else None
    if active is None:
        raise TrimtabError(
            f"no release of {system} is active in env {env}, so there is no first week to "
            f"use as the baseline. Fix: `trimtab promote {system} RELEASE --env {env}`, or "
            "give the reference window with --since/--until, --window or --file."
        )
    if first is None:
        raise TrimtabError(
            f"no calls for {system} of release {active.release_id[:12]} in env {env} yet — "
            "record some calls first, or give the reference window with --since/--until, "
            "--window or --file."
        )
    end = min(first + span, now or datetime.now(UTC))
    if end <= first:  # calls stamped ahead of this clock: keep the whole span
        end = first + span
    return calls_window(store, system, env, first, end, release_id=active.release_id,
                        which="reference", fix="give --since/--until or --window")


def reference_end(reference: DriftBaseline | Window) -> datetime | None:
    """Where a calls reference stops holding calls (None: a file has no time).

    A baseline holds no call recorded after it was saved, whatever its window
    says (baselines saved before windows were cut at "now" end in the future).
    """
    if isinstance(reference, DriftBaseline):
        if reference.source != "calls" or reference.window_end is None:
            return None
        return min(reference.window_end, reference.created_at)
    return reference.end if reference.source == "calls" else None


def overlaps(reference: DriftBaseline | Window, start: datetime, end: datetime) -> bool:
    """Whether [start, end) reaches into the calls ``reference`` holds.

    A current span that does starts where the reference ends instead: comparing
    calls with themselves finds no drift however much there is.
    """
    ref_end = reference_end(reference)
    ref_start = reference.window_start if isinstance(reference, DriftBaseline) \
        else reference.start
    return not (ref_end is None or ref_start is None or ref_end <= start or ref_start >= end)


# --- baselines and checks -------------------------------------------------------------


def _columns(window: Window, extraction: Mapping[str, Any] | None = None, *,
             embeddings: bool = False, classic: bool = False,
             ) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """Drift columns of a window; a reference (no extraction yet) makes the plan too."""
    if window.columns is not None:
        (raw, n_rows), notes = window.columns, []
    else:
        raw, n_rows, notes = call_columns.raw_columns(window.rows)
    reference = extraction is None
    if reference:
        extraction = call_columns.plan(raw, embeddings=embeddings, output_flags=not classic)
    columns = call_columns.features(raw, n_rows, extraction, reference=reference)
    if not columns:
        raise TrimtabError(
            f"{window.description}: no columns to check (calls recorded in metadata-only "
            "logging mode keep no inputs or outputs, and no latency was found)."
        )
    return columns, dict(extraction), [*window.notes, *notes]


def save_baseline(store: Store, system: str, env: str, window: Window, *, name: str | None,
                  embeddings: bool, actor: str,
                  kinds: Mapping[str, str] | None = None, classic: bool = False,
                  ) -> DriftBaseline:
    columns, extraction, notes = _columns(window, embeddings=embeddings, classic=classic)
    for note in notes:
        log.warning("trimtab: drift baseline of %s: %s", system, note)
    extraction["kinds"] = resolve_kinds(kinds, columns)  # later checks profile alike
    prof = profile(columns, kinds=extraction["kinds"])
    if name is None:
        name = _default_name(window)
    with store.write() as conn:
        return drift_store.save_baseline(
            conn, system=system, env=env, name=name, description=window.description,
            source=window.source, release_id=window.release_id, window_start=window.start,
            window_end=window.end, rows=prof.rows, profile=prof.to_json(),
            extraction=json.dumps(extraction, separators=(",", ":"), ensure_ascii=False),
            actor=actor,
        )


def _default_name(window: Window) -> str:
    if window.source == "file":
        return window.description.split(" ")[1]
    if window.release_id:
        return f"release-{window.release_id[:12]}-first-{(window.end - window.start).days}d"
    return f"{window.start:%Y-%m-%dT%H:%M}..{window.end:%Y-%m-%dT%H:%M}"


def check(
    store: Store, system: str, env: str, *, reference: DriftBaseline | Window, current: Window,
    drift_share: float, save: bool, actor: str, embeddings: bool = False,
    kinds: Mapping[str, str] | None = None, classic: bool = False,
) -> DriftCheck:
    """Check ``current`` against a stored baseline or a raw reference window."""
    if isinstance(reference, DriftBaseline):
        ref: DatasetProfile | dict[str, Any] = DatasetProfile.from_json(reference.profile)
        extraction = json.loads(reference.extraction)
        ref_text = f"baseline {reference.name} ({reference.short_id}): {reference.description}"
        notes: list[str] = []
        if kinds:
            raise TrimtabError(
                f"baseline {reference.name} was profiled with its own column kinds; "
                "--kinds applies to a file or window reference. Fix: store a new baseline "
                "with --kinds, or pass --reference START..END or a file."
            )
        chosen = extraction.get("kinds") or {}
    else:
        ref, extraction, notes = _columns(reference, embeddings=embeddings, classic=classic)
        ref_text = reference.description
        chosen = resolve_kinds(kinds, ref)
    cur, _, cur_notes = _columns(current, extraction)
    report = check_drift(ref, cur, drift_share=drift_share,
                         kinds={k: v for k, v in chosen.items() if k in cur} or None)
    all_notes = list(dict.fromkeys([*notes, *cur_notes]))
    result = None
    if save:
        with store.write() as conn:
            result = drift_store.save_result(
                conn, system=system, env=env,
                baseline_id=reference.id if isinstance(reference, DriftBaseline) else None,
                reference=ref_text, current=current.description,
                current_start=current.start, current_end=current.end,
                report=report.to_dict(), actor=actor,
            )
    baseline = reference if isinstance(reference, DriftBaseline) else None
    return DriftCheck(system, env, ref_text, current.description, report, baseline, result,
                      all_notes)


# --- what the workspace asks for ---------------------------------------------------------


def scope(store: Store, project: Project | None, system: str, env: str | None) -> str:
    """The env to check (production by default); the system must be declared in
    the project file or known to the store."""
    if env is None:
        env = project.production if project is not None else "production"
    elif project is not None:
        project.check_env(env)
    if project is None or system not in project.spec.systems:
        with store.read() as conn:
            if system_store.find(conn, system) is None:
                if project is None:
                    raise missing_project_file()
                project.system(system)  # raises, naming the declared systems
    return env


def is_classic(store: Store, project: Project | None, system: str) -> bool:
    """Whether ``system`` is a classic model (no LLM output features in its drift)."""
    if project is not None and system in project.spec.systems:
        return project.spec.systems[system].kind == "classic"
    with store.read() as conn:
        found = system_store.find(conn, system)
    return found is not None and found.kind == "classic"


def store_baseline(
    store: Store, project: Project | None, system: str, *, env: str | None = None,
    window: timedelta | None = None, since: datetime | None = None,
    until: datetime | None = None, file: str | Path | None = None, name: str | None = None,
    embeddings: bool = False, actor: str | None = None,
    kinds: Mapping[str, str] | None = None, fields: Mapping[str, str] | None = None,
) -> DriftBaseline:
    """Profile a reference and store it (see ``Workspace.drift_baseline``)."""
    env = scope(store, project, system, env)
    chosen = [x is not None for x in (window, since or until, file)]
    if sum(chosen) > 1:
        raise TrimtabError("give one reference: --window, --since/--until, or --file.")
    if file is not None:
        reference = file_window(Path(file), fields)
    elif window is not None or since is not None or until is not None:
        end = until or datetime.now(UTC)
        start = since or end - (window or DEFAULT_BASELINE_SPAN)
        reference = calls_window(store, system, env, start, end, which="reference",
                                 fix="widen --window, or move --since/--until")
    else:
        reference = first_week_of_release(store, system, env)
    return save_baseline(store, system, env, reference, name=name, embeddings=embeddings,
                         actor=actor or current_actor(), kinds=kinds,
                         classic=is_classic(store, project, system))


def check_system(
    store: Store, project: Project | None, system: str, *, env: str | None = None,
    reference: str | Path | timedelta | tuple[datetime, datetime] | None = None,
    current: Path | timedelta | tuple[datetime, datetime] = timedelta(hours=24),
    end: datetime | None = None, drift_share: float = 0.5, embeddings: bool = False,
    save: bool = True, actor: str | None = None,
    kinds: Mapping[str, str] | None = None, fields: Mapping[str, str] | None = None,
) -> DriftCheck:
    """Check a current window against a reference (see ``Workspace.drift``)."""
    env = scope(store, project, system, env)
    end = end or datetime.now(UTC)
    baseline = None
    if reference is None or isinstance(reference, str):
        with store.read() as conn:
            baseline = (drift_store.get_baseline(conn, system, reference, env) if reference
                        else drift_store.latest_baseline(conn, system, env))
    if isinstance(current, Path):
        cur = file_window(current, fields)
    else:
        start, stop = (end - current, end) if isinstance(current, timedelta) else current
        bounds = Window("", [], *reference) if isinstance(reference, tuple) else baseline
        moved = isinstance(current, timedelta) and bounds is not None \
            and overlaps(bounds, start, stop)
        if moved:
            start = reference_end(bounds)
        cur = calls_window(store, system, env, start, stop, after_reference=moved)
        if bounds is not None and overlaps(bounds, start, stop):
            cur = replace(cur, notes=(*cur.notes, "the current window overlaps the "
                                      "reference window: calls in both are compared "
                                      "with themselves"))
    if reference is None or isinstance(reference, str):
        if baseline is None:
            raise TrimtabError(
                f"no drift baseline for {system} in env {env}. Fix: `trimtab drift "
                f"baseline {system} --env {env}` stores one (the first 7 days of the "
                "active release), or pass --reference (a window, a span or a file)."
            )
        ref: DriftBaseline | Window = baseline
    elif isinstance(reference, Path):
        ref = file_window(reference, fields)
    else:
        if isinstance(reference, timedelta):
            if cur.start is None:
                raise TrimtabError("a reference span needs a current time window, "
                                   "not a file. Fix: give --reference START..END.")
            reference = (cur.start - reference, cur.start)
        ref = calls_window(store, system, env, *reference, which="reference",
                           fix="widen --reference")
    return check(store, system, env, reference=ref, current=cur, drift_share=drift_share,
                 save=save, actor=actor or current_actor(), embeddings=embeddings, kinds=kinds,
                 classic=is_classic(store, project, system))
