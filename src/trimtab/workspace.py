"""A workspace is a project file plus the store and artefact store it uses.

``trimtab.connect()`` returns one; the CLI, the gateway and the monitor are
thin shells over its methods, so every front end does the same thing.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trimtab.actor import ci_run_url, current_actor
from trimtab.errors import TrimtabError
from trimtab.project.loader import find_project_file, load_project
from trimtab.project.models import Project
from trimtab.recorder.recorder import Recorder
from trimtab.recorder.records import CallRecord
from trimtab.releases import spec as release_specs
from trimtab.releases.active import ActiveReleases
from trimtab.releases.artefacts import ArtefactStore
from trimtab.releases.diffs import SpecDiff, diff_specs
from trimtab.releases.gitinfo import git_state
from trimtab.store import Store
from trimtab.store import audit as audit_store
from trimtab.store import deployments as deployment_store
from trimtab.store import keys as key_store
from trimtab.store import releases as release_store
from trimtab.store import systems as system_store
from trimtab.store.audit import AuditEntry, ChainReport
from trimtab.store.deployments import Deployment
from trimtab.store.engine import database_url_from_env, default_sqlite_url
from trimtab.store.keys import ApiKey
from trimtab.store.releases import Release
from trimtab.store.systems import System
from trimtab.workspace_calls import CallLog
from trimtab.workspace_observe import Observing

if TYPE_CHECKING:
    from trimtab.assess.assessment import Assessment
    from trimtab.assess.documents import Generated
    from trimtab.assess.portfolio import Ranked
    from trimtab.govern.checkpoints import Checkpoint
    from trimtab.sdk.calling import Caller, SystemClient
    from trimtab.store.assessments import StoredAssessment

log = logging.getLogger("trimtab")

#: Seconds the hot paths (gateway requests, record(), the OpenTelemetry exporter) trust
#: their last look at trimtab.yaml.
PROJECT_TTL = 1.0


class Workspace(CallLog, Observing):
    """The Python API. Its methods are grouped by concern across three modules:
    this one (where things live, systems, releases, environments, keys, audit),
    workspace_calls.py (the call log) and workspace_observe.py (drift, cost,
    alerts); the two parts hold no state, only methods."""

    def __init__(self, project_file: Path | None, database_url: str | None = None):
        self.project_file = project_file
        self._database_url = database_url
        self._project: tuple[tuple[int, int] | None, Project] | None = None
        self._project_looked = float("-inf")  # when recent_project() last looked at the file
        # Called with every record after it is spooled (Prometheus, OpenTelemetry).
        self.observers: list[Callable[[CallRecord], None]] = []
        self._telemetry: list[tuple[Callable[[float], bool], Callable[[], None]]] = []
        # Recorder(...) keywords for when the recorder starts (the gateway sets writer).
        self.recorder_options: dict[str, Any] = {}
        # system -> (the Project it was worked out from, privacy, error redactor)
        self._privacy: dict[str, tuple[Project | None, Any, Any]] = {}
        # What scheduled housekeeping (run_scheduled) remembers between cycles.
        self._schedule: dict[str, Any] = {}

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
        options = dict(self.recorder_options)
        writer = os.environ.get("TRIMTAB_RECORDER_WRITER")
        if writer:
            if writer not in ("thread", "process"):
                raise TrimtabError(f"TRIMTAB_RECORDER_WRITER={writer!r} is not a writer. "
                                   "Fix: set it to `thread` or `process`.")
            options["writer"] = writer
        return Recorder(self.store, self.spool_dir, **options)

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
        from trimtab.sdk.calling import Caller  # the runtime (httpx, prices) loads on first call

        return Caller(self)

    def system(self, name: str, env: str | None = None) -> SystemClient:
        """A handle to call a system's active release: ``.run(vars)``, ``await .arun(vars)``.

        ``env`` defaults to the last (production) environment.
        """
        from trimtab.sdk.calling import SystemClient

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

    def verify_audit(self, *, checkpoints: str | None = None,
                     public_key: str | Path | None = None) -> ChainReport:
        """The chain's own verdict; with ``checkpoints`` (a file or fsspec URL of
        signed checkpoints) truncation and rewrites before the newest one show too."""
        if checkpoints is None:
            with self.store.read() as conn:
                return audit_store.verify(conn)
        from trimtab.govern import checkpoints as audit_checkpoints  # cryptography on demand

        return audit_checkpoints.verify(self.store, self._project_or_none(),
                                        checkpoints=checkpoints, public_key=public_key)

    def checkpoint_audit(self, *, to: str | None = None,
                         key: str | Path | None = None) -> Checkpoint:
        """Sign the audit chain's head and append it outside the store."""
        from trimtab.govern import checkpoints as audit_checkpoints

        return audit_checkpoints.checkpoint(self.store, self._project_or_none(), to=to, key=key)

    def checkpoint_location(self, explicit: str | None = None) -> str:
        from trimtab.govern import checkpoints as audit_checkpoints

        return audit_checkpoints.location(self._project_or_none(), explicit)

    def run_scheduled(self, now: datetime | None = None) -> None:
        """Housekeeping the monitor does each cycle: a signed audit checkpoint when
        ``audit.checkpoint_every`` is set and the chain moved since the last one."""
        if self.project_file is not None and self.project.spec.audit.checkpoint_every:
            from trimtab.govern import checkpoints as audit_checkpoints

            audit_checkpoints.scheduled(self.store, self.project, self._schedule, now=now)

    def _project_or_none(self) -> Project | None:
        return self.project if self.project_file is not None else None

    def assess(self, system: str, *, now: datetime | None = None,
               save: bool = True) -> Assessment:
        """The system's maturity stage from evidence, with the next smallest steps;
        stored (unless ``save=False``) so the stage has a history."""
        from trimtab.assess import portfolio
        from trimtab.assess.assessment import assess

        assessment = assess(self.store, self.project, system, now=now)
        if save:
            portfolio.save(self.store, assessment, current_actor())
        return assessment

    def portfolio(self, *, now: datetime | None = None, save: bool = True) -> list[Ranked]:
        """Every declared system assessed and ranked by gap × impact."""
        from trimtab.assess import portfolio

        now = now or datetime.now(UTC)
        found = [self.assess(name, now=now, save=save) for name in self.project.spec.systems]
        return portfolio.rank(self.store, self.project, found, now)

    def documents(self, system: str, *, kinds: list[str] | None = None, fmt: str = "md",
                  out: Path | None = None, as_of: datetime | None = None) -> list[Generated]:
        """Write the compliance documents for ``system`` from evidence (default: all
        kinds, Markdown, into docs/compliance/ beside trimtab.yaml) and record each
        one's hash; the same store state and ``as_of`` give the same bytes."""
        from trimtab.assess import documents

        folder = out or (self.project.root / "docs" / "compliance")
        return documents.generate(self.store, self.project, system,
                                  kinds=list(kinds or documents.KINDS), fmt=fmt, out=folder,
                                  as_of=as_of, actor=current_actor())

    def assessment_history(self, system: str, limit: int = 50) -> list[StoredAssessment]:
        from trimtab.assess import portfolio

        return portfolio.history(self.store, system, limit)


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


def instrument(client: Any, system: str, *, env: str | None = None,
               workspace: Workspace | None = None, tags: dict[str, str] | None = None,
               provider: str | None = None) -> Any:
    """Record an existing OpenAI client's calls under ``system`` (see
    trimtab.sdk.instrument); here so that leaving ``workspace`` out can mean
    the project this process runs in, which only this layer may open."""
    from trimtab.sdk.instrument import instrument as wrap

    return wrap(client, system, env=env, workspace=workspace or connect(), tags=tags,
                provider=provider)
