"""Alert evaluation: read each rule's metric, move its state, record events.

Every (rule, system, env) a rule watches has one state:

    ok ──condition holds──► pending ──held for `for`──► firing ──clears──► resolved ──► ok
     ▲                        │ clears                    │ no data
     └────────────────────────┘                           ▼
                          no_data (an empty window; never fires)

Only firing and resolved are events: each is stored, audited and queued for
the rule's channels once, so a firing alert notifies once however often it is
evaluated. The metric is read outside the write lock; the transitions are
applied inside it, against the state as it is then, so two monitors sharing
one store never fire the same alert twice.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from trimtab.actor import current_actor
from trimtab.errors import NotFound
from trimtab.observe import budgets as budget_spend
from trimtab.observe import label_metrics
from trimtab.observe.metrics import MetricRow
from trimtab.observe.metrics import compute as compute_metrics
from trimtab.project.alert_rules import LABEL_METRICS, AlertRuleSpec
from trimtab.store import alerts as alert_store
from trimtab.store import calls as call_store
from trimtab.store import drift as drift_store
from trimtab.store import drops as drop_store
from trimtab.store import flags as flag_store
from trimtab.store import scores as score_store
from trimtab.store.alerts import ALL_ENVS, AlertEvent, AlertState

if TYPE_CHECKING:
    from trimtab.project.budgets import BudgetSpec
    from trimtab.project.models import Project
    from trimtab.store import Store

log = logging.getLogger("trimtab.observe.alerts")

#: A rollup window with no calls has no error rate, latency or cost: no data.
#: Call volume is the exception (zero calls is its whole point).
ZERO_WHEN_EMPTY = {"call_volume", "records_dropped"}

#: Built in: fires on any call record dropped (the spool's disk full) in 15 minutes, to
#: every declared channel. A project rule of the same name replaces it.
BUILTIN_RULES = {
    "recording-dropped": AlertRuleSpec(
        description="Call records were dropped: the spool's disk is full or failing, so "
        "calls are answered unrecorded (best_effort) or refused (required). Free disk "
        "space on the gateway; see docs/gateway.md, A full disk.",
        metric="records_dropped", window="15m", comparator=">", threshold=0.0,
        severity="critical"),
}
#: Calls through the gateway to a provider's model as it is are recorded under this
#: system: its drops count too.
PASSTHROUGH = "passthrough"


@dataclass(frozen=True)
class Reading:
    """A metric's value for one (rule, system, env), or None with why not."""

    value: float | None
    detail: str
    failed: bool = False


@dataclass(frozen=True)
class AlertStatus:
    """The outcome of evaluating one (rule, system, env) once."""

    rule: str
    system: str
    env: str | None
    metric: str
    severity: str
    comparator: str
    threshold: float
    window: str
    state: str
    value: float | None
    detail: str
    since: datetime
    event: AlertEvent | None = None

    @property
    def firing(self) -> bool:
        return self.state == "firing"

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule, "system": self.system, "env": self.env, "metric": self.metric,
            "severity": self.severity, "state": self.state, "value": self.value,
            "comparator": self.comparator, "threshold": self.threshold, "window": self.window,
            "detail": self.detail, "since": self.since.isoformat(),
            "event_id": self.event.id if self.event else None,
        }


# --- metrics --------------------------------------------------------------------


def format_value(metric: str, value: float | None) -> str:
    if value is None:
        return "no data"
    if metric.startswith("latency"):
        return f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms"
    if metric == "error_rate":
        return f"{value:.1%}"
    if metric == "drift":
        return f"{value:.0%} of columns"
    if metric == "cost_per_call":
        return f"${value:.6f}"
    if metric == "spend_per_day":
        return f"${value:,.2f}/day"
    if metric == "call_volume":
        return f"{value:,.0f} calls"
    if metric == "records_dropped":
        return f"{value:,.0f} records dropped"
    if metric == "budget_used":
        return f"{value:.1%} of the budget"
    if metric in ("accuracy", "precision", "recall"):
        return f"{value:.1%}"
    return f"{value:.3g}"


def read_metric(
    store: Store,
    rule: AlertRuleSpec,
    system: str,
    end: datetime,
    cache: dict[tuple, MetricRow | None] | None = None,
    budgets: dict[str, BudgetSpec] | None = None,
) -> Reading:
    """The rule's metric for ``system`` over the window ending at ``end``
    (``cache`` shares one rollup query among rules with the same window).

    spend_per_day is the cost over the rule's window scaled to 24 hours (a 1h
    window costing $2 reads $48/day; use window: 24h for yesterday's real
    spend). drift is the newest stored drift check's share of drifted columns
    (a check picks its own windows); a rule that sets ``window:`` ignores checks
    older than it, so a drift job that stopped running reads as no data, not as
    last month's verdict.
    """
    window = rule.window_delta
    if rule.metric == "budget_used":
        return _budget_reading(store, rule, end, budgets or {})
    if rule.metric == "records_dropped":
        with store.read() as conn:
            dropped = drop_store.count(conn, since=end - window, until=end, system=system,
                                       env=rule.env)
        return Reading(float(dropped), f"{dropped:,} call records dropped")
    if rule.metric == "drift":
        with store.read() as conn:
            newest = drift_store.newest_check(conn, system, rule.env)
        if newest is None:
            return Reading(None, "no drift check stored yet (run trimtab drift)")
        share, checked = newest
        if "window" in rule.model_fields_set and checked < end - window:
            return Reading(None, f"newest drift check is from {checked:%Y-%m-%d %H:%M} UTC, "
                           f"older than the rule's {rule.window} window (schedule "
                           "trimtab drift, e.g. with cron)")
        return Reading(share, f"drift check of {checked:%Y-%m-%d %H:%M} UTC")
    if rule.metric in LABEL_METRICS:
        return _label_reading(store, rule, system, end)
    if rule.metric == "quality_score":
        with store.read() as conn:
            mean, count = score_store.mean(conn, system=system, env=rule.env, name=rule.score,
                                           start=end - window, end=end)
            releases = score_store.mean_by_release(conn, system=system, env=rule.env,
                                                   name=rule.score, start=end - window,
                                                   end=end) if count else []
        what = f"score {rule.score!r}" if rule.score else "scores"
        if not count:
            return Reading(None, f"no {what} in the last {rule.window}")
        detail = f"mean of {count} {what}"
        if len(releases) > 1:  # which release pulls it down (a canary, say)
            detail += "; by release: " + ", ".join(
                f"{(r or '-')[:12]} {m:.3g} ({n})" for r, m, n in releases)
        return Reading(mean, detail)
    key = (window, system, rule.env)
    if cache is not None and key in cache:
        row = cache[key]
    else:
        rows = compute_metrics(store, window=window, system=system, env=rule.env, end=end)
        row = rows[0] if rows else None
        if cache is not None:
            cache[key] = row
    calls = row.calls if row else 0
    if rule.metric == "call_volume":
        return Reading(float(calls), f"{calls:,} calls")
    if not calls:
        return Reading(None, f"no calls in the last {rule.window}")
    detail = f"{calls:,} calls"
    if rule.metric == "error_rate":
        return Reading(row.error_rate, detail)
    if rule.metric in ("latency_p95", "latency_p99"):
        return Reading(row.p95_ms if rule.metric == "latency_p95" else row.p99_ms, detail)
    if rule.metric == "cost_per_call":
        per_call = row.cost_per_call_usd
        if per_call is None:
            return Reading(None, f"{detail}, none priced")
        return Reading(float(per_call), detail)
    # spend_per_day
    per_day = float(row.cost_usd) * (timedelta(days=1) / window)
    unknown = f", {row.cost_unknown_calls:,} unpriced" if row.cost_unknown_calls else ""
    return Reading(per_day, f"${row.cost_usd:.4f} in {rule.window}{unknown}")


def _budget_reading(store: Store, rule: AlertRuleSpec, end: datetime,
                    budgets: dict[str, BudgetSpec]) -> Reading:
    """The share of the rule's budget spent from the first of the month (UTC) to ``end``;
    the rule's window does not apply (a budget is monthly)."""
    budget = budgets.get(rule.budget or "")
    if budget is None:
        return Reading(None, f"budget {rule.budget!r} is not declared", failed=True)
    [line] = budget_spend.this_month(store, {rule.budget or "": budget}, end)
    unknown = f", {line.cost_unknown_calls:,} unpriced" if line.cost_unknown_calls else ""
    from trimtab.observe.cost_report import usd

    return Reading(line.used, f"{usd(line.spent_usd)} of {usd(line.monthly_usd)} this month "
                   f"({line.scope}, {line.calls:,} calls{unknown})")


def _label_reading(store: Store, rule: AlertRuleSpec, system: str, end: datetime) -> Reading:
    """A metric of the true labels that arrived in the window (see observe/label_metrics.py)."""
    found = label_metrics.compute(store, system, window=rule.window_delta, end=end, env=rule.env)
    if not found:
        return Reading(None, f"no labels arrived in the last {rule.window} (trimtab label)")
    every = found[0]
    detail = f"{every.labels:,} labels"
    if rule.metric == "accuracy":
        return Reading(every.accuracy, detail)
    if rule.metric in ("mae", "rmse"):
        if not every.numeric:
            return Reading(None, f"{detail}, none numeric: {rule.metric} needs numbers")
        return Reading(every.mae if rule.metric == "mae" else every.rmse,
                       f"{every.numeric:,} numeric labels")
    if every.classes is None:
        return Reading(None, f"{detail}; {every.note}")
    if rule.metric == "macro_f1":
        return Reading(every.macro_f1, f"{detail}, {len(every.classes)} classes")
    scores = every.scores_of(rule.class_ or "")
    if scores is None:
        return Reading(None, f"{detail}, none of class {rule.class_!r}")
    return Reading(getattr(scores, rule.metric),
                   f"{detail}, {scores.support:,} of class {rule.class_!r}")


# --- the state machine ----------------------------------------------------------


def step(
    previous: AlertState | None, holds: bool | None, now: datetime, hold_for: timedelta
) -> tuple[str, datetime | None, str | None]:
    """(new state, when the condition began to hold, event or None).

    ``holds`` is None when there is no data.
    """
    before = previous.state if previous else "ok"
    if holds is None:
        return "no_data", None, "resolved" if before == "firing" else None
    if not holds:
        return ("resolved", None, "resolved") if before == "firing" else ("ok", None, None)
    if before == "firing":
        return "firing", previous.active_since, None
    started = previous.active_since if before == "pending" and previous.active_since else now
    if now - started >= hold_for:
        return "firing", started, "firing"
    return "pending", started, None


def rules(project: Project) -> dict[str, AlertRuleSpec]:
    """The project's rules, and the built-in ones it does not replace (sent to every
    declared channel)."""
    found = dict(project.spec.alerts)
    for name, rule in BUILTIN_RULES.items():
        found.setdefault(name, rule.model_copy(update={"channels": list(project.spec.channels)}))
    return found


def quiet_builtin(name: str, project: Project, reading: Reading,
                  previous: AlertState | None) -> bool:
    """A built-in rule with nothing to say (no drops, and nothing firing or resolving)
    keeps no state and shows no status: it speaks up only when records are lost."""
    if name not in BUILTIN_RULES or name in project.spec.alerts:
        return False
    idle = reading.failed or reading.value == 0
    return idle and (previous is None or previous.state == "ok")


def targets(project: Project) -> list[tuple[str, AlertRuleSpec, str]]:
    """Every (rule name, rule, system) to evaluate: a rule without `system:`
    watches each declared system on its own (and passthrough calls, for
    records_dropped)."""
    found = []
    for name, rule in rules(project).items():
        systems = [rule.system] if rule.system else list(project.spec.systems)
        if rule.metric == "budget_used":  # one state per budget, named for what it covers
            budget = project.spec.budgets.get(rule.budget or "")
            if budget is None:
                continue
            systems = [budget.system or (f"key:{budget.key}" if budget.key is not None
                                         else f"team:{budget.team}")]
        if rule.system is None and rule.metric == "records_dropped":
            systems.append(PASSTHROUGH)
        for system in systems:
            found.append((name, rule, system))
    return found


def evaluate(
    store: Store,
    project: Project,
    *,
    now: datetime | None = None,
    actor: str | None = None,
) -> list[AlertStatus]:
    """Evaluate every rule once and record what changed (events, audit, outbox)."""
    now = now or datetime.now(UTC)
    cache: dict[tuple, MetricRow | None] = {}
    readings = [(name, rule, system,
                 _read(store, name, rule, system, now, cache, project.spec.budgets))
                for name, rule, system in targets(project)]
    actor = actor or current_actor()
    statuses = []
    with store.write() as conn:
        previous = alert_store.states(conn)
        for name, rule, system, reading in readings:
            key = (name, system, rule.env or ALL_ENVS)
            if quiet_builtin(name, project, reading, previous.get(key)):
                continue
            statuses.append(_apply_alone(conn, project, name, rule, system, reading,
                                         previous.get(key), now, actor))
        watched = {(name, system, rule.env or ALL_ENVS) for name, rule, system, _ in readings}
        gone = [key for key in previous if key not in watched]
        for key in gone:
            if previous[key].state == "firing":
                _resolve_unwatched(conn, project, previous[key], now, actor)
        alert_store.forget(conn, gone)
    return statuses


#: The reason of the resolved event of an alert the project file stopped watching.
UNWATCHED = "no longer watched (trimtab.yaml changed)"


def _resolve_unwatched(conn, project: Project, state: AlertState, now: datetime,
                       actor: str) -> None:
    """A firing alert whose rule was removed, or no longer watches its system or
    environment, resolves through the channels its firing went to (those still
    declared): its state was dropped in silence, so a pager stayed open for ever and the
    dashboard showed it firing."""
    fired = alert_store.latest_event(conn, state.rule, state.system, state.env)
    if fired is None or fired.state != "firing":
        return
    document = fired.document
    where = state.system + (f" ({document['env']})" if document.get("env") else "")
    document.update(
        event_id=None, state="resolved", value=None, time=now.isoformat(), reason=UNWATCHED,
        detail=f"alert state dropped at {now:%Y-%m-%d %H:%M} UTC",
        summary=f"{where}: {state.rule} {UNWATCHED}; resolved")
    targets = [d.target for d in alert_store.deliveries(conn, [fired.id])[fired.id]
               if d.target in project.spec.channels]
    alert_store.add_event(conn, document=document, targets=targets, actor=actor)


def _read(store, name, rule, system, now, cache, budgets) -> Reading:
    """A metric that cannot be read (its store part broken) leaves this rule's
    state as it was; the other rules are still evaluated."""
    try:
        return read_metric(store, rule, system, now, cache, budgets)
    except Exception as exc:  # noqa: BLE001 - one rule must not stop the others
        log.exception("alert %s: cannot read %s for %s", name, rule.metric, system)
        return Reading(None, f"cannot read {rule.metric}: {type(exc).__name__}: {exc}",
                       failed=True)


def _apply_alone(conn, project, name, rule, system, reading, previous, now,
                 actor) -> AlertStatus:
    """Apply one rule's reading in a savepoint of its own: a rule whose transition fails
    (a store row it needs gone) is reported and keeps its state, and the other rules'
    transitions are still written; the whole evaluation failed before, so one broken
    rule silenced every alert."""
    try:
        with conn.begin_nested():
            return _apply(conn, project, name, rule, system, reading, previous, now, actor)
    except Exception as exc:  # noqa: BLE001 - one rule must not stop the others
        log.exception("alert %s: cannot record its state for %s", name, system)
        return _error(name, rule, system, now,
                      f"cannot record the state: {type(exc).__name__}: {exc}")


def _error(name, rule, system, now, detail) -> AlertStatus:
    return AlertStatus(
        rule=name, system=system, env=rule.env, metric=rule.metric, severity=rule.severity,
        comparator=rule.comparator, threshold=rule.threshold, window=rule.window,
        state="error", value=None, detail=detail, since=now)


def _apply(conn, project, name, rule, system, reading, previous, now, actor) -> AlertStatus:
    if reading.failed:
        return _error(name, rule, system, now, reading.detail)
    value = reading.value
    if value is not None and not math.isfinite(value):
        value = None
    holds = None if value is None else rule.holds(value)
    state, active_since, event_kind = step(previous, holds, now, rule.for_delta)
    since = previous.since if previous and previous.state == state else now
    env = rule.env or ALL_ENVS
    alert_store.put_state(conn, AlertState(
        rule=name, system=system, env=env, state=state, value=value, since=since,
        active_since=active_since, evaluated_at=now), existed=previous is not None)
    event = None
    if event_kind is not None:
        document = event_document(
            project, name, rule, system, state=event_kind, value=value, now=now,
            active_since=active_since or (previous.active_since if previous else None),
            reason=_reason(event_kind, value), detail=reading.detail)
        run = rule.run is not None and event_kind in rule.run.events
        event = alert_store.add_event(conn, document=document,
                                      targets=[*rule.channels, *(["run:"] if run else [])],
                                      actor=actor)
        if event_kind == "firing" and rule.metric == "quality_score":
            _flag_low_scores(conn, name, rule, system, now, event.id)
    return AlertStatus(
        rule=name, system=system, env=rule.env, metric=rule.metric, severity=rule.severity,
        comparator=rule.comparator, threshold=rule.threshold, window=rule.window, state=state,
        value=value, detail=reading.detail, since=since, event=event,
    )


#: Calls a firing quality_score alert flags for human review.
FLAGGED_PER_ALERT = 5


def _flag_low_scores(conn, name: str, rule: AlertRuleSpec, system: str, now: datetime,
                     event_id: int) -> None:
    """The lowest-scored calls behind a firing quality alert join the review sample, so
    people look at what the scores complain about."""
    low = score_store.lowest(conn, system=system, start=now - rule.window_delta, end=now,
                             env=rule.env, name=rule.score, limit=FLAGGED_PER_ALERT,
                             below=rule.threshold if rule.comparator in ("<", "<=") else None)
    for call_id in low:
        try:
            call = call_store.get(conn, call_id)
        except NotFound:
            continue  # pruned since it was scored (scores outlive their calls)
        flag_store.add(conn, call, source="alert",
                       reason=f"alert {name} (event {event_id}) fired", actor=f"alert:{name}")


def _reason(event_kind: str, value: float | None) -> str:
    if event_kind == "firing":
        return "threshold crossed"
    return "no data in the window" if value is None else "back within the threshold"


def event_document(
    project: Project,
    name: str,
    rule: AlertRuleSpec,
    system: str,
    *,
    state: str,
    value: float | None,
    now: datetime,
    active_since: datetime | None,
    reason: str,
    detail: str,
    test: bool = False,
) -> dict[str, Any]:
    """The JSON every channel and command receives (``event_id`` is added on storing)."""
    where = system + (f" ({rule.env})" if rule.env else "")
    shown = format_value(rule.metric, value)
    limit = format_value(rule.metric, rule.threshold)
    if state == "firing":
        summary = (f"{where}: {rule.metric} {shown} {rule.comparator} {limit} "
                   f"over the last {rule.window}")
    else:
        summary = f"{where}: {rule.metric} {reason} ({shown}; threshold {rule.comparator} {limit})"
    return {
        "kind": "trimtab.alert", "version": 1, "event_id": None, "test": test,
        "project": project.spec.project, "state": state, "rule": name,
        "description": rule.description, "system": system, "env": rule.env,
        "severity": rule.severity, "metric": rule.metric, "value": value,
        "comparator": rule.comparator, "threshold": rule.threshold, "window": rule.window,
        "for": str(rule.for_), "time": now.isoformat(),
        "active_since": active_since.isoformat() if active_since else None,
        "reason": reason, "detail": detail, "summary": summary,
    }
