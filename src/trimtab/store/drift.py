"""Drift baselines and drift results: the only SQL the drift monitor needs.

A baseline row holds a profile's serialised form (a few kilobytes of counts and
sketch centroids), never the reference rows, so a check months later reads one
row. Saving a baseline and saving a result are audited changes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select

from trimtab.errors import NotFound, TrimtabError
from trimtab.store import audit
from trimtab.store.ids import new_call_id
from trimtab.store.schema.base import utcnow
from trimtab.store.schema.call_log import calls
from trimtab.store.schema.monitoring import drift_baselines, drift_results

#: What drift extraction reads from a call; never the whole row.
CALL_FIELDS = ("id", "time", "release_id", "status", "latency_ms", "cost_micro_usd",
               "request", "response")


@dataclass(frozen=True)
class DriftBaseline:
    id: str
    system: str
    env: str
    name: str
    description: str
    source: str  # calls | file
    release_id: str | None
    window_start: datetime | None
    window_end: datetime | None
    rows: int
    profile: str  # DatasetProfile JSON
    extraction: str  # JSON: how calls became columns
    created_at: datetime
    created_by: str

    @property
    def short_id(self) -> str:
        return self.id[:12]

    def to_dict(self, *, with_profile: bool = False) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k not in ("profile", "extraction")}
        for name in ("window_start", "window_end", "created_at"):
            data[name] = data[name].isoformat() if data[name] else None
        data["profile_bytes"] = len(self.profile)
        if with_profile:
            data["profile"] = json.loads(self.profile)
            data["extraction"] = json.loads(self.extraction)
        return data


@dataclass(frozen=True)
class DriftResult:
    id: str
    time: datetime
    system: str
    env: str
    baseline_id: str | None
    reference: str
    current: str
    current_start: datetime | None
    current_end: datetime | None
    n_reference: int
    n_current: int
    dataset_drift: bool
    share_drifted: float
    drift_share: float
    n_columns_tested: int
    n_columns_drifted: int
    columns: str  # JSON list of column verdicts
    actor: str

    @property
    def verdicts(self) -> list[dict[str, Any]]:
        return json.loads(self.columns)

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        for name in ("time", "current_start", "current_end"):
            data[name] = data[name].isoformat() if data[name] else None
        data["columns"] = self.verdicts
        return data


# --- baselines ------------------------------------------------------------------


def save_baseline(
    conn: Connection,
    *,
    system: str,
    env: str,
    name: str,
    description: str,
    source: str,
    release_id: str | None,
    window_start: datetime | None,
    window_end: datetime | None,
    rows: int,
    profile: str,
    extraction: str,
    actor: str,
) -> DriftBaseline:
    baseline_id = new_call_id()
    values = dict(
        id=baseline_id, system=system, env=env, name=name, description=description,
        source=source, release_id=release_id, window_start=window_start,
        window_end=window_end, rows=rows, profile=profile, extraction=extraction,
        created_at=utcnow(), created_by=actor,
    )
    conn.execute(insert(drift_baselines).values(**values))
    audit.append(
        conn, actor=actor, action="drift.baseline", object_type="drift_baseline",
        object_id=baseline_id, system=system,
        payload={"env": env, "name": name, "reference": description, "rows": rows,
                 "columns": sorted(json.loads(profile)["columns"]),
                 "profile_bytes": len(profile)},
    )
    return DriftBaseline(**values)


def baselines(conn: Connection, system: str, env: str | None = None) -> list[DriftBaseline]:
    """Newest first."""
    query = select(drift_baselines).where(drift_baselines.c.system == system).order_by(
        drift_baselines.c.created_at.desc(), drift_baselines.c.id.desc())
    if env is not None:
        query = query.where(drift_baselines.c.env == env)
    return [DriftBaseline(**row._mapping) for row in conn.execute(query)]


def latest_baseline(conn: Connection, system: str, env: str) -> DriftBaseline | None:
    found = baselines(conn, system, env)
    return found[0] if found else None


def get_baseline(
    conn: Connection, system: str, ref: str, env: str | None = None
) -> DriftBaseline:
    """By id prefix or by name (the newest baseline of that name)."""
    known = baselines(conn, system, env)
    by_name = [b for b in known if b.name == ref]
    if by_name:
        return by_name[0]
    by_id = [b for b in known if b.id.startswith(ref.lower())]
    if len(by_id) == 1:
        return by_id[0]
    where = f"{system}" + (f" in env {env}" if env else "")
    if len(by_id) > 1:
        raise TrimtabError(f"baseline prefix {ref!r} is ambiguous for {where}. "
                           "Fix: give more characters of the id, or its name.")
    listing = ", ".join(f"{b.name} ({b.short_id})" for b in known[:10]) or "none yet"
    raise NotFound(
        f"unknown drift baseline {ref!r} for {where}; known: {listing}. "
        f"Fix: `trimtab drift baselines {system}` lists them, `trimtab drift baseline "
        f"{system}` saves one."
    )


# --- results --------------------------------------------------------------------


def save_result(
    conn: Connection,
    *,
    system: str,
    env: str,
    baseline_id: str | None,
    reference: str,
    current: str,
    current_start: datetime | None,
    current_end: datetime | None,
    report: dict[str, Any],
    actor: str,
) -> DriftResult:
    """Store a ``DriftReport.to_dict()`` and audit its verdict."""
    values = dict(
        id=new_call_id(), time=utcnow(), system=system, env=env, baseline_id=baseline_id,
        reference=reference, current=current, current_start=current_start,
        current_end=current_end, n_reference=report["n_reference_rows"],
        n_current=report["n_current_rows"], dataset_drift=bool(report["dataset_drift"]),
        share_drifted=float(report["share"]), drift_share=float(report["drift_share"]),
        n_columns_tested=report["n_columns_tested"],
        n_columns_drifted=report["n_columns_drifted"],
        columns=json.dumps(report["columns"], separators=(",", ":"), allow_nan=False),
        actor=actor,
    )
    conn.execute(insert(drift_results).values(**values))
    audit.append(
        conn, actor=actor, action="drift.check", object_type="drift_result",
        object_id=values["id"], system=system,
        payload={"env": env, "reference": reference, "current": current,
                 "dataset_drift": values["dataset_drift"],
                 "share_drifted": round(values["share_drifted"], 6),
                 "drifted_columns": report["drifted_columns"]},
    )
    return DriftResult(**values)


def results(
    conn: Connection, system: str, env: str | None = None, limit: int = 20
) -> list[DriftResult]:
    """Newest first."""
    query = select(drift_results).where(drift_results.c.system == system).order_by(
        drift_results.c.time.desc(), drift_results.c.id.desc()).limit(limit)
    if env is not None:
        query = query.where(drift_results.c.env == env)
    return [DriftResult(**row._mapping) for row in conn.execute(query)]


def latest_drift_share(conn: Connection, system: str, env: str | None = None) -> float | None:
    """Share of drifted columns in the newest check of ``system`` (None: never checked)."""
    newest = newest_check(conn, system, env)
    return newest[0] if newest else None


def newest_check(
    conn: Connection, system: str, env: str | None = None
) -> tuple[float, datetime] | None:
    """(share of drifted columns, when) of the newest check of ``system``; None: never.

    The ``drift`` alert metric reads this, and the time to ignore stale checks.
    """
    query = select(drift_results.c.share_drifted, drift_results.c.time).where(
        drift_results.c.system == system)
    if env is not None:
        query = query.where(drift_results.c.env == env)
    query = query.order_by(drift_results.c.time.desc(), drift_results.c.id.desc()).limit(1)
    row = conn.execute(query).first()
    return (row[0], row[1]) if row else None


# --- the calls a window holds -------------------------------------------------------


def calls_between(
    conn: Connection,
    system: str,
    env: str,
    start: datetime,
    end: datetime,
    *,
    release_id: str | None = None,
    limit: int | None = None,
    newest: bool = False,
) -> list[dict[str, Any]]:
    """Primary-route calls of one system in [start, end), oldest first, as dicts.

    ``limit`` keeps the oldest calls, or with ``newest`` the newest (still
    returned oldest first): a current window cut short should show today.
    Shadow calls are left out: their answers never reached a user, and their
    inputs are a copy of the primary call's.
    """
    query = select(*(calls.c[name] for name in CALL_FIELDS)).where(
        calls.c.system == system, calls.c.env == env, calls.c.route != "shadow",
        calls.c.time >= start, calls.c.time < end,
    )
    if newest:
        query = query.order_by(calls.c.time.desc(), calls.c.id.desc())
    else:
        query = query.order_by(calls.c.time, calls.c.id)
    if release_id is not None:
        query = query.where(calls.c.release_id == release_id)
    if limit is not None:
        query = query.limit(limit)
    rows = [dict(row._mapping) for row in conn.execute(query)]
    return rows[::-1] if newest else rows


def first_call_time(
    conn: Connection, system: str, env: str, release_id: str
) -> datetime | None:
    """When ``release_id`` answered its first call in ``env``."""
    query = select(func.min(calls.c.time)).where(
        calls.c.system == system, calls.c.env == env, calls.c.release_id == release_id)
    value = conn.execute(query).scalar()
    if value is not None and value.tzinfo is None:  # func.min bypasses the type on SQLite
        from datetime import UTC

        value = value.replace(tzinfo=UTC)
    return value
