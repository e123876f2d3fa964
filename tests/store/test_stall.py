"""A PostgreSQL store whose connections go silent (a partition: old connections stop
answering, new ones work) is noticed within seconds, logged, and connected afresh;
every connection carries keepalives, a TCP user timeout and a statement timeout."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from sqlalchemy import text

from tests.helpers.tcp_proxy import bounded, proxied
from trimtab.errors import StoreUnavailable, TrimtabError
from trimtab.store import Store
from trimtab.store.changes import ChangeFeed, notify


def read_one(store: Store) -> int:
    with store.read() as conn:
        return conn.execute(text("SELECT 1")).scalar()


def with_options(url: str, extra: str, **query: str) -> str:
    """``url`` with ``extra`` added to its libpq ``options`` and ``query`` set."""
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query))
    params["options"] = f"{params.get('options', '')} {extra}".strip()
    return urlunsplit(parts._replace(query=urlencode({**params, **query})))


def backend_alive(url: str, pid: int) -> bool:
    store = Store(url, migrate=False)
    try:
        with store.read() as conn:
            return bool(conn.execute(text("SELECT count(*) FROM pg_stat_activity "
                                          "WHERE pid = :pid"), {"pid": pid}).scalar())
    finally:
        store.dispose()


def test_connections_carry_keepalives_a_user_timeout_and_a_statement_timeout(postgres_url):
    store = Store(postgres_url)
    with store.read() as conn:
        fd = conn.connection.driver_connection.pgconn.socket
        with socket.socket(fileno=os.dup(fd)) as sock:
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 10
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == 5
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == 3
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == 30_000
        assert conn.execute(text("SHOW statement_timeout")).scalar() == "5min"
        assert conn.execute(text("SHOW jit")).scalar() == "off"
        assert conn.execute(text("SHOW search_path")).scalar().startswith("t_")  # kept
    assert store.watchdog is not None and store.watchdog.stall_after == 5
    store.dispose()
    # What the URL says wins: libpq's own parameters, and a statement timeout in options.
    mine = Store(with_options(postgres_url, "-c statement_timeout=1500 -c jit=on",
                              keepalives_idle="42",
                              tcp_user_timeout="7000", trimtab_stall_timeout="2.5"),
                 migrate=False)
    with mine.read() as conn:
        fd = conn.connection.driver_connection.pgconn.socket
        with socket.socket(fileno=os.dup(fd)) as sock:
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 42
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == 7000
        assert conn.execute(text("SHOW statement_timeout")).scalar() == "1500ms"
        assert conn.execute(text("SHOW jit")).scalar() == "on"
    assert mine.watchdog.stall_after == 2.5 and mine.watchdog.cut_after == 4.0
    mine.dispose()
    # libpq's compact form (-cNAME=value, as the search_path above) counts too.
    compact = Store(with_options(postgres_url, "-cjit=on"), migrate=False)
    with compact.read() as conn:
        assert conn.execute(text("SHOW jit")).scalar() == "on"
    compact.dispose()
    with pytest.raises(TrimtabError, match="trimtab_stall_timeout='soon'.*Fix"):
        Store(with_options(postgres_url, "", trimtab_stall_timeout="soon"), migrate=False)


def test_a_frozen_connection_is_cut_within_seconds_and_the_pool_connects_afresh(
        postgres_url, caplog):
    """The pool's pre-ping on a connection that went silent would wait forever."""
    Store(postgres_url).dispose()  # migrated directly: the proxied pool holds one connection
    with proxied(postgres_url, trimtab_stall_timeout="1") as (proxy, url):
        store = Store(url, migrate=False)
        with store.read() as conn:
            frozen_pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        assert proxy.freeze() == 1
        took, answer = bounded(lambda: read_one(store), 20)
        assert answer == 1 and took < 8
        assert "a store connection stopped answering" in caplog.text
        assert f"backend {frozen_pid} idle" in caplog.text
        assert store.watchdog.stalled == 1
        # Its backend was terminated (whatever locks it held are free), not left behind.
        deadline = time.monotonic() + 5
        while backend_alive(postgres_url, frozen_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not backend_alive(postgres_url, frozen_pid)
        store.dispose()


def test_a_frozen_transaction_fails_fast_and_the_next_one_works(postgres_url, caplog):
    with proxied(postgres_url, trimtab_stall_timeout="1") as (proxy, url):
        store = Store(url)

        def frozen_midway() -> int:
            with store.ingest() as conn:
                conn.execute(text("SELECT 1"))
                proxy.freeze()
                return conn.execute(text("SELECT 2")).scalar()

        took, failed = bounded(frozen_midway, 20)
        assert isinstance(failed, StoreUnavailable) and took < 8
        assert bounded(lambda: read_one(store), 10)[1] == 1
        assert "stopped answering" in caplog.text
        store.dispose()


def test_a_slow_statement_is_left_alone(postgres_url):
    """The server is working on it (pg_stat_activity: active): not a stall."""
    with proxied(postgres_url, trimtab_stall_timeout="0.3") as (_, url):
        store = Store(url)
        with store.read() as conn:
            conn.execute(text("SELECT pg_sleep(1.2)"))
        assert store.watchdog.stalled == 0
        store.dispose()


def test_a_wait_nobody_can_ask_about_is_cut_after_the_statement_timeout(postgres_url,
                                                                       caplog):
    """Frozen, and no fresh connection opens either: cut after the statement timeout
    plus the stall timeout, never left to hang."""
    url_with = with_options(postgres_url, "-c statement_timeout=1000")
    with proxied(url_with, trimtab_stall_timeout="0.5") as (proxy, url):
        store = Store(url)
        assert read_one(store) == 1
        proxy.freeze(refuse_new=True)
        took, failed = bounded(lambda: read_one(store), 20)
        assert isinstance(failed, StoreUnavailable)
        assert 1.5 <= took < 8
        assert caplog.text.count("no fresh connection opens") == 1  # said once, not per look
        assert "the server sees no answer about it" in caplog.text
        store.dispose()


def test_the_change_feed_notices_a_silent_listener_and_listens_afresh(postgres_url, caplog):
    direct = Store(postgres_url)
    with proxied(postgres_url, trimtab_stall_timeout="1") as (proxy, url):
        store = Store(url, migrate=False)
        feed = ChangeFeed(store, poll=0.05, recheck=0.2)

        def look_until(done: Callable[[], bool], seconds: float) -> float:
            started = time.monotonic()
            while not done():
                assert time.monotonic() - started < seconds, "the feed never got there"
                feed.version()
                feed.wait()
            return time.monotonic() - started

        look_until(lambda: feed._echo_heard > 0, 10)  # listening, and hearing its echo
        proxy.freeze()
        took = look_until(lambda: "change listener stopped hearing" in caplog.text, 20)
        assert took < 10
        look_until(lambda: feed._conn is not None, 10)  # listening on a fresh connection
        # ... and a change wakes it at once again, not at its next look.
        feed.recheck = 30
        woke = threading.Event()
        waiter = threading.Thread(target=lambda: (feed.wait(), woke.set()), daemon=True)
        waiter.start()
        time.sleep(0.3)
        with direct.write() as conn:
            notify(conn, "test")
        assert woke.wait(3), "the fresh listener did not hear the change"
        feed.close()
        feed.release()
        store.dispose()
    direct.dispose()


def test_a_copy_frozen_midway_is_cut_although_the_server_calls_it_active(postgres_url,
                                                                         caplog):
    """The writer's bulk inserts are COPYs: frozen mid-stream, the server sits in
    COPY (state active, waiting to read from the client) while the client waits to
    send. Both wait on each other; the second look finds the same and cuts it."""
    with proxied(postgres_url, trimtab_stall_timeout="0.5") as (proxy, url):
        store = Store(url)

        def frozen_copy() -> None:
            with store.ingest() as conn:
                conn.execute(text("CREATE TEMP TABLE sink (line text)"))
                cursor = conn.connection.driver_connection.cursor()
                with cursor.copy("COPY sink FROM STDIN") as copy:
                    copy.write_row(("first",))
                    proxy.freeze()
                    for _ in range(200_000):  # far past every buffer on the way
                        copy.write_row(("x" * 100,))

        took, failed = bounded(frozen_copy, 30)
        assert isinstance(failed, Exception) and took < 10
        assert "waiting on the client" in caplog.text
        assert bounded(lambda: read_one(store), 10)[1] == 1
        store.dispose()


def test_the_change_feed_says_once_that_it_cannot_listen_not_every_second(postgres_url,
                                                                         caplog):
    caplog.set_level("INFO", logger="trimtab")
    with proxied(postgres_url) as (proxy, url):
        store = Store(url)
        feed = ChangeFeed(store, poll=0.05, recheck=0.2)
        proxy.cut()
        deadline = time.monotonic() + 2.5  # two or three tries to listen again
        while time.monotonic() < deadline:
            feed.wait()
        assert caplog.text.count("cannot listen for store changes") == 1
        proxy.restore()
        deadline = time.monotonic() + 5
        while feed._conn is None and time.monotonic() < deadline:
            feed.wait()
        assert "listening for store changes again" in caplog.text
        feed.close()
        feed.release()
        store.dispose()
