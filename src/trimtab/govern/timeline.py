"""Timeline reconstruction: what ran, what changed and what it produced around a moment.

`trimtab timeline SYSTEM --at TIME --window 6h` answers the first questions of
an investigation from the store alone: which release was active in each
environment at that moment and what changed from the one before it; every
deployment, approval step, alert and other recorded change in the window
(which runs ``window / 2`` either side of the moment); commits that touched
trimtab.yaml, where alert rules, gates and policies live, when the project is
a git work tree; the metrics before and after; and a few calls nearest the
moment with their outputs.

Everything is bounded, so a busy system gives a readable answer: at most
``MAX_ROWS`` rows per list (and how many more there were), ``samples`` calls,
and each input, output and prompt diff cut at ``MAX_TEXT`` characters, with a
flag saying so. Nothing is written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from trimtab.errors import TrimtabError
from trimtab.project.models import Project
from trimtab.releases.diffs import diff_specs
from trimtab.releases.gitinfo import file_commits
from trimtab.store import Store
from trimtab.store import alerts as alert_store
from trimtab.store import audit as audit_store
from trimtab.store import calls as call_store
from trimtab.store import deployments as deployment_store
from trimtab.store import releases as release_store
from trimtab.store import rollups as rollup_store
from trimtab.store import systems as system_store
from trimtab.store.deployments import STABLE, Deployment

MAX_ROWS = 50
MAX_TEXT = 600
MAX_SAMPLES = 20
MAX_WINDOW = timedelta(days=31)
#: Audit actions that have a list of their own (or are noise in a timeline).
_OWN_LIST = ("deployment.", "approval.", "alert.", "access.denied")


def _cut(text: str | None, limit: int = MAX_TEXT) -> tuple[str | None, bool]:
    if text is None or len(text) <= limit:
        return text, False
    return text[:limit], True


def _bounded(rows: list[Any]) -> tuple[list[Any], int]:
    return rows[:MAX_ROWS], max(len(rows) - MAX_ROWS, 0)


@dataclass(frozen=True)
class ActiveAt:
    """The release active in one environment at the moment, and what it replaced."""

    env: str
    release: str | None
    since: datetime | None
    by: str | None
    reason: str | None
    previous: str | None
    candidate: dict[str, Any] | None
    diff: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["since"] = self.since.isoformat() if self.since else None
        return data


@dataclass(frozen=True)
class Timeline:
    system: str
    at: datetime
    start: datetime
    end: datetime
    active: list[ActiveAt]
    deployments: list[dict[str, Any]]
    approvals: list[dict[str, Any]]
    alerts: list[dict[str, Any]]
    changes: list[dict[str, Any]]
    rule_commits: list[dict[str, Any]] | None  # None: not a git work tree
    metrics: dict[str, Any]
    samples: list[dict[str, Any]]
    more: dict[str, int] = field(default_factory=dict)  # list -> rows left out

    def to_dict(self) -> dict[str, Any]:
        return {
            "system": self.system, "at": self.at.isoformat(), "start": self.start.isoformat(),
            "end": self.end.isoformat(), "active": [a.to_dict() for a in self.active],
            "deployments": self.deployments, "approvals": self.approvals,
            "alerts": self.alerts, "changes": self.changes,
            "rule_commits": self.rule_commits, "metrics": self.metrics,
            "samples": self.samples, "more": self.more,
            "limits": {"rows": MAX_ROWS, "text": MAX_TEXT},
        }


def _diff(conn, old_id: str | None, new_id: str | None) -> dict[str, Any] | None:
    """Setting changes whole; each prompt's unified diff cut at MAX_TEXT."""
    if not old_id or not new_id or old_id == new_id:
        return None
    old = release_store.resolve(conn, old_id)
    new = release_store.resolve(conn, new_id)
    changes = diff_specs(old.spec, new.spec, old_label=old.short_id, new_label=new.short_id)
    prompts = {}
    for name, lines in changes.prompts.items():
        text, cut = _cut("\n".join(lines))
        prompts[name] = {"diff": text, "truncated": cut}
    listed, more = _bounded([c.__dict__ for c in changes.changes])
    return {"from": old_id, "to": new_id, "changes": json.loads(json.dumps(listed, default=str)),
            "more_changes": more, "prompts": prompts}


def active_at(conn, history: list[Deployment], env: str, at: datetime) -> ActiveAt:
    """The stable deployment of ``env`` at ``at`` (and any canary or shadow beside
    it), the release before it there, and the diff between the two."""
    upto = [d for d in history if d.env == env and d.created_at <= at]
    stable = [d for d in upto if d.action in STABLE]
    if not stable:
        return ActiveAt(env, None, None, None, None, None, None, None)
    current = stable[-1]
    earlier = [d.release_id for d in stable[:-1] if d.release_id != current.release_id]
    previous = earlier[-1] if earlier else None
    split = [d for d in upto if d.action not in STABLE and d.id > current.id]
    candidate = None if not split else {"release": split[-1].release_id,
                                        "mode": split[-1].action, "percent": split[-1].percent}
    return ActiveAt(env=env, release=current.release_id, since=current.created_at,
                    by=current.actor, reason=current.reason or None, previous=previous,
                    candidate=candidate, diff=_diff(conn, previous, current.release_id))


def _metrics(store: Store, system: str, at: datetime, half: timedelta) -> dict[str, Any]:
    """Calls, errors, latency and cost over the half-window before and after ``at``,
    from rollups (the raw calls may be pruned; the rollups stay)."""
    def row(start: datetime, end: datetime) -> dict[str, Any] | None:
        with store.read() as conn:
            found = rollup_store.summarize(conn, start, end, system=system)
        if not found:
            return None
        totals = found[0][1]
        q = totals.sketch.quantile
        p50, p95 = q(0.5), q(0.95)
        return {"calls": totals.calls, "errors": totals.errors,
                "error_rate": round(totals.errors / totals.calls, 6) if totals.calls else 0.0,
                "p50_ms": None if p50 is None else round(p50, 3),
                "p95_ms": None if p95 is None else round(p95, 3),
                "cost_usd": str(Decimal(totals.cost_micro_usd) / Decimal(1_000_000)),
                "cost_unknown_calls": totals.cost_unknown}

    return {"before": row(at - half, at), "after": row(at, at + half), "span": str(half)}


def _samples(conn, system: str, at: datetime, start: datetime, end: datetime,
             count: int) -> list[dict[str, Any]]:
    """The ``count`` calls nearest ``at`` in the window, oldest first, texts cut."""
    before = call_store.query(conn, system=system, since=start, until=at, limit=count)
    after = call_store.query(conn, system=system, since=at, until=end, limit=10 * count)
    nearest = sorted([*before, *after], key=lambda c: abs((c.time - at).total_seconds()))
    picked = sorted(nearest[:count], key=lambda c: c.time)
    found = []
    for c in picked:
        request, request_cut = _cut(c.request)
        response, response_cut = _cut(c.response)
        error, _ = _cut(c.error)
        found.append({"id": c.id, "time": c.time.isoformat(), "env": c.env,
                      "release": c.release_id, "model": c.model, "status": c.status,
                      "latency_ms": c.latency_ms, "user": c.user_id, "logging": c.logging_mode,
                      "request": request, "response": response, "error": error,
                      "truncated": request_cut or response_cut})
    return found


def timeline(store: Store, project: Project | None, system: str, *, at: datetime,
             window: timedelta = timedelta(hours=6), samples: int = 5) -> Timeline:
    if window <= timedelta(0) or window > MAX_WINDOW:
        raise TrimtabError(f"--window must be positive and at most {MAX_WINDOW.days} days "
                           "(e.g. 6h, 2d).")
    if not 0 <= samples <= MAX_SAMPLES:
        raise TrimtabError(f"--samples must be between 0 and {MAX_SAMPLES}.")
    at = at.astimezone(UTC)
    half = window / 2
    start, end = at - half, at + half
    more: dict[str, int] = {}
    with store.read() as conn:
        stored = system_store.get(conn, system)
        history = deployment_store.history(conn, stored.id)
        envs = list(project.environments) if project is not None else []
        envs += sorted({d.env for d in history} - set(envs))
        active = [active_at(conn, history, env, at) for env in envs]
        moved = [d for d in history if start <= d.created_at < end]
        deployments, more["deployments"] = _bounded([
            {"time": d.created_at.isoformat(), "env": d.env, "action": d.action,
             "release": d.release_id, "percent": d.percent, "actor": d.actor,
             "reason": d.reason} for d in moved])
        trail = audit_store.entries(conn, system=system, since=start, until=end)
        approvals, more["approvals"] = _bounded([_entry(e) for e in trail
                                                 if e.action.startswith("approval.")])
        changes, more["changes"] = _bounded([_entry(e) for e in trail
                                             if not e.action.startswith(_OWN_LIST)])
        events = [e for e in alert_store.events(conn, system=system, since=start, limit=None)
                  if e.time < end]
        alerts, more["alerts"] = _bounded([
            {"time": e.time.isoformat(), "rule": e.rule, "env": e.env, "state": e.state,
             "severity": e.severity, "summary": e.document.get("summary")}
            for e in sorted(events, key=lambda e: e.time)])
        sampled = _samples(conn, system, at, start, end, samples) if samples else []
    commits = None
    if project is not None:
        found = file_commits(project.root, project.path.name, start.isoformat(),
                             end.isoformat(), limit=MAX_ROWS)
        commits = None if found is None else [c.__dict__ for c in found]
    return Timeline(system=system, at=at, start=start, end=end, active=active,
                    deployments=deployments, approvals=approvals, alerts=alerts,
                    changes=changes, rule_commits=commits,
                    metrics=_metrics(store, system, at, half), samples=sampled,
                    more={k: v for k, v in more.items() if v})


def _entry(entry) -> dict[str, Any]:
    payload, cut = _cut(entry.payload, 300)
    return {"time": entry.time.isoformat(), "seq": entry.seq, "actor": entry.actor,
            "action": entry.action, "object": entry.object_id, "payload": payload,
            "payload_cut": cut}
