"""The observing side of a workspace: drift, the cost report, scores and alerts.

A part of ``Workspace`` (see workspace.py), kept in its own module so each
stays readable in one sitting. It holds no state of its own.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from trimtab.actor import current_actor
from trimtab.errors import TrimtabError
from trimtab.store import calls as call_store
from trimtab.store import drift as drift_store
from trimtab.store import systems as system_store
from trimtab.store.drift import DriftBaseline, DriftResult

if TYPE_CHECKING:
    from trimtab.observe.channels import Outcome
    from trimtab.observe.cost_report import CostReport
    from trimtab.observe.drift.monitor import DriftCheck
    from trimtab.observe.monitor import Cycle
    from trimtab.store.alerts import AlertEvent, AlertState, Delivery
    from trimtab.store.scores import Score


class Observing:
    # --- drift ----------------------------------------------------------------

    def _drift_scope(self, system: str, env: str | None) -> str:
        """The env to check (production by default); the system must be known."""
        if env is None:
            env = self.project.production if self.project_file else "production"
        elif self.project_file:
            self.project.check_env(env)
        declared = self.project_file is not None and system in self.project.spec.systems
        if not declared:
            with self.store.read() as conn:
                if system_store.find(conn, system) is None:
                    self.project.system(system)  # raises, naming the declared systems
        return env

    def drift_baseline(
        self,
        system: str,
        *,
        env: str | None = None,
        window: timedelta | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        file: str | Path | None = None,
        name: str | None = None,
        embeddings: bool = False,
    ) -> DriftBaseline:
        """Store a drift reference profile of ``system`` in ``env``.

        The reference is a file, a time window (``since``/``until``, or the last
        ``window``), or by default the first 7 days of calls of the release
        active in ``env``. Only the profile is stored, never the rows.
        """
        monitor = _drift_monitor()

        env = self._drift_scope(system, env)
        chosen = [x is not None for x in (window, since or until, file)]
        if sum(chosen) > 1:
            raise TrimtabError("give one reference: --window, --since/--until, or --file.")
        if file is not None:
            reference = monitor.file_window(Path(file))
        elif window is not None or since is not None or until is not None:
            end = until or datetime.now(UTC)
            start = since or end - (window or monitor.DEFAULT_BASELINE_SPAN)
            reference = monitor.calls_window(
                self.store, system, env, start, end, which="reference",
                fix="widen --window, or move --since/--until")
        else:
            reference = monitor.first_week_of_release(self.store, system, env)
        return monitor.save_baseline(self.store, system, env, reference, name=name,
                                     embeddings=embeddings, actor=current_actor())

    def drift(
        self,
        system: str,
        *,
        env: str | None = None,
        reference: str | Path | timedelta | tuple[datetime, datetime] | None = None,
        current: Path | timedelta | tuple[datetime, datetime] = timedelta(hours=24),
        end: datetime | None = None,
        drift_share: float = 0.5,
        embeddings: bool = False,
        save: bool = True,
    ) -> DriftCheck:
        """Check the current window of ``system`` for drift against a reference.

        ``reference``: None for the newest stored baseline, a baseline name or
        id prefix, a file, a (start, end) window, or a span that ends where the
        current window starts. ``current``: the last span before ``end`` (now),
        a (start, end) window, or a file. A span never reaches back into the
        reference's calls: it starts where the reference ends (an error when
        no call is left). The result is stored and audited unless ``save=False``.
        """
        monitor = _drift_monitor()

        env = self._drift_scope(system, env)
        end = end or datetime.now(UTC)
        baseline = None
        if reference is None or isinstance(reference, str):
            with self.store.read() as conn:
                baseline = (drift_store.get_baseline(conn, system, reference, env) if reference
                            else drift_store.latest_baseline(conn, system, env))
        if isinstance(current, Path):
            cur = monitor.file_window(current)
        else:
            start, stop = (end - current, end) if isinstance(current, timedelta) else current
            if isinstance(reference, tuple):
                bounds = monitor.Window("", [], *reference)
            else:
                bounds = baseline
            moved = isinstance(current, timedelta) and bounds is not None \
                and monitor.overlaps(bounds, start, stop)
            if moved:
                start = monitor.reference_end(bounds)
            cur = monitor.calls_window(self.store, system, env, start, stop,
                                       after_reference=moved)
            if bounds is not None and monitor.overlaps(bounds, start, stop):
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
            ref = baseline
        elif isinstance(reference, Path):
            ref = monitor.file_window(reference)
        else:
            if isinstance(reference, timedelta):
                if cur.start is None:
                    raise TrimtabError("a reference span needs a current time window, "
                                       "not a file. Fix: give --reference START..END.")
                reference = (cur.start - reference, cur.start)
            ref = monitor.calls_window(self.store, system, env, *reference, which="reference",
                                       fix="widen --reference")
        return monitor.check(self.store, system, env, reference=ref, current=cur,
                             drift_share=drift_share, save=save, actor=current_actor(),
                             embeddings=embeddings)

    def drift_baselines(self, system: str, env: str | None = None) -> list[DriftBaseline]:
        """Stored baselines of ``system``, newest first."""
        with self.store.read() as conn:
            return drift_store.baselines(conn, system, env)

    def drift_history(
        self, system: str, env: str | None = None, limit: int = 20
    ) -> list[DriftResult]:
        """Stored drift results of ``system``, newest first."""
        with self.store.read() as conn:
            return drift_store.results(conn, system, env, limit)

    # --- end drift --------------------------------------------------------------

    # --- cost report ------------------------------------------------------------

    def cost_report(self, month: str | None = None) -> CostReport:
        """Spend of ``month`` (YYYY-MM; default: the last full month) by system, model
        and user, against the month before; read from rollups."""
        from trimtab.observe import cost_report

        return cost_report.build(self.store, month or cost_report.last_full_month())


    # --- alerts ---------------------------------------------------------------

    def score(self, call_id: str, name: str, value: float, comment: str | None = None) -> Score:
        """Record a quality score on a recorded call (a reviewer's or an evaluator's
        verdict, like a Langfuse score); audited. ``quality_score`` rules average them."""
        import math

        from trimtab.store import scores as score_store

        if not name or len(name) > 100:
            raise TrimtabError(f"score name {name!r}: give 1 to 100 characters, e.g. helpful.")
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not math.isfinite(value):
            raise TrimtabError(f"score value {value!r}: give a finite number, e.g. 0.8 or 4.")
        with self.store.write() as conn:
            call = call_store.get(conn, call_id)
            return score_store.add(conn, call, name=name, value=float(value), comment=comment,
                                   actor=current_actor())

    def scores(self, call_id: str) -> list[Score]:
        from trimtab.store import scores as score_store

        with self.store.read() as conn:
            return score_store.for_call(conn, call_store.get(conn, call_id).id)

    def check_alerts(self, *, now: datetime | None = None) -> Cycle:
        """Evaluate every alert rule once and send the notifications that are due."""
        from trimtab.observe.monitor import run_cycle

        return run_cycle(self, now=now)

    def monitor(self, interval: float | timedelta = 30.0, stop_event=None, **kwargs) -> None:
        """Evaluate and notify every ``interval`` until ``stop_event`` is set."""
        from trimtab.observe.monitor import run_monitor

        run_monitor(self, interval, stop_event, **kwargs)

    def alert_states(self) -> list[AlertState]:
        """The current state of every (rule, system, env) evaluated so far."""
        from trimtab.store import alerts as alert_store

        with self.store.read() as conn:
            return list(alert_store.states(conn).values())

    def alert_events(
        self,
        *,
        rule: str | None = None,
        system: str | None = None,
        since: datetime | None = None,
        limit: int | None = 50,
    ) -> list[AlertEvent]:
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
        from trimtab.observe import channels as notify
        from trimtab.project.naming import suggest as _suggest

        channels = self.project.spec.channels
        if name not in channels:
            raise TrimtabError(
                f"unknown channel {name!r}.{_suggest(name, channels)} "
                f"{self.project.path.name} declares: {', '.join(channels) or 'none'}. "
                "Fix: add it under `channels:`."
            )
        return notify.send(channels[name], notify.test_document(self.project.spec.project, name))

    # --- end alerts -----------------------------------------------------------


def _drift_monitor():
    """The drift monitor, or a clear error when its optional dependencies are missing."""
    try:
        from trimtab.observe.drift import monitor
    except ImportError as exc:
        raise TrimtabError(
            f"drift checks need numpy and scipy ({exc.name} is missing). "
            "Fix: pip install 'trimtab[drift]'."
        ) from None
    return monitor
