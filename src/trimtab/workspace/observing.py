"""The Workspace's methods for the call log and what is read from it: recording, queries,
metrics, retention, drift, cost and alerts.

A mixin of trimtab.workspace.Workspace, which gives the ``store``, ``project``,
``authorize`` and the other parts these methods use; each hands them to the
package that does the work.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trimtab.actor import current_actor
from trimtab.errors import TrimtabError
from trimtab.sdk.record import call_record

if TYPE_CHECKING:
    import threading

    from trimtab.observe.channels import Outcome
    from trimtab.observe.cost_report import CostReport
    from trimtab.observe.drift.monitor import DriftCheck
    from trimtab.observe.metrics import MetricRow, Series, SpendRow
    from trimtab.observe.monitor import Cycle
    from trimtab.observe.retention import Pruned
    from trimtab.store.alerts import AlertEvent, AlertState, Delivery
    from trimtab.store.calls import Call
    from trimtab.store.drift import DriftBaseline, DriftResult
    from trimtab.store.releases import Release


class ObserveMethods:
    """The call log and what is read from it: mixed into Workspace."""

    def record(self, system: str, inputs: Any, output: Any, latency_ms: float, *,
               env: str | None = None, status: str = "ok", error: str | None = None,
               model: str | None = None, user: str | None = None,
               tags: dict[str, str] | None = None, **fields: Any) -> str:
        """Record a call or prediction made elsewhere (a scikit-learn model, an
        endpoint trimtab does not proxy). Returns the call id; never blocks on
        the database. RecordingUnavailable when the spool cannot take it and the
        system requires recording (``recording: required``)."""
        self.check_open("record()")
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
        (request, response, error). Every filter but the system and the time range
        looks at the newest store.calls.SEARCH_SCAN calls those keep."""
        from trimtab.store import calls as call_store

        with self.store.read() as conn:
            return call_store.query(conn, system=system, env=env, since=since, until=until,
                                    status=status, release=release, model=model, text=text,
                                    limit=limit)

    def call(self, ref: str) -> Call:
        from trimtab.store import calls as call_store

        with self.store.read() as conn:
            return call_store.get(conn, ref)

    def metrics(self, *, window: timedelta = timedelta(hours=24),
                by: tuple[str, ...] | list[str] = (), system: str | None = None,
                env: str | None = None, tag: str | None = None,
                end: datetime | None = None) -> list[MetricRow]:
        """Calls, errors, p50/p95/p99, tokens and cost over a window, grouped."""
        from trimtab.observe.metrics import compute as compute_metrics

        return compute_metrics(self.store, window=window, by=tuple(by), system=system, env=env,
                               tag=tag, end=end)

    def spend(self, system: str, *, by: str, window: timedelta = timedelta(hours=24),
              tag: str | None = None, end: datetime | None = None,
              top: int = 20) -> list[SpendRow]:  # observe.metrics.SPEND_TOP
        """A system's calls and spend by model, user or one tag's values: the top
        groups and one "(all others)" line (a dashboard's cost tables)."""
        from trimtab.observe.metrics import spend as metric_spend

        return metric_spend(self.store, window=window, by=by, system=system, tag=tag, end=end,
                            top=top)

    def system_spend(self, *, window: timedelta = timedelta(hours=24),
                     end: datetime | None = None) -> list[SpendRow]:
        """Every system's calls and spend over a window (the portfolio's month column)."""
        from trimtab.observe.metrics import system_spend

        return system_spend(self.store, window=window, end=end)

    def metric_series(self, *, window: timedelta = timedelta(hours=24),
                      system: str | None = None, env: str | None = None,
                      end: datetime | None = None) -> Series:
        """The same metrics per step over a window (a chart's points)."""
        from trimtab.observe.metrics import series as metric_series

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
        from trimtab.store import drift as drift_store

        with self.store.read() as conn:
            return drift_store.baselines(conn, system, env)

    def drift_history(self, system: str, env: str | None = None,
                      limit: int = 20) -> list[DriftResult]:
        """Stored drift results of ``system``, newest first."""
        from trimtab.store import drift as drift_store

        with self.store.read() as conn:
            return drift_store.results(conn, system, env, limit)

    def cost_report(self, month: str | None = None) -> CostReport:
        """Spend of ``month`` (YYYY-MM; default: the last full month, or the latest
        month with calls when that one has none) by system, model and user, against
        the month before; read from rollups."""
        from trimtab.observe import cost_report
        from trimtab.observe.budgets import with_key_budgets

        budgets = with_key_budgets(
            self.store, self.project.spec.budgets if self.project_file is not None else {})
        return cost_report.build(self.store, month or cost_report.default_month(self.store),
                                 budgets)

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
