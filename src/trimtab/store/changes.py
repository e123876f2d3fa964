"""The store's change signal: how a process learns, within a second, that state changed.

Every state change (promote, rollback, canary, key, and later suspend or
policy) appends an audit entry in its own transaction (store/audit.py), so
the audit head's sequence number is a change counter that moves with each
one, on both databases, and nothing can change state without moving it.
On PostgreSQL the same transaction also sends a notification on the
store's channel (delivered at commit, never for a rolled-back change), so
listeners wake at once instead of at their next look. Notifications are
database-wide, so the channel is named for the store's schema
(``trimtab_changes_`` and 12 hex digits of its md5): two stores in two schemas
of one database do not wake each other.

``ChangeFeed`` is the listening side: ``wait()`` returns when the state may
have changed or when it is time to look again, and ``version()`` reads the
counter. SQLite has no notifications: the counter is read every ``poll``
seconds (one indexed row). PostgreSQL listens on a connection of its own,
reconnects when it fails, and polls meanwhile; it still reads the counter
every ``recheck`` seconds, so a listener whose connection died silently
delays nothing by more than that. And it checks that the listener still
hears: every ``ECHO_EVERY`` seconds the counter's read also notifies a
channel only this feed listens on; an echo that has not come back within the
store's stall timeout (a silent network partition froze the listener's
connection) is logged and the listener replaced.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, select

from trimtab.store.schema.audit_chain import audit_head

if TYPE_CHECKING:
    from trimtab.store.engine import Store

log = logging.getLogger("trimtab")

CHANNEL = "trimtab_changes"
#: Seconds between the listener's checks that it still hears the store.
ECHO_EVERY = 2.0


def _channel():
    """The store's channel, worked out by the server from the schema it is in (the
    notifying and the listening connection share the store's search path)."""
    return func.concat(f"{CHANNEL}_", func.left(func.md5(func.current_schema()), 12))


def notify(conn: Connection, topic: str) -> None:
    """Tell listening processes that this transaction changed state (PostgreSQL;
    sent at commit). The counter itself moves with the audit entry."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_notify(_channel(), topic[:200])))


def version(conn: Connection) -> int:
    """The change counter: higher after every committed state change."""
    return conn.execute(select(audit_head.c.seq).where(audit_head.c.id == 1)).scalar() or 0


class ChangeFeed:
    """Waits for the store's state to change; one per process that caches state."""

    def __init__(self, store: Store, *, poll: float = 0.2, recheck: float = 1.0):
        self.store = store
        self.poll = poll
        self.recheck = recheck
        self._listen = store.dialect == "postgresql"
        self._conn: Any = None  # the LISTEN connection (psycopg), PostgreSQL only
        self._retry_at = 0.0
        self._refused = False  # the last try to listen failed (logged once until it works)
        self._closed = threading.Event()
        self._echo_channel = f"trimtab_echo_{os.urandom(6).hex()}"
        self._echo_sent = 0.0  # when the echo in flight was sent; 0: none in flight
        self._echo_heard = 0.0
        watchdog = getattr(store, "watchdog", None)
        self._echo_within = watchdog.stall_after if watchdog is not None else 5.0

    def version(self) -> int:
        echo = (self._conn is not None and self._echo_within and not self._echo_sent
                and time.monotonic() - self._echo_heard >= ECHO_EVERY)
        with self.store.read() as conn:
            if echo:  # sent at commit, to this feed's listener only
                conn.execute(select(func.pg_notify(self._echo_channel, "")))
            seq = version(conn)
        if echo:
            self._echo_sent = time.monotonic()
        return seq

    def wait(self) -> None:
        """Return when a change may have happened or when it is time to look again."""
        if not self._listen:
            self._closed.wait(self.poll)
            return
        if self._conn is None and not self._connect():
            self._closed.wait(self.poll)  # no listener: poll until one is back
            return
        if self._echo_sent and time.monotonic() - self._echo_sent > self._echo_within:
            log.warning("trimtab: the store's change listener stopped hearing (no echo in "
                        "%.0fs); reconnecting it, polling every %.1fs meanwhile",
                        self._echo_within, self.poll)
            self._drop()
            self._closed.wait(self.poll)
            return
        try:
            for note in self._conn.notifies(timeout=self.recheck, stop_after=1):
                if note.channel == self._echo_channel:
                    self._echo_sent, self._echo_heard = 0.0, time.monotonic()
        except Exception as exc:  # noqa: BLE001 - any failure: poll, then reconnect
            log.warning("trimtab: lost the store's change notifications (%s); polling "
                        "every %.1fs until the listener reconnects", type(exc).__name__,
                        self.poll)
            self._drop()

    def _connect(self) -> bool:
        now = time.monotonic()
        if now < self._retry_at or self._closed.is_set():
            return False
        self._retry_at = now + 1.0
        try:
            raw = self.store.engine.raw_connection()
            conn = raw.driver_connection
            raw.detach()  # its own connection, never returned to the pool
            conn.watched = False  # idle by design: the echo checks it (store/stall.py)
            conn.autocommit = True
            # (lower-case letters, digits and _: a plain identifier)
            channel = conn.execute(
                f"SELECT '{CHANNEL}_' || left(md5(current_schema()), 12)").fetchone()[0]
            conn.execute(f"LISTEN {channel}")
            conn.execute(f"LISTEN {self._echo_channel}")
        except Exception as exc:  # noqa: BLE001 - the store is down: poll meanwhile
            if not self._refused:  # once per outage, not once a second
                log.warning("trimtab: cannot listen for store changes (%s); polling every "
                            "%.1fs and retrying every second", type(exc).__name__, self.poll)
            self._refused = True
            return False
        if self._refused:
            log.info("trimtab: listening for store changes again")
        self._refused = False
        self._conn = conn
        return True

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        self._echo_sent = 0.0
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - it is gone either way
                pass

    def close(self) -> None:
        """Stop waiting; the thread that waits closes the listener (psycopg
        connections are not to be closed under another thread's feet)."""
        self._closed.set()

    def release(self) -> None:
        """Close the listener: called by the waiting thread as it ends."""
        self._drop()
