"""Through the gateway, a hostile upstream's answer is an upstream error, recorded, never
a 2xx (tests/runtime/test_hostile_upstream.py has each misbehaviour in detail)."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import eventually
from tests.helpers import hostile_upstream as hostile
from tests.helpers.gateway_server import declare_provider, running_gateway


@pytest.fixture(autouse=True)
def _upstream_key(monkeypatch):
    monkeypatch.setenv("MOCK_UPSTREAM_KEY", "sk-upstream-key")


@pytest.mark.parametrize("behaviour, code", [
    (hostile.status(302, b"Found", b"location: https://elsewhere.example/v1\r\n"),
     "upstream_malformed"),
    (hostile.repeated_headers(300_000), "upstream_malformed"),
    (hostile.interim_flood(100_000), "upstream_malformed"),
])
def test_a_hostile_answer_is_a_recorded_502_not_a_200(ws, project_dir, behaviour, code):
    with hostile.running_hostile(behaviour) as up:
        declare_provider(project_dir, "up", up)
        with running_gateway(ws) as url:
            answer = httpx.post(f"{url}/v1/chat/completions", timeout=30, json={
                "model": "up/gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
            health = httpx.get(f"{url}/healthz", timeout=30)
    assert answer.status_code == 502, answer.text
    assert answer.json()["error"]["code"] == code
    assert health.status_code == 200
    ws.flush()
    [call] = ws.calls(limit=5)
    assert (call.status, call.error_kind, call.system) == ("error", "malformed", "passthrough")


@pytest.mark.parametrize("behaviour", [hostile.hang(), hostile.trickle(0.05)])
def test_a_client_that_hangs_up_cancels_the_upstream_request_and_is_recorded(
        ws, project_dir, behaviour):
    with hostile.running_hostile(behaviour) as up:
        declare_provider(project_dir, "up", up)
        with running_gateway(ws) as url:
            with pytest.raises(httpx.ReadTimeout):  # the client gives up and hangs up
                httpx.post(f"{url}/v1/chat/completions", timeout=0.5, json={
                    "model": "up/gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
            eventually(lambda: up.closed == 1)  # the upstream socket was let go, at once

            def recorded():
                ws.flush()
                return ws.calls(limit=5)
            [call] = eventually(recorded)
    assert (call.status, call.error_kind, call.system) == ("error", "cancelled", "passthrough")
