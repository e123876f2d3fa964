"""PostgreSQL connections that stop answering: found within seconds, cut, replaced.

A silent network partition (a firewall or NAT that lost its state, a
failover behind a virtual IP) leaves a connection open on this side while
nothing comes back: a query on it, and the pool's pre-ping, wait forever.
TCP keepalives and ``tcp_user_timeout`` (engine.py sets both) let the kernel
give up when the peer stops acknowledging, but a middlebox that keeps
acknowledging (a proxy, a NAT answering for the server) defeats them, and
their half a minute is long for a writer holding the calls of a gateway.

So every wait on a store connection is timed: psycopg runs each query,
commit, rollback and ping through ``Connection.wait``, which
``WatchedConnection`` wraps. A wait past ``stall_after`` seconds is looked
at from outside, on a fresh connection: ``pg_stat_activity`` says whether
the server is working on that backend's statement (``active``: a slow query
or a lock wait, left alone; the statement timeout bounds it) or is waiting
for the client (``idle``...: the request or its answer was lost on the
way; or, at two looks in a row, ``active`` but blocked sending an answer or
reading COPY data while the client waits too). A lost one is logged, its
backend terminated (freeing its locks) and its socket shut here, so the
waiting call fails at once with a connection error; SQLAlchemy then drops
the pool's older connections and the caller's next try connects afresh.
A wait the server cannot be asked about (no fresh
connection either, or a pooler that hides backends) is cut once it has
lasted the statement timeout plus ``stall_after``.

Waits with a timeout of their own are not watched, nor is the change
feed's listener, which waits for notifications on an idle connection by
design and checks itself with a notification to itself (store/changes.py).
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg

log = logging.getLogger("trimtab")

#: Seconds a probe (a fresh connection and one query) may take before it counts as failed.
PROBE_TIMEOUT = 5.0
#: Seconds the watchdog thread lingers with nothing to watch before it ends.
IDLE_EXIT = 10.0


@dataclass(eq=False)
class _Wait:
    since: float
    pid: int
    fd: int
    looked: float = field(default=0.0)
    suspect: bool = False  # the server was seen waiting on this client once


class Watchdog:
    """Watches one engine's connections. ``stall_after`` 0 watches nothing."""

    def __init__(self, stall_after: float, cut_after: float | None):
        self.stall_after = stall_after
        self.cut_after = cut_after  # when the server cannot be asked; None: never
        self.connect_args: dict[str, Any] = {}  # how to open a probe (set on first connect)
        self.stalled = 0  # connections cut so far
        self._unreachable = False  # the last probe could not connect (logged once)
        self._waits: dict[int, _Wait] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def forked(self) -> None:
        """In a forked child: the parent's waits are on the parent's connections (cutting
        one would shut the parent's socket), and its thread and lock stayed behind."""
        self._waits = {}
        self._lock = threading.Lock()
        self._thread = None

    def connection_class(self) -> type[psycopg.Connection]:
        watchdog = self

        class WatchedConnection(psycopg.Connection):
            #: False for a connection that checks itself (the change listener's echo).
            watched = True

            def wait(self, gen, *args, **kwargs):  # noqa: ANN001, ANN202 - psycopg's own
                timeout = kwargs.get("timeout", args[1] if len(args) > 1 else None)
                if timeout is not None or not watchdog.stall_after or not self.watched:
                    return super().wait(gen, *args, **kwargs)
                key = watchdog.begin(self)
                try:
                    return super().wait(gen, *args, **kwargs)
                finally:
                    watchdog.end(key)

        return WatchedConnection

    def begin(self, conn: psycopg.Connection) -> int | None:
        try:
            wait = _Wait(time.monotonic(), conn.pgconn.backend_pid, conn.pgconn.socket)
        except psycopg.Error:  # already broken: the wait fails by itself
            return None
        key = id(wait)
        with self._lock:
            self._waits[key] = wait
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="trimtab-store-watchdog")
                self._thread.start()
        return key

    def end(self, key: int | None) -> None:
        if key is not None:
            with self._lock:
                self._waits.pop(key, None)

    # --- the watchdog thread ------------------------------------------------------

    def _run(self) -> None:
        tick = min(0.5, self.stall_after / 4)
        idle_since = time.monotonic()
        while True:
            time.sleep(tick)
            now = time.monotonic()
            with self._lock:
                if not self._waits and now - idle_since > IDLE_EXIT:
                    self._thread = None
                    return
                if self._waits:
                    idle_since = now
                due = {key: wait for key, wait in self._waits.items()
                       if now - wait.since >= self.stall_after
                       and now - wait.looked >= self.stall_after}
            if due:
                for wait in due.values():
                    wait.looked = now
                try:
                    self._look(due, now)
                except Exception:  # noqa: BLE001 - the watchdog must outlive any one look
                    log.exception("trimtab: the store watchdog failed; it keeps watching")

    def _look(self, due: dict[int, _Wait], now: float) -> None:
        """Ask the server what it sees of each long wait; cut the lost ones."""
        pids = sorted({wait.pid for wait in due.values()})
        states, probe = self._probe(pids)
        try:
            for key, wait in due.items():
                waited = now - wait.since
                state = None if states is None else states.get(wait.pid)
                if state == "active":
                    continue  # the server is on it: a slow statement or a lock wait
                if state == _ON_CLIENT and not wait.suspect:
                    wait.suspect = True  # once may be a slow link; twice, both sides wait
                    continue
                known = state not in (None, "gone", "unknown")
                if not known and (self.cut_after is None or waited < self.cut_after):
                    continue  # cannot tell yet
                seen = f"backend {wait.pid} {state}" if state else "no answer about it"
                log.warning("trimtab: a store connection stopped answering (waited %.1fs; "
                            "the server sees %s); closing it and reconnecting", waited, seen)
                if probe is not None and known:
                    with contextlib.suppress(psycopg.Error):  # frees the locks it holds
                        probe.execute("SELECT pg_terminate_backend(%s)", [wait.pid])
                self._shut(key, wait)
        finally:
            if probe is not None:
                with contextlib.suppress(Exception):
                    probe.close()

    def _probe(self, pids: list[int]) -> tuple[dict[int, str] | None, Any]:
        """Each backend's state, from a fresh connection; (None, None) if none opens."""
        try:
            probe = _Probe.connect(**{**self.connect_args, "autocommit": True,
                                      "connect_timeout": max(1, int(PROBE_TIMEOUT)),
                                      "options": "-c statement_timeout=5000"})
        except Exception as exc:  # noqa: BLE001 - unreachable: decided by cut_after
            if not self._unreachable:
                log.warning("trimtab: a store query has waited over %.0fs and no fresh "
                            "connection opens (%s)", self.stall_after, type(exc).__name__)
            self._unreachable = True
            return None, None
        self._unreachable = False
        try:
            rows = probe.execute(_STATES, [pids]).fetchall()
        except Exception:  # noqa: BLE001
            probe.close()
            return None, None
        found = dict(rows)
        return {pid: found.get(pid, "gone") for pid in pids}, probe

    def _shut(self, key: int, wait: _Wait) -> None:
        """Shut the socket of a wait still in progress (so its fd is still its own)."""
        with self._lock:
            if self._waits.get(key) is not wait:
                return  # it ended meanwhile
            self.stalled += 1
            with contextlib.suppress(OSError):
                sock = socket.socket(fileno=os.dup(wait.fd))
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                finally:
                    sock.close()


#: A backend in a statement but blocked on this client: sending an answer nobody reads,
#: or reading COPY data that never comes, while the client waits on the server.
_ON_CLIENT = "active, waiting on the client"
_STATES = (f"SELECT pid, CASE WHEN state = 'active' AND wait_event IN ('ClientRead', "
           f"'ClientWrite') THEN '{_ON_CLIENT}' ELSE coalesce(state, 'unknown') END "
           "FROM pg_stat_activity WHERE pid = ANY(%s)")
_WAIT_TIMEOUT = "timeout" in inspect.signature(psycopg.Connection.wait).parameters


class _Probe(psycopg.Connection):
    """The watchdog's own connection: every wait on it is bounded (psycopg >= 3.3;
    before, its statement timeout bounds the server's side)."""

    def wait(self, gen, *args, **kwargs):  # noqa: ANN001, ANN202 - psycopg's own
        if _WAIT_TIMEOUT:
            kwargs["timeout"] = PROBE_TIMEOUT
            args = args[:1]
        return super().wait(gen, *args, **kwargs)
