"""SIGTERM drains the gateway within a bounded grace and exits 0, its clean-up done.

The gateway runs as `trimtab gateway` in its own process, calling a loopback upstream
that answers late or never. Calls in flight get the grace (`gateway.shutdown_grace`) to
finish; what is still running then is cancelled, answered 503 and recorded as cancelled;
the recorder drains and no spool segment or owner file is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading

import httpx
import pytest
from sqlalchemy import create_engine, text

import trimtab
from tests.helpers import hostile_upstream as hostile
from tests.helpers import promote_through
from tests.helpers.gateway_server import declare_provider
from tests.helpers.processes import start

SYSTEM = "complaint-router"


@pytest.fixture(autouse=True)
def _upstream_key(monkeypatch):
    monkeypatch.setenv("MOCK_UPSTREAM_KEY", "sk-upstream-key")


def answers_after(seconds: float) -> hostile.Behaviour:
    async def behave(reader, writer):
        await asyncio.sleep(seconds)
        await hostile.status(200, b"OK")(reader, writer)
    return behave


def call_in_background(url: str) -> tuple[threading.Thread, list]:
    got: list = []

    def call() -> None:
        try:
            got.append(httpx.post(f"{url}/v1/chat/completions", timeout=60, json={
                "model": "up/gpt-4o", "messages": [{"role": "user", "content": "hi"}]}))
        except httpx.HTTPError as exc:
            got.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    return thread, got


def terminated_during_a_call(project_dir, database_url, behaviour: hostile.Behaviour):
    """SIGTERM to `trimtab gateway` once the upstream has a call in hand: (the process,
    its output, what the caller got), the process ended."""
    with hostile.running_hostile(behaviour) as up:
        declare_provider(project_dir, "up", up)
        gateway, url = start(project_dir, database_url, "gateway")
        thread, got = call_in_background(url)
        for _ in range(500):
            if up.requests:
                break
            threading.Event().wait(0.01)
        gateway.send_signal(signal.SIGTERM)
        output = gateway.communicate(timeout=60)[0].decode()
        thread.join(60)
    return gateway, output, got[0]


def test_sigterm_lets_a_call_in_flight_finish_then_exits_0(project_dir, database_url):
    gateway, output, answer = terminated_during_a_call(project_dir, database_url,
                                                       answers_after(1.0))
    assert gateway.returncode == 0, output
    assert answer.status_code == 200, answer
    assert list((project_dir / ".trimtab" / "spool").glob("*")) == []  # clean-up ran
    with trimtab.connect(project_dir, database_url=database_url) as ws:
        [call] = ws.calls(limit=5)
    assert call.id == answer.json()["id"].removeprefix("chatcmpl-") and call.status == "ok"


def test_sigterm_cancels_what_outlasts_the_grace_records_it_and_exits_0(project_dir,
                                                                        database_url):
    with open(project_dir / "trimtab.yaml", "a") as f:
        f.write("gateway:\n  shutdown_grace: 0.5\n")
    gateway, output, answer = terminated_during_a_call(project_dir, database_url,
                                                       hostile.trickle(0.05))
    assert gateway.returncode == 0, output
    assert answer.status_code == 503 and answer.json()["error"]["code"] == "shutting_down"
    assert list((project_dir / ".trimtab" / "spool").glob("*")) == []
    with trimtab.connect(project_dir, database_url=database_url) as ws:
        [call] = ws.calls(limit=5)
    assert (call.status, call.error_kind, call.system) == ("error", "cancelled", "passthrough")


@contextlib.contextmanager
def calls_table_away(database_url: str):
    """The store refuses every insert of a call (its table is renamed) until the end."""
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE calls RENAME TO calls_away"))
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE calls_away RENAME TO calls"))
        engine.dispose()


def test_sigterm_with_the_store_refusing_keeps_the_records_spooled_and_says_so(
        project_dir, database_url):
    """`trimtab gateway --workers 2`: each worker gives the store `drain_timeout`, says
    what stays spooled, keeps it (segments and owner files) and still exits 0; the next
    recording process on the spool stores every answered call."""
    with open(project_dir / "trimtab.yaml", "a") as f:
        f.write("gateway:\n  drain_timeout: 0.5\n")
    with trimtab.connect(project_dir, database_url=database_url) as ws:
        release, _ = ws.release(SYSTEM)
        promote_through(ws, SYSTEM, release.id, "production")
    gateway, url = start(project_dir, database_url, "gateway", "--workers", "2")
    spool = project_dir / ".trimtab" / "spool"
    with calls_table_away(database_url):
        answers = [httpx.post(f"{url}/v1/chat/completions", timeout=30, json={
            "model": f"trimtab/{SYSTEM}", "messages": [{"role": "user", "content": "leak"}]})
            for _ in range(8)]
        assert {a.status_code for a in answers} == {200}
        gateway.send_signal(signal.SIGTERM)
        output = gateway.communicate(timeout=60)[0].decode()
        assert gateway.returncode == 0, output
        assert "exited with code" not in output, output
        assert "stay spooled" in output, output
        assert list(spool.glob("*.jsonl")) and list(spool.glob("*.owner"))
    with trimtab.connect(project_dir, database_url=database_url) as ws:
        ws.recorder  # noqa: B018 - a recording process adopts what the workers left
        assert ws.flush(30)
        stored = {c.id for c in ws.calls(limit=50)}
    assert {a.json()["id"].removeprefix("chatcmpl-") for a in answers} <= stored
    assert list(spool.glob("*")) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "group-stop"])
def test_a_signal_to_the_whole_process_group_stops_quietly_and_stores_every_call(
        project_dir, database_url, sig):
    """Ctrl-C in a terminal reaches every process of the foreground group, and systemd
    stops a service by signalling all of its processes: the recorder's writer process
    too. It used to die first with a KeyboardInterrupt traceback, and the gateway then
    started a new writer while it shut down ("exited (code -2); restarting")."""
    with trimtab.connect(project_dir, database_url=database_url) as ws:
        release, _ = ws.release(SYSTEM)
        promote_through(ws, SYSTEM, release.id, "production")
    gateway, url = start(project_dir, database_url, "gateway")
    answers = [httpx.post(f"{url}/v1/chat/completions", timeout=30, json={
        "model": f"trimtab/{SYSTEM}", "messages": [{"role": "user", "content": "hi"}]})
        for _ in range(3)]
    assert {a.status_code for a in answers} == {200}
    os.killpg(gateway.pid, sig)  # the gateway, its writer process, all at once
    output = gateway.communicate(timeout=60)[0].decode()
    assert gateway.returncode == 0, output
    assert "Traceback" not in output and "restarting" not in output, output
    with trimtab.connect(project_dir, database_url=database_url) as ws:
        stored = {c.id for c in ws.calls(limit=50)}
    assert {a.json()["id"].removeprefix("chatcmpl-") for a in answers} <= stored
    assert list((project_dir / ".trimtab" / "spool").glob("*")) == []
