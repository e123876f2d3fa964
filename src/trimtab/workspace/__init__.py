"""A workspace is a project file plus the store and artefact store it uses.

``trimtab.connect()`` returns one; the CLI, the gateway and the monitor are
thin shells over its methods, so every front end does the same thing. This
is the facade: each method hands what it needs (the store, the project file,
the artefact store) to the package that does the work, in a line or two.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trimtab.actor import current_actor
from trimtab.errors import StoreUnavailable, TrimtabError
from trimtab.project.loader import find_project_file, load_project, missing_project_file
from trimtab.recorder.observers import Observers
from trimtab.releases.artefacts import ArtefactStore
from trimtab.sdk.record import RecordPrivacy
from trimtab.store import Store
from trimtab.store.engine import database_url_from_env, default_sqlite_url
from trimtab.workspace.access import AccessMethods
from trimtab.workspace.assessing import AssessMethods
from trimtab.workspace.governing import GovernMethods
from trimtab.workspace.observing import ObserveMethods
from trimtab.workspace.quality import QualityMethods
from trimtab.workspace.releasing import ReleaseMethods

# The recorder, the active-release watcher and the methods' own store modules (metrics,
# gates, the call log, drift, keys, audit) are imported where they are used: `trimtab
# eval` loads this package before its first call, and each cost it start-up time
# (bench/evals_vs_promptfoo.py; tests/test_startup.py).
if TYPE_CHECKING:
    import threading

    from trimtab.assess.cache import AssessmentCache
    from trimtab.project.models import Project
    from trimtab.recorder.recorder import Recorder
    from trimtab.recorder.records import CallRecord
    from trimtab.releases.active import ActiveReleases
    from trimtab.sdk.calling import Caller, SystemClient
    from trimtab.store.releases import Release

log = logging.getLogger("trimtab")

#: Seconds the hot paths (gateway requests, record(), the OpenTelemetry exporter) trust
#: their last look at trimtab.yaml.
PROJECT_TTL = 1.0

#: The parts of a workspace that start on first use; ``started()`` asks about them.
PARTS = ("store", "recorder", "caller", "active", "artefacts")


class Workspace(ReleaseMethods, GovernMethods, AccessMethods, QualityMethods,
                ObserveMethods, AssessMethods):
    """The Python API: where things live, systems, releases, environments, the
    call log, drift, cost, scores, alerts, gateway keys and the audit log."""

    def __init__(self, project_file: Path | None, database_url: str | None = None):
        self.project_file = project_file
        self._database_url = database_url
        self._project: tuple[tuple[int, int] | None, Project] | None = None
        self._project_looked = float("-inf")  # when recent_project() last looked at the file
        # Called with every record after it is spooled (Prometheus, OpenTelemetry): see
        # subscribe().
        self.observers = Observers()
        # Recorder(...) keywords for when the recorder starts (the gateway sets writer).
        self.recorder_options: dict[str, Any] = {}
        self._privacy = RecordPrivacy()
        self._unready: list[str] | None = None  # warn_unready() has run
        # What scheduled housekeeping (run_scheduled) remembers between cycles.
        self._schedule: dict[str, Any] = {}
        # The API token this workspace acts with (default: TRIMTAB_TOKEN); a server
        # sets it per request.
        self.token: str | None = None
        # Assessments the dashboard shows on every load (assess(cached=True)).
        self._assessments: AssessmentCache | None = None
        self._closed = False  # close() ran: calls and records are refused (check_open)

    # --- where things live --------------------------------------------------

    @property
    def project(self) -> Project:
        """The project file as it is now: reloaded when it changed on disk, so a
        long-lived workspace never releases a stale declaration."""
        if self.project_file is None:
            raise missing_project_file()
        try:
            stat = self.project_file.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            stamp = None
        if self._project is None or self._project[0] != stamp:
            self._project = (stamp, load_project(self.project_file))
        return self._project[1]

    def recent_project(self, *, fresh: bool = False) -> Project | None:
        """The project file for the hot paths (the gateway per request, record()
        per call): looked at (a stat) at most every PROJECT_TTL seconds, or now
        when ``fresh`` (a gateway starting). A stat per call cost 2 us, and 15 us
        while the writer thread held the GIL. A file broken mid-edit must not
        fail calls: the last good version keeps serving, and the problem is
        logged (once per look) until it is fixed."""
        if self.project_file is None:
            return None
        now = time.monotonic()
        if not fresh and self._project is not None and now - self._project_looked < PROJECT_TTL:
            return self._project[1]
        try:
            project = self.project
        except TrimtabError as exc:
            if self._project is None:
                raise
            log.error("%s; still using the last good version of %s", exc,
                      self.project_file.name)
            project = self._project[1]
        self._project_looked = now
        return project

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
        """Started on first use. ``TRIMTAB_RECORDER_WRITER=process`` (the gateway's
        default) moves the writer off this process's GIL into a child process."""
        from trimtab.recorder.recorder import Recorder

        options = dict(self.recorder_options)
        writer = os.environ.get("TRIMTAB_RECORDER_WRITER")
        if writer:
            if writer not in ("thread", "process"):
                raise TrimtabError(f"TRIMTAB_RECORDER_WRITER={writer!r} is not a writer. "
                                   "Fix: set it to `thread` or `process`.")
            options["writer"] = writer
        return Recorder(self._recording_store(), self.spool_dir, **options)

    def _recording_store(self) -> Store:
        """The store the recorder writes to. One that cannot be reached as this process
        starts is opened without migrating: records wait in the spool and go in once
        it answers (``ws.record()`` and ``instrument()`` raised StoreUnavailable
        instead). The first call that reads the store through ``ws.store`` then
        migrates it, if it needs to."""
        try:
            return self.store
        except StoreUnavailable as exc:
            log.warning("trimtab: %s; recording to the spool until it answers", exc)
            return Store(self.database_url, migrate=False)

    @cached_property
    def active(self) -> ActiveReleases:
        from trimtab.releases.active import ActiveReleases

        return ActiveReleases(self.store)

    def started(self, part: str) -> bool:
        """Whether a part that starts on first use (``PARTS``: the store, the
        recorder, ...) has started: asking never starts it."""
        if part not in PARTS:
            raise ValueError(f"started({part!r}): a workspace's parts are {', '.join(PARTS)}")
        if part == "caller":  # `caller` and `quiet_caller` are one caller
            part = "quiet_caller"
        return part in self.__dict__  # a cached_property lives there once computed

    # --- calls and their observers --------------------------------------------

    def emit(self, record: CallRecord, required: bool = False) -> str:
        """Spool a record (durable before this returns), then tell the observers.

        An observer that fails is logged and skipped: exporting telemetry must
        never fail the call it describes. A record the spool cannot take is
        dropped and counted, or, when ``required``, raises RecordingUnavailable.
        """
        call_id = self.recorder.record(record, required=required)
        self.observers.notify(record)
        return call_id

    def subscribe(self, observer: Callable[[CallRecord], object], *,
                  flush: Callable[[float], bool] | None = None,
                  close: Callable[[], None] | None = None) -> None:
        """Hand ``observer`` every record after it is spooled. An exporter that
        buffers (OpenTelemetry's batch span processor) gives ``flush`` and
        ``close`` too, so that ``flush()`` and ``close()`` push out what it holds."""
        self.observers.subscribe(observer, flush=flush, close=close)

    def unsubscribe(self, observer: Callable[[CallRecord], object]) -> None:
        self.observers.unsubscribe(observer)

    @cached_property
    def caller(self) -> Caller:
        """The runtime that calls releases, after ``warn_unready()`` has logged what
        this machine lacks for them (the SDK's and the gateway's start)."""
        self.warn_unready()
        return self.quiet_caller

    @cached_property
    def quiet_caller(self) -> Caller:
        """The same caller without ``warn_unready()`` first, for a run that logs it
        itself once its first calls are on their way: `trimtab eval` does, because the
        price check loads genai-prices, a fifth of its start-up before the first call
        (bench/evals_vs_promptfoo.py)."""
        from trimtab.sdk.calling import Caller  # the runtime (httpx, prices) loads on first call

        return Caller(lambda system, env: self.active.route(system, env), self.emit,
                      self._simulated_refusal, self._recording_required,
                      lambda: self.recorder.writable())

    def _recording_required(self, system: str) -> bool:
        """The system's ``recording`` policy (required at target stage 4 by default)."""
        project = self.recent_project()
        spec = project.spec.systems.get(system) if project is not None else None
        return spec is not None and spec.recording_required

    def _simulated_refusal(self, env: str) -> str | None:
        project = self.recent_project()
        if project is None:
            return "no trimtab.yaml allows the simulated provider here (allow_simulated)."
        return project.simulated_refusal(env)

    def warn_unready(self) -> list[str]:
        """Log, once per workspace, each provider whose key variable is unset and
        each model with no price (project/readiness.py); the gateway and the SDK
        call this as they start. Returns the lines."""
        if self._unready is not None or self.project_file is None:
            return self._unready or []
        from trimtab.project.readiness import readiness

        try:
            project = self.recent_project()
        except TrimtabError:  # a broken file: the call that needs it says so
            return []
        self._unready = readiness(project) if project is not None else []
        for line in self._unready:
            log.warning("trimtab: %s", line)
        return self._unready

    def system(self, name: str, env: str | None = None) -> SystemClient:
        """A handle to call a system's active release: ``.run(vars)``, ``await .arun(vars)``.

        ``env`` defaults to the last (production) environment.
        """
        from trimtab.sdk.calling import SystemClient

        return SystemClient(self, name, env)

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every recorded call is in the store (scripts call this last)."""
        if self.started("caller"):
            self.quiet_caller.drain(timeout)
        done = self.recorder.flush(timeout) if self.started("recorder") else True
        return self.observers.flush(timeout) and done

    def check_open(self, what: str) -> None:
        """Refuse a call or record on a closed workspace, before anything is called:
        its recorder is stopped, so the record was dropped (logged) and the app never
        knew; a ``run()`` paid for an answer nobody could keep."""
        if self._closed:
            raise TrimtabError(
                f"{what}: this workspace is closed (ws.close() ran, or its `with` block "
                "ended), so the call could not be recorded. Fix: keep the workspace open "
                "while the app calls and records, or call trimtab.connect() again.")

    def close(self) -> None:
        self._closed = True
        if self.started("caller"):
            self.quiet_caller.close()
        if self.started("recorder"):
            self.recorder.close()
            if self.recorder.store is not self.__dict__.get("store"):
                self.recorder.store.dispose()  # its own, opened while the store was down
        if self.started("active"):
            self.active.close()
        if self.started("store"):
            self.store.dispose()
        self.observers.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @contextlib.contextmanager
    def _changing_routes(self) -> Iterator[None]:
        """After a deployment change, this process serves it at once; the others
        within a second (ActiveReleases watches the store's change signal)."""
        try:
            yield
        finally:
            if self.started("active"):
                self.active.invalidate()

    def run_scheduled(self, now: datetime | None = None) -> None:
        """Housekeeping the monitor does each cycle: sampled scoring of real outputs
        (systems with ``scoring:``, bounded per cycle), a signed audit checkpoint
        when ``audit.checkpoint_every`` is set and the chain moved since the last one,
        and an alert for each incident reporting deadline that came near."""
        if self.project_file is None:
            return
        if any(s.scoring is not None for s in self.project.spec.systems.values()):
            from trimtab.quality import sampling

            sampling.tick_all(self.store, self.project, now=now)
        if self.project.spec.audit.checkpoint_every:
            from trimtab.govern import checkpoints as audit_checkpoints

            audit_checkpoints.scheduled(self.store, self.project, self._schedule, now=now)
        from trimtab.govern import deadline_alerts

        deadline_alerts.raise_due(self.store, self.project, actor=current_actor(), now=now)

    def _project_or_none(self) -> Project | None:
        """The project file, or None where there is none (a store-only workspace)."""
        return self.project if self.project_file is not None else None


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
    from trimtab.telemetry.otel import install_from_env

    install_from_env(ws)
    return ws


_default: Workspace | None = None


def active_release(system: str, env: str) -> Release | None:
    """The release active in ``env``, from the project found from the working directory."""
    global _default
    if _default is None:
        _default = connect()
    return _default.active_release(system, env)


def run_monitor(ws: Workspace, interval: float | timedelta = 30.0,
                stop_event: threading.Event | None = None, **kwargs) -> None:
    """Evaluate ``ws``'s alert rules and notify every ``interval`` until
    ``stop_event`` is set (``on_cycle=`` is called with each cycle); safe in a thread."""
    ws.monitor(interval, stop_event, **kwargs)


def instrument(client: Any, system: str, *, env: str | None = None,
               workspace: Workspace | None = None, tags: dict[str, str] | None = None,
               provider: str | None = None) -> Any:
    """Record an existing OpenAI client's calls under ``system`` (see
    trimtab.sdk.instrument); here so that leaving ``workspace`` out can mean
    the project this process runs in, which only this layer may open."""
    from trimtab.sdk.instrument import instrument as wrap

    return wrap(client, system, env=env, workspace=workspace or connect(), tags=tags,
                provider=provider)
