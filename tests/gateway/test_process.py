"""The gateway as its own process: `trimtab serve` with workers, and SIGKILL under load.

A gateway killed with SIGKILL under load loses no call whose answer reached a client.
The gateway runs as `trimtab gateway` in its own process; many clients call it at
once while the calls table is locked (a slow or stuck database), so answers go out
with their records only in the spool; it is killed mid-load. Every call id a client
received must then be in the store once the next process has replayed the spool the
dead one left, and counted once in the rollups.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess

import httpx
import pytest
from sqlalchemy import create_engine, text

import trimtab
from tests.helpers import edit, promote_through
from tests.helpers.http_receiver import Receiver
from tests.helpers.processes import start

SYSTEM = "complaint-router"
ALERT = """
channels:
  test-hook:
    kind: webhook
    url: {url}/hook
alerts:
  any-traffic:
    system: complaint-router
    metric: call_volume
    window: 1h
    comparator: ">="
    threshold: 1
    channels: [test-hook]
"""


def test_serve_runs_workers_and_the_alert_monitor(project_dir, database_url):
    receiver = Receiver()
    with open(project_dir / "trimtab.yaml", "a") as f:
        f.write(ALERT.format(url=receiver.url))
    with trimtab.connect(project_dir, database_url=database_url) as ws:
        release, _ = ws.release(SYSTEM)
        promote_through(ws, SYSTEM, release.id, "production")
    serve, url = start(project_dir, database_url, "serve", "--workers", "2",
                       "--interval", "1s")
    try:
        answers = [httpx.post(f"{url}/v1/chat/completions", timeout=30, json={
            "model": f"trimtab/{SYSTEM}", "messages": [{"role": "user", "content": "leak"}]})
            for _ in range(20)]
        assert {a.status_code for a in answers} == {200}
        # Each worker bounds a request's head (http_head.py): 431, not a buffered 70 KiB.
        large = httpx.get(f"{url}/healthz", headers={"x-pad": "a" * (70 << 10)}, timeout=30)
        assert large.status_code == 431
        assert receiver.wait_for(1), "the alert monitor never notified"
        assert receiver.delivered[0]["rule"] == "any-traffic"
    finally:
        serve.send_signal(signal.SIGTERM)
        output = serve.communicate(timeout=30)[0].decode()
        receiver.close()
    assert serve.returncode == 0, output
    assert "exited with code" not in output, output  # every worker exited 0 too
    assert "2 workers" in output and "alert monitor: every 1s" in output
    # A clean stop drains every worker's spool into the store and leaves nothing behind:
    # no segment, checkpoint or owner file.
    assert list((project_dir / ".trimtab" / "spool").glob("*")) == []
    with trimtab.connect(project_dir, database_url=database_url) as ws:
        ids = {a.json()["id"].removeprefix("chatcmpl-") for a in answers}
        assert ids <= {c.id for c in ws.calls(limit=100)}


@contextlib.contextmanager
def calls_table_locked(database_url: str):
    """Inserts into the store wait until this ends; reads still work."""
    if database_url.startswith("sqlite:///"):
        conn = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    engine = create_engine(database_url)
    with engine.connect() as conn:
        conn.execute(text("LOCK TABLE calls IN SHARE MODE"))
        try:
            yield
        finally:
            conn.rollback()
    engine.dispose()


async def load(url: str, gateway: subprocess.Popen, *, concurrency: int = 32,
               kill_after: int = 300) -> tuple[list[str], int]:
    """Call until the gateway dies; kill it once ``kill_after`` answers have arrived."""
    answered: list[str] = []
    failed = 0
    body = {"model": f"trimtab/{SYSTEM}",
            "messages": [{"role": "user", "content": "The charger sparks."}]}

    async def worker(http: httpx.AsyncClient) -> None:
        nonlocal failed
        while gateway.poll() is None:
            try:
                answer = await http.post("/v1/chat/completions", json=body)
            except httpx.HTTPError:
                failed += 1
                await asyncio.sleep(0.01)
                continue
            if answer.status_code == 200:
                answered.append(answer.json()["id"].removeprefix("chatcmpl-"))
                if len(answered) == kill_after:
                    os.kill(gateway.pid, signal.SIGKILL)
            else:
                failed += 1

    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        await asyncio.wait_for(asyncio.gather(*(worker(http) for _ in range(concurrency))),
                               timeout=120)
    return answered, failed


@pytest.mark.slow
def test_sigkill_under_load_loses_no_answered_call(project_dir, database_url):
    edit(project_dir / "trimtab.yaml", "latency: {median_ms: 40, p95_ms: 120}",
         "latency: {median_ms: 2, p95_ms: 10}")
    with trimtab.connect(project_dir, database_url=database_url) as ws:
        release, _ = ws.release(SYSTEM)
        promote_through(ws, SYSTEM, release.id, "production")
    gateway, url = start(project_dir, database_url, "gateway")
    try:
        with calls_table_locked(database_url):
            answered, failed = asyncio.run(load(url, gateway))
            with trimtab.connect(project_dir, database_url=database_url) as ws:
                before = len(ws.calls(limit=1_000_000))  # reading starts no recorder
    finally:
        if gateway.poll() is None:
            gateway.kill()
        gateway.wait(10)
    assert gateway.returncode == -signal.SIGKILL
    assert len(answered) >= 300 and len(set(answered)) == len(answered)
    spooled = list((project_dir / ".trimtab" / "spool").glob("*.jsonl"))
    assert spooled, "the dead gateway left its spool behind"

    # The next process (any trimtab command) adopts the dead one's spool and replays it.
    with trimtab.connect(project_dir, database_url=database_url) as ws:
        ws.recorder  # noqa: B018 - start the recorder, which adopts orphaned segments
        assert ws.flush(60)
        stored = {c.id for c in ws.calls(limit=1_000_000)}
        [totals] = ws.metrics(system=SYSTEM)
    assert before < len(answered)  # the replay, not the dead process, stored them
    missing = set(answered) - stored
    assert not missing, f"{len(missing)} answered calls lost of {len(answered)}"
    # Calls in flight at the kill may be stored too (spooled, answer never sent); none twice.
    assert totals.calls == len(stored)
    print(f"\n{len(answered)} answered before SIGKILL, {failed} cut off; "
          f"{before} in the store at the kill, {len(stored)} after replay, none lost")


def test_the_first_start_on_a_new_store_prints_trimtabs_lines_not_the_migrations(
        project_dir, tmp_path):
    """`trimtab gateway` logs trimtab's own news at INFO; Alembic's INFO lines (a line a
    migration, 35 on a new store) are other libraries' and stay out of the output."""
    gateway, _ = start(project_dir, f"sqlite:///{tmp_path / 'new.db'}", "gateway")
    os.killpg(gateway.pid, signal.SIGINT)
    output = gateway.communicate(timeout=60)[0].decode()
    assert gateway.returncode == 0, output
    assert "trimtab gateway on http://127.0.0.1:" in output
    assert "Running upgrade" not in output and "setup plugin" not in output, output
