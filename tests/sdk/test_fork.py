"""A workspace used across os.fork(): gunicorn or uWSGI preloading the app,
multiprocessing's fork start method. The child must get connections, a spool
and threads of its own, and leave the parent's alone."""

from __future__ import annotations

import json
import os
import select
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event

SYSTEM = "complaint-router"
VARS = {"customer": "ACME", "product": "K-200", "text": "It sparks"}


def in_child(work: Callable[[], Any], timeout: float = 15.0) -> Any:
    """Run ``work`` in a forked child and return what it returned (JSON); a child
    that has not answered within ``timeout`` is killed and the test fails."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read)
        try:
            result = {"ok": work()}
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            result = {"error": f"{type(exc).__name__}: {exc}"}
        os.write(write, json.dumps(result).encode())
        os._exit(0)
    os.close(write)
    try:
        ready, _, _ = select.select([read], [], [], timeout)
        if not ready:
            os.kill(pid, signal.SIGKILL)
            raise AssertionError(f"the forked child hung for {timeout}s")
        chunks = []
        while chunk := os.read(read, 65536):
            chunks.append(chunk)
    finally:
        os.close(read)
        os.waitpid(pid, 0)
    result = json.loads(b"".join(chunks))
    assert "error" not in result, result["error"]
    return result["ok"]


@pytest.mark.parametrize("writer", ["thread", "process"])
def test_a_child_records_on_a_spool_of_its_own_and_leaves_the_parents(ws, writer,
                                                                       monkeypatch):
    """The child appended to the parent's segment and had no writer (flush() was
    False at once); at its exit its close() deleted the parent's segment and owner
    lock once the parent had drained them (and stopped the parent's writer
    process), so the parent's later calls were lost."""
    monkeypatch.setenv("TRIMTAB_RECORDER_WRITER", writer)
    first = ws.record(SYSTEM, {"text": "before the fork"}, "x", 1.0)
    assert ws.flush()
    parents = sorted(p.name for p in ws.spool_dir.iterdir())

    def child() -> dict[str, Any]:
        ids = [ws.record(SYSTEM, {"text": f"child {i}"}, "x", 1.0) for i in range(5)]
        flushed = ws.flush(10)
        time.sleep(0.3)  # what the parent's writer would drain meanwhile, it has
        ws.close()  # what atexit does as a gunicorn worker exits
        return {"ids": ids, "flushed": flushed}

    got = in_child(child)
    # The parent's spool is as it was, and it still records through it.
    assert sorted(p.name for p in ws.spool_dir.iterdir()) == parents
    later = [ws.record(SYSTEM, {"text": f"after {i}"}, "x", 1.0) for i in range(3)]
    assert ws.flush(10)
    assert {c.id for c in ws.calls(limit=100)} == {first, *got["ids"], *later}
    assert got["flushed"]


def test_a_child_that_never_records_touches_nothing_of_the_parents(ws):
    ws.record(SYSTEM, {"text": "before the fork"}, "x", 1.0)
    assert ws.flush()
    parents = sorted(p.name for p in ws.spool_dir.iterdir())

    def child() -> dict[str, Any]:
        time.sleep(0.2)
        flushed = ws.flush(5)
        ws.close()
        return {"flushed": flushed, "stats": ws.recorder.stats()}

    got = in_child(child)
    assert got["flushed"] and got["stats"]["spooled"] == 0
    assert sorted(p.name for p in ws.spool_dir.iterdir()) == parents
    later = ws.record(SYSTEM, {"text": "after"}, "x", 1.0)
    assert ws.flush(10) and later in {c.id for c in ws.calls()}


def test_a_child_opens_store_connections_of_its_own(ws):
    """A pooled connection is the parent's socket (or SQLite handle): a child that
    used it mixed its replies with the parent's (PostgreSQL: 'server closed the
    connection', one process reading the other's rows)."""
    ws.status()  # the pool now holds a connection the parent opened
    connects: list[int] = []
    event.listen(ws.store.engine, "connect", lambda *_: connects.append(os.getpid()))
    parent_pid = _backend_pid(ws)

    def child() -> dict[str, Any]:
        ws.status()
        return {"connects": len(connects), "backend": _backend_pid(ws)}

    got = in_child(child)
    assert got["connects"] >= 1  # it connected itself instead of taking the parent's
    if ws.store.dialect == "postgresql":
        assert got["backend"] != parent_pid
    assert ws.status() is not None  # the parent's connection still works


def _backend_pid(ws) -> int | None:
    if ws.store.dialect != "postgresql":
        return None
    with ws.store.read() as conn:
        return conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()


def test_run_in_a_child_after_the_parent_called(live):
    """The synchronous run() uses a private event loop on a thread; a forked child
    has the loop but not the thread, so its first run() waited for ever."""
    ws, release = live
    ws.system(SYSTEM).run(VARS)  # a warm-up call before the workers fork

    def child() -> dict[str, Any]:
        result = ws.system(SYSTEM).run(VARS)
        flushed = ws.flush(10)
        ws.close()
        return {"call_id": result.call_id, "release": result.release_id, "flushed": flushed}

    got = in_child(child)
    assert got["flushed"] and got["release"] == release.id
    assert got["call_id"] in {c.id for c in ws.calls()}
    assert ws.system(SYSTEM).run(VARS).release_id == release.id
