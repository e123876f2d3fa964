"""The gateway through a silent partition to PostgreSQL (its connections stop answering,
new ones work): key changes made meanwhile take effect within seconds, and every call it
answers is stored."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

import httpx
import pytest

import trimtab
from tests.gateway.test_auth import SYSTEM, chat
from tests.helpers import edit, promote_through
from tests.helpers.gateway_server import running_gateway
from tests.helpers.processes import start
from tests.helpers.tcp_proxy import proxied


@pytest.fixture(autouse=True)
def _fast_model(project_dir):
    """The simulated model answers in milliseconds: these tests wait on the store."""
    edit(project_dir / "trimtab.yaml", "latency: {median_ms: 40, p95_ms: 120}",
         "latency: {median_ms: 2, p95_ms: 5}")


def until(done: Callable[[], bool], seconds: float) -> float:
    """Seconds until ``done()``; fails the test past ``seconds``."""
    started = time.monotonic()
    while not done():
        assert time.monotonic() - started < seconds, f"not within {seconds:.0f}s"
        time.sleep(0.1)
    return time.monotonic() - started


def test_a_key_revoked_during_a_partition_is_refused_and_calls_are_stored(project_dir,
                                                                           postgres_url):
    direct = trimtab.connect(project_dir, database_url=postgres_url)
    release, _ = direct.release(SYSTEM)
    promote_through(direct, SYSTEM, release.id, "production")
    key, secret = direct.create_key("crm", env="production")
    with proxied(postgres_url, trimtab_stall_timeout="1") as (proxy, url):
        ws = trimtab.connect(project_dir, database_url=url)
        answered = []
        try:
            with running_gateway(ws, key_ttl=0.3) as gateway:
                answered.append(chat(gateway, secret))
                time.sleep(0.5)  # every background reader holds a connection now
                assert proxy.freeze() >= 1
                # answered during the partition, before the revoke can race it
                answered.append(chat(gateway, secret))
                direct.revoke_key(key.id)

                def refused() -> bool:
                    answer = chat(gateway, secret)
                    answered.append(answer)
                    return answer.status_code == 401

                assert until(refused, 20) < 10
            ws_ok = [a for a in answered if a.status_code == 200]
            assert ws.flush(30)
            stored = {c.id for c in direct.calls(limit=1000)}
        finally:
            ws.close()
    assert len(ws_ok) >= 2  # answered during the partition too
    assert {a.json()["id"].removeprefix("chatcmpl-") for a in ws_ok} <= stored


def test_the_first_key_created_during_a_partition_closes_an_open_gateway(project_dir,
                                                                          postgres_url):
    direct = trimtab.connect(project_dir, database_url=postgres_url)
    release, _ = direct.release(SYSTEM)
    promote_through(direct, SYSTEM, release.id, "production")
    with proxied(postgres_url, trimtab_stall_timeout="1") as (proxy, url):
        ws = trimtab.connect(project_dir, database_url=url)
        try:
            with running_gateway(ws, key_ttl=0.3) as gateway:
                assert chat(gateway).status_code == 200  # open: no key exists
                time.sleep(0.5)
                assert proxy.freeze() >= 1
                direct.create_key("crm", env="production")
                assert until(lambda: chat(gateway).status_code == 401, 20) < 10
                assert httpx.get(f"{gateway}/healthz").json()["auth"] == "keys"
        finally:
            ws.close()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sigterm_during_a_partition_drains_and_exits_0_within_seconds(project_dir,
                                                                       postgres_url, workers):
    direct = trimtab.connect(project_dir, database_url=postgres_url)
    release, _ = direct.release(SYSTEM)
    promote_through(direct, SYSTEM, release.id, "production")
    with proxied(postgres_url, trimtab_stall_timeout="1") as (proxy, url):
        gateway, base = start(project_dir, url, "gateway", "--workers", workers)
        try:
            answers = [chat(base) for _ in range(5)]
            time.sleep(1)  # the writer, the key and release readers hold connections
            assert proxy.freeze() >= 1
            answers += [chat(base) for _ in range(10)]  # answered during the partition
            gateway.send_signal(signal.SIGTERM)
            started = time.monotonic()
            output = gateway.communicate(timeout=60)[0].decode()
            took = time.monotonic() - started
        finally:
            if gateway.poll() is None:
                gateway.kill()
    assert gateway.returncode == 0, output
    assert took < 15, f"SIGTERM took {took:.1f}s during the partition"
    assert {a.status_code for a in answers} == {200}
    stored = {c.id for c in direct.calls(limit=1000)}
    assert {a.json()["id"].removeprefix("chatcmpl-") for a in answers} <= stored
    assert list((project_dir / ".trimtab" / "spool").glob("*")) == []  # drained, cleaned up


def test_a_promote_during_a_partition_reaches_the_gateway_within_seconds(project_dir,
                                                                        postgres_url):
    direct = trimtab.connect(project_dir, database_url=postgres_url)
    made = []
    for n in range(2):
        text = (project_dir / "trimtab.yaml").read_text()
        (project_dir / "trimtab.yaml").write_text(
            text.replace("model: sim-router-", f"model: sim-router-{n}-", 1))
        made.append(direct.release(SYSTEM)[0].id)
    promote_through(direct, SYSTEM, made[0], "production")
    with proxied(postgres_url, trimtab_stall_timeout="1") as (proxy, url):
        ws = trimtab.connect(project_dir, database_url=url)
        try:
            with running_gateway(ws) as gateway:
                assert chat(gateway).headers["x-trimtab-release"] == made[0]
                time.sleep(1.5)  # the release watcher listens and has heard its echo
                assert proxy.freeze() >= 1
                promote_through(direct, SYSTEM, made[1], "production")
                assert until(lambda: chat(gateway).headers["x-trimtab-release"] == made[1],
                             20) < 10
        finally:
            ws.close()
