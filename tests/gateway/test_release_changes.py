"""A promote or rollback reaches every gateway worker within a second, busy or idle.

The gateway runs as its own process with two workers; the changes are made
from this process, as `trimtab promote` from a CI job would make them.
"""

from __future__ import annotations

import signal
import threading
import time

import httpx
import pytest

import trimtab
from tests.helpers import edit
from tests.helpers.processes import start

SYSTEM = "complaint-router"
BODY = {"model": f"trimtab/{SYSTEM}", "messages": [{"role": "user", "content": "It leaks."}]}


@pytest.fixture
def releases(project_dir, database_url):
    """Four releases of the example system (different models), the first promoted."""
    edit(project_dir / "trimtab.yaml", "latency: {median_ms: 40, p95_ms: 120}",
         "latency: {median_ms: 2, p95_ms: 5}")
    made = []
    with trimtab.connect(project_dir, database_url=database_url) as ws:
        for n in range(4):
            text = (project_dir / "trimtab.yaml").read_text()
            (project_dir / "trimtab.yaml").write_text(
                text.replace("model: sim-router-", f"model: sim-router-{n}-", 1))
            made.append(ws.release(SYSTEM)[0].id)
        for release in made:  # each runs in dev and staging before it may reach production
            ws.promote(SYSTEM, release, "dev")
            ws.promote(SYSTEM, release, "staging")
        ws.promote(SYSTEM, made[0], "production")
    return made


def served(url: str) -> str:
    answer = httpx.post(f"{url}/v1/chat/completions", json=BODY, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.headers["x-trimtab-release"]


def stop(gateway) -> None:
    gateway.send_signal(signal.SIGTERM)
    try:
        gateway.communicate(timeout=30)
    except Exception:  # noqa: BLE001
        gateway.kill()
        gateway.wait(10)


def test_a_promote_reaches_an_idle_gateway_before_its_next_call(project_dir, database_url,
                                                                 releases):
    gateway, url = start(project_dir, database_url, "gateway", "--workers", "2")
    try:
        assert {served(url) for _ in range(20)} == {releases[0]}  # both workers hold r0
        with trimtab.connect(project_dir, database_url=database_url) as ws:
            ws.promote(SYSTEM, releases[1], "production")
        time.sleep(2)  # idle: no call could have refreshed anything
        assert {served(url) for _ in range(20)} == {releases[1]}
        with trimtab.connect(project_dir, database_url=database_url) as ws:
            ws.rollback(SYSTEM, "production")
        time.sleep(1.5)
        assert {served(url) for _ in range(20)} == {releases[0]}
    finally:
        stop(gateway)


def test_twenty_flips_under_load_every_answer_was_active_at_its_start(project_dir,
                                                                      database_url, releases):
    """20 flips in 20 s (promotes and rollbacks among four releases) while clients
    call without pause: each answer's release was active within a second of its start."""
    gateway, url = start(project_dir, database_url, "gateway", "--workers", "2")
    # (from, to, release): the release became active at some moment in [from, to],
    # the time the change's transaction took as seen from here.
    changes = [(float("-inf"), float("-inf"), releases[0])]
    answers: list[tuple[float, str]] = []
    done = threading.Event()

    def call() -> None:
        with httpx.Client(base_url=url, timeout=10) as http:
            while not done.is_set():
                started = time.monotonic()
                answer = http.post("/v1/chat/completions", json=BODY)
                assert answer.status_code == 200, answer.text
                answers.append((started, answer.headers["x-trimtab-release"]))

    clients = [threading.Thread(target=call, daemon=True) for _ in range(4)]
    try:
        for thread in clients:
            thread.start()
        with trimtab.connect(project_dir, database_url=database_url) as ws:
            for flip in range(1, 21):
                time.sleep(1)
                target = releases[flip % 4]
                before = time.monotonic()
                if flip % 2:
                    ws.promote(SYSTEM, target, "production", reason=f"flip {flip}")
                else:
                    ws.rollback(SYSTEM, "production", to=target, reason=f"flip {flip}")
                changes.append((before, time.monotonic(), target))
        time.sleep(1)
    finally:
        done.set()
        for thread in clients:
            thread.join(15)
        stop(gateway)
    assert len(answers) > 200

    def active_between(release: str, low: float, high: float) -> bool:
        """Was ``release`` possibly active at some moment of [low, high]?"""
        for (start_from, _, rid), (_, next_to, _) in zip(
                changes, changes[1:] + [(0, float("inf"), None)], strict=True):
            if rid == release and start_from <= high and next_to >= low:
                return True
        return False

    late = [(round(started - changes[1][0], 2), release[:8]) for started, release in answers
            if not active_between(release, started - 1.0, started + 1.0)]
    assert not late, f"{len(late)} of {len(answers)} answers came from a stale release: {late[:5]}"
