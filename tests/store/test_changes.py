"""The store's change signal: the counter moves with every state change, and on
PostgreSQL a listener wakes at the change's commit, not at its next look."""

from __future__ import annotations

import threading
import time

import pytest

import trimtab
from trimtab.store.changes import ChangeFeed


def test_a_change_moves_the_counter_and_wakes_a_listener_at_once(live):
    ws, _ = live
    # SQLite looks every 0.2 s; PostgreSQL must be woken by NOTIFY: its fallback
    # polling (no listener) and its rechecks are both 30 s here.
    slow = 0.2 if ws.store.dialect == "sqlite" else 30
    feed = ChangeFeed(ws.store, poll=slow, recheck=30)
    before = feed.version()
    woke = threading.Event()

    def wait() -> None:
        feed.wait()  # PostgreSQL: connects the listener first; SQLite: one poll
        if feed.version() > before:
            woke.set()
            return
        feed.wait()
        woke.set()

    waiter = threading.Thread(target=wait, daemon=True)
    waiter.start()
    try:
        time.sleep(1)  # the listener is connected (PostgreSQL) or already polling
        ws.create_key("app", env="production")  # any audited change, not only deployments
        assert woke.wait(2), "the change did not wake the listener"
        assert feed.version() > before
    finally:
        feed.close()
        waiter.join(31)
        feed.release()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_change_in_another_schema_of_the_database_wakes_no_listener(live, postgres_url,
                                                                       project_dir):
    """PostgreSQL's notifications are database-wide: each store has its own channel."""
    ws, _ = live
    feed = ChangeFeed(ws.store, poll=30, recheck=30)
    woke = threading.Event()

    def wait() -> None:
        feed.wait()  # connects the listener, then hears a notification or gives up at 30 s
        woke.set()

    waiter = threading.Thread(target=wait, daemon=True)
    waiter.start()
    try:
        time.sleep(1)
        with trimtab.connect(project_dir, database_url=postgres_url) as neighbour:
            neighbour.create_key("app", env="production")
        assert not woke.wait(1.5), "a change in another schema woke this store's listener"
        ws.create_key("app", env="production")
        assert woke.wait(2), "a change in this store did not wake its listener"
    finally:
        feed.close()
        waiter.join(31)
        feed.release()
