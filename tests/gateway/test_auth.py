"""Who may call the gateway, in which environment, and whom the call is attributed to."""

from __future__ import annotations

import time
from urllib.parse import urlsplit, urlunsplit

import httpx
import openai
import pytest
from openai import OpenAI
from sqlalchemy import event

import trimtab
from tests.helpers import edit, promote_through
from tests.helpers.gateway_server import running_gateway
from tests.helpers.tcp_proxy import TcpProxy

SYSTEM = "complaint-router"
MODEL = f"trimtab/{SYSTEM}"
HELLO = [{"role": "user", "content": "The plug is loose."}]
SECOND_SYSTEM = """
  support-drafter:
    description: Drafts first replies to support tickets.
    owner: support@example.com
    tier: 1
    risk: minimal
    release:
      provider: simulated
      model: sim-drafter-1
"""


@pytest.fixture
def live(ws):
    release, _ = ws.release(SYSTEM)
    promote_through(ws, SYSTEM, release.id, "production")
    return ws


def client(url: str, key: str = "unused") -> OpenAI:
    return OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=30)


def chat(url: str, key: str | None = None, **headers) -> httpx.Response:
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    return httpx.post(f"{url}/v1/chat/completions", json={"model": MODEL, "messages": HELLO},
                      headers=headers, timeout=30)


def test_with_no_keys_the_gateway_is_open_and_calls_run_in_production(live):
    with running_gateway(live) as url:
        answer = chat(url)
        health = httpx.get(f"{url}/healthz").json()
    assert answer.status_code == 200 and health["auth"] == "open"
    live.flush()
    [call] = live.calls()
    assert call.env == "production" and call.api_key_id is None


def test_once_a_key_exists_every_request_needs_one(live):
    _, secret = live.create_key("crm", env="production")
    wrong = secret[:-4] + "abcd"
    with running_gateway(live) as url:
        missing = chat(url)
        bad = chat(url, wrong)
        garbage = chat(url, "sk-not-even-ours")
        basic = chat(url, Authorization="Basic dXNlcjpwYXNz")
        models = httpx.get(f"{url}/v1/models")
        records = httpx.post(f"{url}/api/v1/records", json={"system": SYSTEM, "latency_ms": 1})
        good = chat(url, secret)
        with pytest.raises(openai.AuthenticationError) as refused:
            client(url, wrong).chat.completions.create(model=MODEL, messages=HELLO)
    for answer in (missing, bad, garbage, basic, models, records):
        assert answer.status_code == 401, answer.text
        error = answer.json()["error"]
        assert error["code"] == "invalid_api_key" and error["type"] == "invalid_request_error"
        assert secret not in answer.text and wrong not in answer.text
    assert "Bearer" in missing.json()["error"]["message"]
    assert good.status_code == 200
    assert wrong not in str(refused.value)
    live.flush()
    assert len(live.calls()) == 1  # refused requests are not calls


def test_served_without_a_lifespan_start_up_it_is_still_closed(live):
    """Mounted in another ASGI server that skips start-up, the keys are read on first use."""
    _, secret = live.create_key("crm", env="production")
    with running_gateway(live, lifespan="off") as url:
        assert chat(url).status_code == 401
        assert chat(url, secret).status_code == 200
        assert httpx.get(f"{url}/metrics").status_code == 401
        assert "trimtab_calls_total" in httpx.get(
            f"{url}/metrics", headers={"Authorization": f"Bearer {secret}"}).text


def test_a_revoked_key_is_refused_within_seconds(live, project_dir, database_url):
    key, secret = live.create_key("crm", env="production")
    with running_gateway(live, key_ttl=0.3) as url:
        assert chat(url, secret).status_code == 200
        # Revoked from another process, as `trimtab keys revoke` would.
        other = trimtab.connect(project_dir, database_url=database_url)
        other.revoke_key(key.id)
        other.close()
        deadline = time.monotonic() + 10
        while (answer := chat(url, secret)).status_code == 200:
            assert time.monotonic() < deadline, "the revoked key still works"
            time.sleep(0.1)
        assert answer.status_code == 401 and "revoked" in answer.json()["error"]["message"]
        # Revoking the last key does not open the gateway.
        assert chat(url).status_code == 401
        assert httpx.get(f"{url}/healthz").json()["auth"] == "keys"


def test_a_key_made_while_running_works_at_once_and_closes_an_open_gateway(live):
    with running_gateway(live, key_ttl=0.3) as url:
        assert chat(url).status_code == 200
        _, secret = live.create_key("late", env="production")
        assert chat(url, secret).status_code == 200
        deadline = time.monotonic() + 10
        while chat(url).status_code == 200:
            assert time.monotonic() < deadline, "still open after a key was created"
            time.sleep(0.1)


def test_keys_are_checked_in_memory_not_with_a_database_read_per_request(live):
    _, secret = live.create_key("crm", env="production")
    statements: list[str] = []

    def seen(conn, cursor, sql, *args) -> None:
        statements.append(sql)

    with running_gateway(live, key_ttl=3600) as url:
        assert chat(url, secret).status_code == 200  # the first use checks the hash once
        event.listen(live.store.engine, "before_cursor_execute", seen)
        try:
            for _ in range(20):
                assert chat(url, secret).status_code == 200
        finally:
            event.remove(live.store.engine, "before_cursor_execute", seen)
    assert not [s for s in statements if "api_keys" in s]


def test_a_key_scoped_to_systems_gets_403_elsewhere(live, project_dir):
    with open(project_dir / "trimtab.yaml", "a") as f:
        f.write(SECOND_SYSTEM)
    drafter, _ = live.release("support-drafter")
    promote_through(live, "support-drafter", drafter.id, "production")
    _, secret = live.create_key("router-only", env="production", systems=[SYSTEM])
    with running_gateway(live) as url:
        allowed = chat(url, secret)
        other = httpx.post(f"{url}/v1/chat/completions", json={
            "model": "trimtab/support-drafter", "messages": HELLO},
            headers={"Authorization": f"Bearer {secret}"})
        passthrough = httpx.post(f"{url}/v1/chat/completions", json={
            "model": "simulated/sim-free", "messages": HELLO},
            headers={"Authorization": f"Bearer {secret}"})
        record = httpx.post(f"{url}/api/v1/records", json={
            "system": "support-drafter", "latency_ms": 1},
            headers={"Authorization": f"Bearer {secret}"})
        listed = client(url, secret).models.list()
        with pytest.raises(openai.PermissionDeniedError):
            client(url, secret).chat.completions.create(model="trimtab/support-drafter",
                                                        messages=HELLO)
    assert allowed.status_code == 200
    for answer in (other, passthrough, record):
        assert answer.status_code == 403, answer.text
        assert answer.json()["error"]["type"] == "permission_error"
        assert answer.json()["error"]["param"] in ("model", "system")
    assert [m.id for m in listed.data] == [MODEL]


def test_environment_from_header_else_the_keys_default(live, project_dir):
    edit(project_dir / "trimtab.yaml", "environments: [dev,", "environments: [sandbox, dev,")
    key, secret = live.create_key("staging-app", env="staging", tags={"team": "qa"},
                                  any_env=True)
    with running_gateway(live) as url:
        by_key = chat(url, secret)
        by_header = chat(url, secret, **{"X-Trimtab-Env": "production"})
        unknown = chat(url, secret, **{"X-Trimtab-Env": "prod"})
        nothing_there = chat(url, secret, **{"X-Trimtab-Env": "sandbox"})
        bad_tags = chat(url, secret, **{"X-Trimtab-Tags": "oops"})
    assert by_key.status_code == by_header.status_code == 200
    assert unknown.status_code == 400
    assert unknown.json()["error"]["param"] == "X-Trimtab-Env"
    assert "production" in unknown.json()["error"]["message"]
    assert nothing_there.status_code == 409
    assert nothing_there.json()["error"]["code"] == "no_active_release"
    assert "trimtab promote complaint-router" in nothing_there.json()["error"]["message"]
    assert bad_tags.status_code == 400
    assert bad_tags.json()["error"]["param"] == "X-Trimtab-Tags"
    live.flush()
    envs = {c.id: c.env for c in live.calls()}
    assert envs[by_key.json()["id"].removeprefix("chatcmpl-")] == "staging"
    assert envs[by_header.json()["id"].removeprefix("chatcmpl-")] == "production"
    assert {c.api_key_id for c in live.calls()} == {key.id}


def test_a_store_outage_fails_no_call_and_loses_no_record(project_dir, postgres_url):
    """PostgreSQL unreachable for longer than every cache's refresh: known keys and
    the active release keep serving, and the records arrive once it is back."""
    parts = urlsplit(postgres_url)
    proxy = TcpProxy(parts.hostname, parts.port or 5432)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{proxy.port}"
    through = urlunsplit(parts._replace(
        netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))
    ws = trimtab.connect(project_dir, database_url=through)
    release, _ = ws.release(SYSTEM)
    promote_through(ws, SYSTEM, release.id, "production")
    _, secret = ws.create_key("crm", env="production", any_env=True)
    statuses = []
    try:
        with running_gateway(ws, key_ttl=0.3) as url:
            statuses.append(chat(url, secret).status_code)
            proxy.cut()
            # A route this process never read cannot be served: 503, retry later.
            unknown = chat(url, secret, **{"X-Trimtab-Env": "dev"})
            outage_ends = time.monotonic() + 30  # the 30 s, 15 refresh periods
            while time.monotonic() < outage_ends:
                statuses.append(chat(url, secret).status_code)
                time.sleep(0.1)
            assert ws.recorder.stats()["failures"] > 0  # the writer really hit the outage
            proxy.restore()
        assert ws.flush(60)
        stored = ws.calls(limit=10_000)
    finally:
        ws.close()
        proxy.close()
    assert set(statuses) == {200} and len(statuses) > 100
    assert len(stored) == len(statuses)
    assert unknown.status_code == 503 and unknown.headers["retry-after"]
    assert unknown.json()["error"]["code"] == "store_unavailable"
