"""Opening a store: engine set-up per backend, transactions, and migrations.

SQLite gets WAL (readers never block the writer), foreign keys, a busy timeout,
and BEGIN IMMEDIATE for writes, so two writers queue instead of failing
half-way. PostgreSQL writers serialise on the audit head row instead.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import weakref
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, ProgrammingError

from trimtab.errors import SchemaTooNewError, StoreUnavailable, TrimtabError
from trimtab.store.schema.audit_chain import audit_head

if TYPE_CHECKING:
    from trimtab.store.stall import Watchdog

#: Store.reading()'s connection per store (by id), for the thread or task inside it.
_SHARED_READS: ContextVar[dict[int, Connection]] = ContextVar("trimtab_shared_reads",
                                                              default={})  # noqa: B039 - never mutated

# The newest migration this code knows. A test keeps it equal to Alembic's head,
# so the common path (schema current) never has to import Alembic.
HEAD_REVISION = "0025"
MIGRATIONS = Path(__file__).parent / "migrations"


def normalise_url(url: str) -> str:
    """Accept the URLs people paste (postgres://, postgresql://) and use psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


class Store:
    """A connection pool to one trimtab database. Cheap to share, one per process."""

    def __init__(self, url: str, *, migrate: bool = True):
        self.url = normalise_url(url)
        self.engine = _make_engine(self.url)
        self.dialect = self.engine.dialect.name
        #: PostgreSQL: finds and cuts connections that stopped answering (store/stall.py).
        self.watchdog: Watchdog | None = getattr(self.engine, "trimtab_watchdog", None)
        _STORES.add(self)
        if migrate:
            ensure_schema(self)

    def __repr__(self) -> str:
        return f"Store({self.engine.url.render_as_string(hide_password=True)!r})"

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        shared = _SHARED_READS.get().get(id(self))
        if shared is not None:  # inside reading(): its connection, no transaction of its own
            try:
                yield shared
            except DBAPIError:
                shared.rollback()  # a failed statement must not fail the reads after it
                raise
            return
        with self._reachable(), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """Every ``read()`` in the block (in this thread or task) uses one connection:
        no pool checkout (on PostgreSQL a ping), BEGIN and COMMIT per read. A
        dashboard page makes twenty-odd reads; on PostgreSQL those were two-thirds
        of its round trips to the server, each a wait for two processes to be
        scheduled on a loaded machine. PostgreSQL runs them in one READ COMMITTED
        transaction (each statement still sees what is committed when it runs;
        streamed results need a transaction), rolled back after a failed
        statement so that the reads after it still run; SQLite runs each
        statement on its own (no BEGIN), so a read after a write in the block
        sees it. Writes in the block take their own connection and transaction."""
        if id(self) in _SHARED_READS.get():
            yield
            return
        with self._reachable(), self.engine.connect() as conn:
            if self.dialect == "sqlite":  # no BEGIN (see _on_begin): sqlite3 autocommits
                conn = conn.execution_options(trimtab_shared=True)
            token = _SHARED_READS.set({**_SHARED_READS.get(), id(self): conn})
            try:
                yield
            finally:
                _SHARED_READS.reset(token)

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Connection]:
        """A read transaction that sees one moment throughout, for reads that must
        agree with each other while writers go on (an evidence bundle's row counts,
        its rows and the audit head). SQLite's read transaction is one already (WAL
        keeps its snapshot from the first read); PostgreSQL's READ COMMITTED gives
        each statement its own, so this one runs at REPEATABLE READ."""
        with self._reachable(), self.engine.connect() as conn:
            if self.dialect == "postgresql":
                conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    @contextlib.contextmanager
    def _reachable(self) -> Iterator[None]:
        """Connection failures leave the store as the project's StoreUnavailable,
        so callers above it (the gateway's 503, the CLI's message) never need to
        know SQLAlchemy. Errors in a statement itself pass through unchanged."""
        try:
            yield
        except (OperationalError, InterfaceError) as exc:
            if not _is_connection_failure(exc):
                raise
            raise StoreUnavailable(
                f"cannot reach the store at {self!r}: {exc.orig}. "
                "Fix: check TRIMTAB_DATABASE_URL and that the database server is running."
            ) from exc

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that holds the change lock from its first statement.

        Every state change takes it, so each sees the latest committed state
        and appends to the audit chain without a fork.
        """
        with self._reachable(), self.engine.connect() as conn:
            conn.execution_options(trimtab_begin="IMMEDIATE")
            conn.info["trimtab_write"] = True
            try:
                with conn.begin():
                    conn.execute(
                        select(audit_head.c.seq).where(audit_head.c.id == 1).with_for_update()
                    )
                    yield conn
            finally:
                conn.info.pop("trimtab_write", None)

    @contextlib.contextmanager
    def ingest(self) -> Iterator[Connection]:
        """A write transaction for bulk data (calls, rollups): not audited, so it
        does not take the change lock and never queues behind a promotion."""
        with self._reachable(), self.engine.connect() as conn:
            conn.execution_options(trimtab_begin="IMMEDIATE")
            with conn.begin():
                yield conn

    def dispose(self) -> None:
        self.engine.dispose()

    def forked(self) -> None:
        """In a child made by ``os.fork()`` (gunicorn or uWSGI preloading the app,
        multiprocessing's fork): the pooled connections are the parent's sockets and
        SQLite handles, and using one from both processes mixes their replies (one
        got the other's rows, or the server hung up on both). The child forgets them,
        without closing (that would end the parent's sessions), and connects anew."""
        self.engine.dispose(close=False)
        if self.watchdog is not None:
            self.watchdog.forked()


#: Every open store, for the fork handler below (weak: a store nobody holds just goes).
_STORES: weakref.WeakSet[Store] = weakref.WeakSet()


def _forked() -> None:
    for store in list(_STORES):
        store.forked()


os.register_at_fork(after_in_child=_forked)


def _make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            raise TrimtabError(
                f"SQLite store {url!r} must be a file path (sqlite:///path/to/trimtab.db): "
                "an in-memory database would vanish between commands."
            )
        # The store holds prompts, answers and key hashes: the owner's only (0700 for a
        # folder made here, 0600 for the file; SQLite gives -wal and -shm the file's mode).
        Path(database).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.close(os.open(database, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        # A small statement cache: bulk inserts are multi-row statements of many
        # sizes, and sqlite3's default of 128 cached statements per connection
        # held ~130 MB in a long-running gateway.
        engine = create_engine(url, connect_args={"timeout": 60, "cached_statements": 16})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):
            if conn.get_execution_options().get("trimtab_shared"):
                return  # Store.reading(): sqlite3 runs each statement on its own
            mode = conn.get_execution_options().get("trimtab_begin", "DEFERRED")
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    if parsed.get_backend_name() == "postgresql":
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise TrimtabError(
                "TRIMTAB_DATABASE_URL points at PostgreSQL but psycopg is not installed. "
                "Fix: pip install 'trimtab[postgres]'"
            ) from None
        return _postgres_engine(parsed)
    raise TrimtabError(
        f"unsupported database URL {url!r}: use sqlite:///path/to/file.db or "
        "postgresql://user@host:5432/dbname"
    )


#: libpq settings every PostgreSQL connection gets unless its URL sets them (docs/store.md):
#: a store that stops answering, rather than refusing, must not hang a process. Keepalives
#: find an idle connection whose peer is gone in about 25 s; tcp_user_timeout fails one
#: whose sent bytes stay unacknowledged for 30 s.
PG_CONNECT_DEFAULTS = {"connect_timeout": "5", "keepalives": "1", "keepalives_idle": "10",
                       "keepalives_interval": "5", "keepalives_count": "3",
                       "tcp_user_timeout": "30000"}
#: Milliseconds a statement may run (or wait for a lock) before the server cancels it.
STATEMENT_TIMEOUT_MS = 300_000
#: Seconds a wait on a connection may last before the watchdog asks the server about it.
STALL_TIMEOUT = 5.0
_STALL_PARAM = "trimtab_stall_timeout"
_STATEMENT_TIMEOUT = re.compile(r"statement_timeout\s*=\s*(\d+)\s*(ms|s|min)?\b")
#: JIT compilation off unless the URL's options set it: trimtab's queries are short
#: index reads, and on a big store the planner's cost estimates pass jit_above_cost,
#: so PostgreSQL compiled a dashboard query (17 ms) that runs in 36 ms without it (at
#: 10,000,000 calls).
_JIT = re.compile(r"(?:^|\s|-c|--)jit\s*=")


def _postgres_engine(parsed: URL) -> Engine:
    """An engine whose connections carry the defaults above and are watched for
    stalls (store/stall.py): a connection that stops answering is cut within
    seconds and the pool connects afresh."""
    from trimtab.store.stall import Watchdog  # imports psycopg: PostgreSQL only

    query = dict(parsed.query)
    connect_args: dict[str, Any] = {k: v for k, v in PG_CONNECT_DEFAULTS.items()
                                    if k not in query}
    options = query.get("options") or ""
    options = " ".join(options) if isinstance(options, tuple) else options
    found = _STATEMENT_TIMEOUT.search(options)
    extra = []
    if found is None:
        extra.append(f"-c statement_timeout={STATEMENT_TIMEOUT_MS}")
        statement_timeout = STATEMENT_TIMEOUT_MS / 1000
    else:
        scale = {"ms": 0.001, "s": 1, "min": 60}[found[2] or "ms"]
        statement_timeout = int(found[1]) * scale
    if not _JIT.search(options):
        extra.append("-c jit=off")
    if extra:
        connect_args["options"] = " ".join([options, *extra]).strip()
    stall = query.get(_STALL_PARAM, str(STALL_TIMEOUT))
    try:
        stall_after = float(stall if isinstance(stall, str) else stall[-1])
        if not 0 <= stall_after < 86_400:
            raise ValueError
    except ValueError:
        raise TrimtabError(
            f"{_STALL_PARAM}={stall!r} in TRIMTAB_DATABASE_URL is not a number of seconds. "
            f"Fix: a value like {_STALL_PARAM}=5 (0 turns the stall watchdog off)."
        ) from None
    watchdog = Watchdog(stall_after, statement_timeout + stall_after if statement_timeout
                        else None)
    engine = create_engine(parsed.difference_update_query([_STALL_PARAM]),
                           pool_pre_ping=True, connect_args=connect_args)
    watched = watchdog.connection_class()

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect, _record, cargs, cparams):
        if not watchdog.connect_args:
            watchdog.connect_args = dict(cparams)
        return watched.connect(*cargs, **cparams)

    engine.trimtab_watchdog = watchdog  # type: ignore[attr-defined]  # Store.watchdog
    return engine


def _is_connection_failure(exc: OperationalError | InterfaceError) -> bool:
    """A lost or refused connection, as opposed to a locked SQLite file or a bad
    statement: SQLAlchemy marks invalidated connections, psycopg raises
    OperationalError only for connection-level trouble, and sqlite3 names it."""
    if exc.connection_invalidated or isinstance(exc, InterfaceError):
        return True
    if type(exc.orig).__module__.startswith("sqlite3"):
        message = str(exc.orig).lower()
        return "unable to open" in message or "disk i/o" in message
    return True


def current_revision(store: Store) -> str | None:
    """The Alembic revision the database is at; None for an empty database."""
    try:
        with store.engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except OperationalError as exc:
        raise StoreUnavailable(
            f"cannot reach the store at {store!r}: {exc.orig}. "
            "Fix: check TRIMTAB_DATABASE_URL and that the database server is running."
        ) from None


def ensure_schema(store: Store) -> None:
    """Migrate to head on first use; refuse a schema newer than this code."""
    if current_revision(store) == HEAD_REVISION:
        return
    with _migration_lock(store):
        revision = current_revision(store)
        if revision == HEAD_REVISION:
            return
        _check_known(revision)
        try:
            _upgrade(store)
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) != "42501":  # insufficient_privilege
                raise
            raise TrimtabError(
                f"the store's schema is at {revision or 'nothing'} and this trimtab needs "
                f"{HEAD_REVISION}, but this connection may not migrate it ({exc.orig}): it is "
                "an ordinary (writer or reader) role. Fix: run `trimtab db upgrade` with the "
                "owner's TRIMTAB_DATABASE_URL, then `trimtab db roles` again.") from None


def upgrade(store: Store, target: str = "head") -> str | None:
    """Migrate to ``target`` under the migration lock, so `trimtab db upgrade` run
    twice at once (two deploy jobs) or beside a process migrating on first use
    queue up: the later ones find the work done instead of failing on tables the
    first one made. Returns the revision it found."""
    with _migration_lock(store):
        return _upgrade(store, target)


def _upgrade(store: Store, target: str = "head") -> str | None:
    """Run the migrations up to ``target`` in one transaction: on both backends DDL
    is transactional, so a migration that fails leaves the store as it was, and
    the error names that migration and says so instead of a traceback."""
    from alembic import command

    before = current_revision(store)
    _check_known(before)
    config = _alembic_config()
    applied: list[str] = []
    config.attributes["on_version_apply"] = \
        lambda *, step, **_: applied.append(step.up_revision_id)
    try:
        with store.engine.connect() as conn:
            with conn.begin():
                if store.dialect == "postgresql":  # an index on a big table takes what it takes
                    conn.execute(text("SET LOCAL statement_timeout = 0"))
                config.attributes["connection"] = conn
                command.upgrade(config, target)
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) == "42501":  # ensure_schema names the role
            raise
        failed = _revision_after(applied[-1] if applied else before)
        why = str(exc.orig).strip().rstrip(".")
        raise TrimtabError(
            f"migrating the store at {store!r} from {before or 'empty'} failed in migration "
            f"{failed}: {why}. Nothing was changed (the migrations run in "
            f"one transaction): the store is still at {before or 'empty'}. Fix: if the schema "
            "was edited by hand (an object the message names already exists, or is missing), "
            "undo that edit or restore the store from a backup, then run `trimtab db upgrade`."
        ) from None
    return before


def _revision_after(revision: str | None) -> str:
    """The migration that follows ``revision`` (None: the first one)."""
    from alembic.script import ScriptDirectory

    for script in ScriptDirectory.from_config(_alembic_config()).walk_revisions():
        if script.down_revision == revision:
            return script.revision
    return "?"


def known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    return {s.revision for s in ScriptDirectory.from_config(_alembic_config()).walk_revisions()}


def alembic_head() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def _check_known(revision: str | None) -> None:
    if revision is not None and revision not in known_revisions():
        from trimtab import __version__

        raise SchemaTooNewError(
            f"the database schema is at revision {revision!r}, which trimtab {__version__} "
            f"(schema {HEAD_REVISION}) does not know: a newer trimtab migrated it. Refusing "
            "to touch it. "
            "Fix: upgrade trimtab (pip install -U trimtab) on this machine."
        )


def _alembic_config():
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@contextlib.contextmanager
def _migration_lock(store: Store) -> Iterator[None]:
    """Only one process migrates; the others wait, then find the schema current."""
    if store.dialect == "sqlite":
        lock_path = store.engine.url.database + ".migrate.lock"
        with open(lock_path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    with store.engine.connect() as conn:
        try:
            conn.execute(text("SET statement_timeout = 0"))  # waits for another migrator
            conn.execute(text("SELECT pg_advisory_lock(7263527)"))
            conn.commit()
            yield
        finally:
            with contextlib.suppress(ProgrammingError, OperationalError):
                conn.execute(text("SELECT pg_advisory_unlock(7263527)"))
                conn.execute(text("RESET statement_timeout"))  # back to the connection's
                conn.commit()


def default_sqlite_url(project_dir: Path) -> str:
    return f"sqlite:///{(project_dir / '.trimtab' / 'trimtab.db').resolve()}"


def database_url_from_env() -> str | None:
    return os.environ.get("TRIMTAB_DATABASE_URL") or None
