"""SIGTERM drains the gateway within a bounded grace and exits 0, its clean-up done.

The gateway runs as `trimtab gateway` in its own process, calling a loopback upstream
that answers late or never. Calls in flight get the grace (`gateway.shutdown_grace`) to
finish; what is still running then is cancelled, answered 503 and recorded as cancelled;
the recorder drains and no spool segment or owner file is left behind.
"""

from __future__ import annotations

import asyncio
import signal
import threading

import httpx
import pytest

import trimtab
from tests.helpers import hostile_upstream as hostile
from tests.helpers.gateway_server import declare_provider
from tests.helpers.processes import start


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


def stop(process, url: str, upstream: hostile.HostileUpstream) -> str:
    """SIGTERM once the upstream has the request in hand; the process's output."""
    for _ in range(500):
        if upstream.requests:
            break
        threading.Event().wait(0.01)
    process.send_signal(signal.SIGTERM)
    return process.communicate(timeout=60)[0].decode()


def test_sigterm_lets_a_call_in_flight_finish_then_exits_0(project_dir, database_url):
    with hostile.running_hostile(answers_after(1.0)) as up:
        declare_provider(project_dir, "up", up)
        gateway, url = start(project_dir, database_url, "gateway")
        thread, got = call_in_background(url)
        output = stop(gateway, url, up)
        thread.join(60)
    assert gateway.returncode == 0, output
    assert got[0].status_code == 200, got[0]
    assert list((project_dir / ".trimtab" / "spool").glob("*")) == []  # clean-up ran
    with trimtab.connect(project_dir, database_url=database_url) as ws:
        [call] = ws.calls(limit=5)
    assert call.id == got[0].json()["id"].removeprefix("chatcmpl-") and call.status == "ok"


def test_sigterm_cancels_what_outlasts_the_grace_records_it_and_exits_0(project_dir,
                                                                        database_url):
    with open(project_dir / "trimtab.yaml", "a") as f:
        f.write("gateway:\n  shutdown_grace: 0.5\n")
    with hostile.running_hostile(hostile.trickle(0.05)) as up:
        declare_provider(project_dir, "up", up)
        gateway, url = start(project_dir, database_url, "gateway")
        thread, got = call_in_background(url)
        output = stop(gateway, url, up)
        thread.join(60)
    assert gateway.returncode == 0, output
    answer = got[0]
    assert answer.status_code == 503 and answer.json()["error"]["code"] == "shutting_down"
    assert list((project_dir / ".trimtab" / "spool").glob("*")) == []
    with trimtab.connect(project_dir, database_url=database_url) as ws:
        [call] = ws.calls(limit=5)
    assert (call.status, call.error_kind, call.system) == ("error", "cancelled", "passthrough")
