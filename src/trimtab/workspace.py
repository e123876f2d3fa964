"""A workspace is a project file plus the store and artefact store it uses.

``trimtab.connect()`` returns one; the CLI and (later) the web app are thin
shells over its methods, so every front end does the same thing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trimtab import releases as release_specs
from trimtab.active import ActiveReleases
from trimtab.actor import ci_run_url, current_actor
from trimtab.artefacts import ArtefactStore
from trimtab.canonical import canonical_json
from trimtab.diffs import SpecDiff, diff_specs
from trimtab.errors import TrimtabError
from trimtab.gitinfo import git_state
from trimtab.metrics import MetricRow
from trimtab.metrics import compute as compute_metrics
from trimtab.project import Project, find_project_file, load_project
from trimtab.recorder import Recorder
from trimtab.records import CallRecord
from trimtab.store import Store
from trimtab.store import audit as audit_store
from trimtab.store import calls as call_store
from trimtab.store import deployments as deployment_store
from trimtab.store import drift as drift_store
from trimtab.store import keys as key_store
from trimtab.store import releases as release_store
from trimtab.store import systems as system_store
from trimtab.store.audit import AuditEntry, ChainReport
from trimtab.store.calls import Call
from trimtab.store.deployments import Deployment
from trimtab.store.drift import DriftBaseline, DriftResult
from trimtab.store.engine import database_url_from_env, default_sqlite_url
from trimtab.store.keys import ApiKey
from trimtab.store.releases import Release
from trimtab.store.systems import System

if TYPE_CHECKING:
    from trimtab.calling import Caller, SystemClient
    from trimtab.cost_report import CostReport
    from trimtab.drift.monitor import DriftCheck
    from trimtab.monitor import Cycle  # alerts
    from trimtab.notify import Outcome  # alerts
    from trimtab.retention import Pruned
    from trimtab.store.alerts import AlertEvent, AlertState, Delivery  # alerts
    from trimtab.store.scores import Score  # alerts

log = logging.getLogger("trimtab")

# What record() accepts beyond its named arguments: usage, cost, timing.
RECORD_FIELDS = {
    "provider", "http_status", "ttft_ms", "input_tokens", "output_tokens",
    "cached_input_tokens", "cache_write_tokens", "reasoning_tokens", "cost_micro_usd",
    "price_version", "error_kind", "id", "time", "api_key_id",
}


class Workspace:
    def __init__(self, project_file: Path | None, database_url: str | None = None):
        self.project_file = project_file
        self._database_url = database_url
        self._project: tuple[tuple[int, int] | None, Project] | None = None
        # Called with every record after it is spooled (Prometheus, OpenTelemetry).
        self.observers: list[Callable[[CallRecord], None]] = []
        self._telemetry: list[tuple[Callable[[float], bool], Callable[[], None]]] = []

    # --- where things live --------------------------------------------------

    @property
    def project(self) -> Project:
        """The project file as it is now: reloaded when it changed on disk, so a
        long-lived workspace never releases a stale declaration."""
        if self.project_file is None:
            raise TrimtabError(
                "no trimtab.yaml found in this directory or its parents. "
                "Fix: run `trimtab init`, cd into your project, or set TRIMTAB_PROJECT."
            )
        try:
            stat = self.project_file.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            stamp = None
        if self._project is None or self._project[0] != stamp:
            self._project = (stamp, load_project(self.project_file))
        return self._project[1]

    @property
    def root(self) -> Path | None:
        return self.project_file.parent if self.project_file else None

    @cached_property
    def database_url(self) -> str:
        url = self._database_url or database_url_from_env()
        if url:
            return url
        if self.root is None:
            raise TrimtabError(
                "no store to open: there is no trimtab.yaml here and TRIMTAB_DATABASE_URL "
                "is not set. Fix: cd into your project or export TRIMTAB_DATABASE_URL."
            )
        return default_sqlite_url(self.root)

    @cached_property
    def store(self) -> Store:
        return Store(self.database_url)

    @cached_property
    def artefacts(self) -> ArtefactStore:
        url = os.environ.get("TRIMTAB_ARTEFACT_STORE") or self.project.spec.artefact_store
        if url is None:
            url = str(self.project.root / ".trimtab" / "artefacts")
        elif "://" not in url and not os.path.isabs(url):
            url = str(self.project.root / url)
        return ArtefactStore(url)

    @cached_property
    def spool_dir(self) -> Path:
        explicit = os.environ.get("TRIMTAB_SPOOL_DIR")
        if explicit:
            return Path(explicit)
        if self.root is not None:
            return self.root / ".trimtab" / "spool"
        return Path.home() / ".cache" / "trimtab" / "spool"

    @cached_property
    def recorder(self) -> Recorder:
        return Recorder(self.store, self.spool_dir)

    @cached_property
    def active(self) -> ActiveReleases:
        return ActiveReleases(self.store)

    def emit(self, record: CallRecord) -> str:
        """Spool a record (durable before this returns), then tell the observers.

        An observer that fails is logged and skipped: exporting telemetry must
        never fail the call it describes.
        """
        call_id = self.recorder.record(record)
        for observer in self.observers:
            try:
                observer(record)
            except Exception:  # noqa: BLE001 - telemetry must not break calls
                log.exception("call observer %r failed", observer)
        return call_id

    @cached_property
    def caller(self) -> Caller:
        from trimtab.calling import Caller  # the runtime (httpx, prices) loads on first call

        return Caller(self)

    def system(self, name: str, env: str | None = None) -> SystemClient:
        """A handle to call a system's active release: ``.run(vars)``, ``await .arun(vars)``.

        ``env`` defaults to the last (production) environment.
        """
        from trimtab.calling import SystemClient

        return SystemClient(self, name, env)

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every recorded call is in the store (scripts call this last)."""
        if "caller" in self.__dict__:
            self.caller.drain(timeout)
        done = self.recorder.flush(timeout) if "recorder" in self.__dict__ else True
        return self._flush_telemetry(timeout) and done

    def close(self) -> None:
        if "caller" in self.__dict__:
            self.caller.close()
        if "recorder" in self.__dict__:
            self.recorder.close()
        if "store" in self.__dict__:
            self.store.dispose()
        self._close_telemetry()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # --- telemetry ------------------------------------------------------------
    # Exporters that buffer (OpenTelemetry's batch span processor) register here,
    # so that flush() and close() also push out what they hold.

    def add_telemetry(self, *, flush: Callable[[float], bool], close: Callable[[], None]) -> None:
        self._telemetry.append((flush, close))

    def _flush_telemetry(self, timeout: float) -> bool:
        done = True
        for flush, _ in list(self._telemetry):
            try:
                done = bool(flush(timeout)) and done
            except Exception:  # noqa: BLE001 - telemetry must not break the caller
                log.exception("telemetry flush %r failed", flush)
                done = False
        return done

    def _close_telemetry(self) -> None:
        hooks, self._telemetry = self._telemetry, []
        for _, close in hooks:
            try:
                close()
            except Exception:  # noqa: BLE001
                log.exception("telemetry close %r failed", close)

    # --- end telemetry --------------------------------------------------------

    # --- systems ------------------------------------------------------------

    def sync(self, names: list[str] | None = None) -> list[tuple[System, str]]:
        """Register or update systems from the project file (all when names is None)."""
        declared = self.project.spec.systems
        for name in names or []:
            self.project.system(name)
        actor = current_actor()
        with self.store.write() as conn:
            return [
                system_store.register(conn, name, declared[name].declared(), actor=actor)
                for name in (names or list(declared))
            ]

    def systems(self) -> list[System]:
        with self.store.read() as conn:
            return system_store.list_all(conn)

    # --- releases -----------------------------------------------------------

    def release(self, system: str, note: str = "") -> tuple[Release, bool]:
        """Snapshot ``system`` as declared now. Returns (release, created)."""
        spec = release_specs.resolve_spec(self.project, system, self.artefacts)
        rid, text = release_specs.release_id(spec)
        git = git_state(self.project.root)
        actor = current_actor()
        with self.store.write() as conn:
            stored, _ = system_store.register(
                conn, system, self.project.system(system).declared(), actor=actor
            )
            return release_store.create(
                conn, system_id=stored.id, system_name=system, release_id=rid,
                spec_json=text, note=note, actor=actor,
                git_commit=git.commit if git else None, git_dirty=git.dirty if git else None,
            )

    def releases(self, system: str) -> list[Release]:
        with self.store.read() as conn:
            return release_store.for_system(conn, system_store.get(conn, system).id)

    def get_release(self, ref: str, system: str | None = None) -> Release:
        with self.store.read() as conn:
            return release_store.resolve(conn, ref, system=system)

    def diff(self, old_ref: str, new_ref: str) -> tuple[Release, Release, SpecDiff]:
        old, new = self.get_release(old_ref), self.get_release(new_ref)
        changes = diff_specs(old.spec, new.spec, old_label=old.short_id, new_label=new.short_id)
        return old, new, changes

    def fetch_artefact(self, ref: str, name: str, destination: Path) -> Path:
        release = self.get_release(ref)
        artefacts = release.spec.get("artefacts", {})
        if name not in artefacts:
            raise TrimtabError(
                f"release {release.short_id} has no artefact {name!r}; it has: "
                f"{', '.join(artefacts) or 'none'}."
            )
        return self.artefacts.get(artefacts[name]["sha256"], destination)

    # --- environments -------------------------------------------------------

    def promote(
        self,
        system: str,
        ref: str,
        env: str,
        reason: str = "",
        *,
        canary: int | None = None,
        shadow: int | None = None,
    ) -> Deployment | None:
        """Make a release active in ``env``; None when it already was.

        With ``canary=N`` the release answers N% of calls beside the stable one;
        with ``shadow=N`` it gets a copy of N% of calls, recorded, never returned.
        A later plain promote graduates it; a rollback aborts it.
        """
        self.project.check_env(env)
        if canary is not None and shadow is not None:
            raise TrimtabError("choose --canary or --shadow, not both.")
        with self.store.write() as conn:
            stored = system_store.get(conn, system)
            release = release_store.resolve(conn, ref)
            if canary is not None or shadow is not None:
                return deployment_store.start_candidate(
                    conn, system=stored, release=release, env=env,
                    mode="canary" if canary is not None else "shadow",
                    percent=canary if canary is not None else shadow, reason=reason,
                    actor=current_actor(), ci_url=ci_run_url(),
                )
            return deployment_store.promote(
                conn, system=stored, release=release, env=env, reason=reason,
                actor=current_actor(), ci_url=ci_run_url(),
            )

    def rollback(
        self, system: str, env: str, to: str | None = None, reason: str = ""
    ) -> Deployment:
        self.project.check_env(env)
        with self.store.write() as conn:
            stored = system_store.get(conn, system)
            target = release_store.resolve(conn, to) if to else None
            return deployment_store.rollback(
                conn, system=stored, env=env, to=target, reason=reason,
                actor=current_actor(), ci_url=ci_run_url(),
            )

    def status(self) -> list[Deployment]:
        """The stable deployment of every (system, env)."""
        with self.store.read() as conn:
            return deployment_store.current_all(conn)

    def candidates(self) -> list[Deployment]:
        """Canaries and shadows running beside a stable release."""
        with self.store.read() as conn:
            return deployment_store.candidates_all(conn)

    def history(self, system: str, env: str | None = None) -> list[Deployment]:
        with self.store.read() as conn:
            return deployment_store.history(conn, system_store.get(conn, system).id, env)

    def active_release(self, system: str, env: str) -> Release | None:
        """Read through to the store: always the latest (the runtime uses ``active``)."""
        with self.store.read() as conn:
            found = system_store.find(conn, system)
            current = deployment_store.active(conn, found.id, env) if found else None
            return release_store.resolve(conn, current.release_id) if current else None

    # --- calls ----------------------------------------------------------------

    def record(
        self,
        system: str,
        inputs: Any,
        output: Any,
        latency_ms: float,
        *,
        env: str | None = None,
        status: str = "ok",
        error: str | None = None,
        model: str | None = None,
        user: str | None = None,
        tags: dict[str, str] | None = None,
        **fields: Any,
    ) -> str:
        """Record a call or prediction made elsewhere (a scikit-learn model, an
        endpoint trimtab does not proxy). Returns the call id; never blocks on
        the database."""
        if env is None:
            env = self.project.production if self.project_file else "production"
        unknown = set(fields) - RECORD_FIELDS
        if unknown:
            raise TrimtabError(
                f"record(): unknown field(s) {', '.join(sorted(unknown))}. "
                f"Allowed: {', '.join(sorted(RECORD_FIELDS))}."
            )
        if status not in ("ok", "error"):
            raise TrimtabError(f"record(): status must be 'ok' or 'error', not {status!r}.")
        release = self.active.get(system, env)
        # The system's declared privacy applies before anything is spooled; a
        # system the project file does not declare gets the safe default.
        from trimtab.runtime.redaction import Redactor  # trimtab.runtime loads httpx

        declared = self.project.spec.systems.get(system) if self.project_file else None
        privacy = Redactor.from_spec(declared.privacy() if declared else None)
        errors = privacy if privacy.mode in ("full", "redacted") else \
            Redactor("redacted", privacy.rules)  # an error message stays readable, masked
        record = CallRecord(
            system=system, env=env, latency_ms=float(latency_ms), status=status,
            error=errors.text(error), release_id=release.id if release else None,
            source="record", model=model, user_id=user, tags=tags,
            logging_mode=privacy.mode, request=_storable(privacy, inputs),
            response=_storable(privacy, output), **fields,
        )
        return self.emit(record)

    def calls(
        self,
        *,
        system: str | None = None,
        env: str | None = None,
        since: datetime | None = None,
        status: str | None = None,
        limit: int = 50,
    ) -> list[Call]:
        with self.store.read() as conn:
            return call_store.query(
                conn, system=system, env=env, since=since, status=status, limit=limit
            )

    def metrics(
        self,
        *,
        window: timedelta = timedelta(hours=24),
        by: tuple[str, ...] | list[str] = (),
        system: str | None = None,
        env: str | None = None,
        tag: str | None = None,
        end: datetime | None = None,
    ) -> list[MetricRow]:
        """Calls, errors, p50/p95/p99, tokens and cost over a window, grouped."""
        return compute_metrics(self.store, window=window, by=tuple(by), system=system, env=env,
                               tag=tag, end=end)

    def call(self, ref: str) -> Call:
        with self.store.read() as conn:
            return call_store.get(conn, ref)

    def prune(
        self,
        older_than: timedelta | None = None,
        *,
        system: str | None = None,
        dry_run: bool = False,
    ) -> list[Pruned]:
        """Delete calls older than each system's ``retention_days``; ``older_than``
        reaches only systems that declare none. Audited per system; rollups stay."""
        from trimtab import retention

        declared = self.project.spec.systems if self.project_file else {}
        return retention.prune(self.store, declared, actor=current_actor(),
                               older_than=older_than, system=system, dry_run=dry_run)

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
        a (start, end) window, or a file. The result is stored and audited
        unless ``save=False``.
        """
        monitor = _drift_monitor()

        env = self._drift_scope(system, env)
        end = end or datetime.now(UTC)
        if isinstance(current, Path):
            cur = monitor.file_window(current)
        else:
            start, stop = (end - current, end) if isinstance(current, timedelta) else current
            cur = monitor.calls_window(self.store, system, env, start, stop)
        if reference is None or isinstance(reference, str):
            with self.store.read() as conn:
                ref = (drift_store.get_baseline(conn, system, reference, env) if reference
                       else drift_store.latest_baseline(conn, system, env))
            if ref is None:
                raise TrimtabError(
                    f"no drift baseline for {system} in env {env}. Fix: `trimtab drift "
                    f"baseline {system} --env {env}` stores one (the first 7 days of the "
                    "active release), or pass --reference (a window, a span or a file)."
                )
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
        from trimtab import cost_report

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
        from trimtab.monitor import run_cycle

        return run_cycle(self, now=now)

    def monitor(self, interval: float | timedelta = 30.0, stop_event=None, **kwargs) -> None:
        """Evaluate and notify every ``interval`` until ``stop_event`` is set."""
        from trimtab.monitor import run_monitor

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
        from trimtab import notify
        from trimtab.project import _suggest

        channels = self.project.spec.channels
        if name not in channels:
            raise TrimtabError(
                f"unknown channel {name!r}.{_suggest(name, channels)} "
                f"{self.project.path.name} declares: {', '.join(channels) or 'none'}. "
                "Fix: add it under `channels:`."
            )
        return notify.send(channels[name], notify.test_document(self.project.spec.project, name))

    # --- end alerts -----------------------------------------------------------

    # --- gateway keys -------------------------------------------------------

    def create_key(
        self,
        name: str,
        *,
        env: str,
        systems: list[str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> tuple[ApiKey, str]:
        """A virtual key for one application; the returned text is shown once."""
        self.project.check_env(env)
        for system in systems or []:
            self.project.system(system)
        with self.store.write() as conn:
            return key_store.create(
                conn, name=name, default_env=env, systems=systems or None, tags=tags or {},
                actor=current_actor(),
            )

    def keys(self) -> list[ApiKey]:
        with self.store.read() as conn:
            return key_store.list_all(conn)

    def revoke_key(self, key_id: str) -> ApiKey:
        with self.store.write() as conn:
            return key_store.revoke(conn, key_id, actor=current_actor())

    def authenticate(self, presented: str) -> ApiKey | None:
        with self.store.read() as conn:
            return key_store.authenticate(conn, presented)

    # --- audit --------------------------------------------------------------

    def audit_log(
        self,
        *,
        system: str | None = None,
        since: datetime | None = None,
        action: str | None = None,
        limit: int | None = None,
    ) -> list[AuditEntry]:
        with self.store.read() as conn:
            return audit_store.entries(conn, system=system, since=since, action=action, limit=limit)

    def verify_audit(self) -> ChainReport:
        with self.store.read() as conn:
            return audit_store.verify(conn)


def _storable(privacy: Any, value: Any) -> Any:
    """What of a recorded input or output may be stored, under a ``Redactor``.

    ``hashed`` keeps one hash of the whole value (equal inputs still compare,
    no part is readable); ``metadata`` keeps nothing; ``full`` and ``redacted``
    keep the structure and transform every string, dict keys included.
    """
    if value is None or privacy.mode == "metadata":
        return None
    if privacy.mode == "hashed":
        return privacy.text(value if isinstance(value, str) else
                            canonical_json(_json_like(value, str)))
    return _json_like(value, privacy.text)


def _json_like(value: Any, text: Callable[[str], Any]) -> Any:
    """A JSON-ready copy of ``value`` with ``text`` applied to every string. Long
    integers go through it too (a card number passed as a number), and objects
    JSON cannot hold (numpy, dates) as the text the spool would write for them."""
    if isinstance(value, str):
        return text(value)
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        masked = text(str(value)) if abs(value) >= 10**12 else None
        return value if masked is None or masked == str(value) else masked
    if isinstance(value, Mapping):
        return {text(str(k)): _json_like(v, text) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_like(v, text) for v in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars, pandas series
        return _json_like(value.tolist(), text)
    return text(str(value))


def _drift_monitor():
    """The drift monitor, or a clear error when its optional dependencies are missing."""
    try:
        from trimtab.drift import monitor
    except ImportError as exc:
        raise TrimtabError(
            f"drift checks need numpy and scipy ({exc.name} is missing). "
            "Fix: pip install 'trimtab[drift]'."
        ) from None
    return monitor


def connect(project: str | Path | None = None, *, database_url: str | None = None) -> Workspace:
    """Find the project (argument, TRIMTAB_PROJECT, or cwd and parents) and its store."""
    if project is not None:
        path = Path(project)
        project_file = path / "trimtab.yaml" if path.is_dir() else path
        if not project_file.is_file():
            raise TrimtabError(
                f"{project_file}: no such project file. "
                "Fix: run `trimtab init` there, or point at the directory holding trimtab.yaml."
            )
    else:
        project_file = find_project_file()
    ws = Workspace(project_file, database_url)
    # --- telemetry: OTLP span export when OTEL_EXPORTER_OTLP_*ENDPOINT is set ---
    from trimtab.otel import install_from_env

    install_from_env(ws)
    return ws


_default: Workspace | None = None


def active_release(system: str, env: str) -> Release | None:
    """The release active in ``env``, from the project found from the working directory."""
    global _default
    if _default is None:
        _default = connect()
    return _default.active_release(system, env)
