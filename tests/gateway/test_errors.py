"""Every way a call can go wrong reaches the client as OpenAI's error, with the right status.

Malformed requests are 400s naming the field (never a 500); upstream failures, injected
by a real misbehaving HTTP server, become 429/502/503/504 after retries and fallback.
"""

from __future__ import annotations

import asyncio
import json

import httpx
import openai
import pytest
from openai import OpenAI

from tests.helpers import promote_through
from tests.helpers.gateway_server import (
    declare_provider,
    running_gateway,
    running_upstream,
    use_provider,
)

SYSTEM = "complaint-router"
MODEL = f"trimtab/{SYSTEM}"
HELLO = [{"role": "user", "content": "The charger sparks."}]
UPSTREAM_KEY = "sk-upstream-Zq8d7Fh2Kx9Lm3Nv5Pw6Rt1Yu4"


@pytest.fixture
def live(ws):
    release, _ = ws.release(SYSTEM)
    promote_through(ws, SYSTEM, release.id, "production")
    return ws


def client(url: str) -> OpenAI:
    return OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=30)


def error_of(answer: httpx.Response) -> dict:
    body = answer.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["message"]
    return body["error"]


U = {"role": "user", "content": "hi"}
MALFORMED = [
    (b"{", None, "invalid_json"),
    (b"", None, "invalid_json"),
    (b"\xff\xfe", None, "invalid_json"),
    ([U], None, None),
    ("model", None, None),
    ({"messages": [U]}, "model", None),
    ({"model": 5, "messages": [U]}, "model", None),
    ({"model": "", "messages": [U]}, "model", None),
    ({"model": MODEL}, "messages", None),
    ({"model": MODEL, "messages": "hi"}, "messages", None),
    ({"model": MODEL, "messages": [5]}, "messages[0]", None),
    ({"model": MODEL, "messages": [U, {"content": "x"}]}, "messages[1].role", None),
    ({"model": MODEL, "messages": [{"role": "robot", "content": "x"}]}, "messages[0].role", None),
    ({"model": MODEL, "messages": [{"role": "user", "content": 5}]}, "messages[0].content",
     None),
    ({"model": MODEL, "messages": [{"role": "user", "content": [1]}]}, "messages[0].content",
     None),
    ({"model": MODEL, "messages": [U], "temperature": "hot"}, "temperature", None),
    ({"model": MODEL, "messages": [U], "temperature": 9}, "temperature", None),
    ({"model": MODEL, "messages": [U], "max_tokens": 0}, "max_tokens", None),
    ({"model": MODEL, "messages": [U], "max_tokens": "10"}, "max_tokens", None),
    ({"model": MODEL, "messages": [U], "max_tokens": True}, "max_tokens", None),
    ({"model": MODEL, "messages": [U], "n": 2}, "n", None),
    ({"model": MODEL, "messages": [U], "stream": "yes"}, "stream", None),
    ({"model": MODEL, "messages": [U], "stream_options": {"include_usage": "yes"}},
     "stream_options.include_usage", None),
    ({"model": MODEL, "messages": [U], "tools": "search"}, "tools", None),
    ({"model": MODEL, "messages": [U], "tools": [{"type": "function"}]}, "tools[0].function",
     None),
    ({"model": MODEL, "messages": [U], "tools": [{"type": "function", "function": {}}]},
     "tools[0].function.name", None),
    ({"model": MODEL, "messages": [U], "tool_choice": 5}, "tool_choice", None),
    ({"model": MODEL, "messages": [U], "response_format": {"type": "xml"}},
     "response_format.type", None),
    ({"model": MODEL, "messages": [U], "stop": 5}, "stop", None),
    ({"model": MODEL, "messages": [U], "variables": "x"}, "variables", None),
    ({"model": MODEL, "messages": [U], "user": 5}, "user", None),
    ({"model": MODEL, "messages": [U], "metadata": {"a": 1}}, "metadata.a", None),
    ({"model": "simulated/sim-1", "messages": []}, "messages", None),
    ({"model": "simulated/sim-1", "messages": [U], "variables": {"a": 1}}, "variables", None),
]


def test_malformed_requests_get_400_naming_the_field(live):
    with running_gateway(live) as url:
        for body, param, code in MALFORMED:
            content = body if isinstance(body, bytes) else json.dumps(body).encode()
            answer = httpx.post(f"{url}/v1/chat/completions", content=content,
                                headers={"Content-Type": "application/json"})
            assert answer.status_code == 400, (body, answer.text)
            error = error_of(answer)
            assert error["param"] == param, (body, error)
            assert error["type"] == "invalid_request_error"
            if code:
                assert error["code"] == code
            if param:
                assert error["message"].startswith(param) or param in error["message"], error
    live.flush()
    assert live.calls() == []  # nothing was called, nothing recorded


def test_the_openai_client_sees_a_bad_request_with_its_param(live):
    with running_gateway(live) as url, pytest.raises(openai.BadRequestError) as refused:
        client(url).chat.completions.create(model=MODEL, messages=HELLO, temperature=7)
    assert refused.value.status_code == 400
    assert refused.value.body["param"] == "temperature"


def test_unknown_models_endpoints_and_methods(live):
    with running_gateway(live) as url:
        unknown_system = httpx.post(f"{url}/v1/chat/completions",
                                    json={"model": "trimtab/complaint-routr", "messages": [U]})
        unknown_model = httpx.post(f"{url}/v1/chat/completions",
                                   json={"model": "gpt-4o", "messages": [U]})
        unknown_provider = httpx.post(f"{url}/v1/chat/completions",
                                      json={"model": "nope/gpt-4o", "messages": [U]})
        no_model = httpx.get(f"{url}/v1/models/trimtab/nope")
        wrong_method = httpx.get(f"{url}/v1/chat/completions")
        nowhere = httpx.post(f"{url}/v2/embeddings", json={})
        with pytest.raises(openai.NotFoundError):
            client(url).chat.completions.create(model="trimtab/nope", messages=HELLO)
    for answer in (unknown_system, unknown_model, unknown_provider, no_model):
        assert answer.status_code == 404, answer.text
        assert error_of(answer)["code"] == "model_not_found"
        assert error_of(answer)["param"] == "model"
    assert "GET /v1/models" in error_of(unknown_system)["message"]
    assert "gateway.default_provider" in error_of(unknown_model)["message"]
    assert wrong_method.status_code == 405 and "POST" in error_of(wrong_method)["message"]
    assert nowhere.status_code == 404


def test_no_active_release_says_how_to_fix_it(ws):
    with running_gateway(ws) as url:
        answer = httpx.post(f"{url}/v1/chat/completions", json={"model": MODEL,
                                                                "messages": [U]})
        streamed = httpx.post(f"{url}/v1/chat/completions", json={"model": MODEL,
                                                                  "messages": [U],
                                                                  "stream": True})
    for one in (answer, streamed):
        assert one.status_code == 409
        error = error_of(one)
        assert error["code"] == "no_active_release" and error["param"] == "model"
        assert "trimtab promote complaint-router" in error["message"]


def test_a_gateway_without_a_project_file_says_how_to_make_one(database_url):
    from trimtab import Workspace

    ws = Workspace(None, database_url=database_url)
    try:
        with running_gateway(ws) as url:
            answer = httpx.post(f"{url}/v1/chat/completions", json={"model": MODEL,
                                                                    "messages": [U]})
    finally:
        ws.close()
    assert answer.status_code == 400
    assert "no trimtab.yaml found" in error_of(answer)["message"]


# --- upstream faults -------------------------------------------------------------------


@pytest.fixture
def upstream_system(ws, project_dir, monkeypatch):
    """The example system released against a mock upstream: no retries, no fallback, so
    each injected fault reaches the client. The read timeout is generous, so a busy
    machine cannot turn a healthy answer into a timeout; a test planning a hang passes
    a short one."""
    monkeypatch.setenv("MOCK_UPSTREAM_KEY", UPSTREAM_KEY)

    def make(upstream, **settings):
        settings = {"timeouts": "{connect: 5, read: 10}", "retries": "{max_retries: 0}",
                    **settings}
        declare_provider(project_dir, "up", upstream, **settings)
        use_provider(project_dir, "up")
        release, _ = ws.release(SYSTEM)
        promote_through(ws, SYSTEM, release.id, "production")
        return ws

    return make


@pytest.mark.parametrize("fault, status, code", [
    (500, 502, "upstream_error"),
    (503, 502, "upstream_error"),
    ("hang", 504, "upstream_timeout"),
    ("malformed", 502, "upstream_malformed"),
    ("drop", 502, "upstream_connection"),
    (401, 502, "upstream_auth"),
    (400, 400, "upstream_bad_request"),
])
def test_upstream_failures_map_to_openai_errors(upstream_system, fault, status, code):
    with running_upstream() as upstream:
        if fault == "hang":  # only the hang needs (and waits for) a short read timeout
            ws = upstream_system(upstream, timeouts="{connect: 1, read: 0.3}")
        else:
            ws = upstream_system(upstream)
        upstream.plan(fault)
        with running_gateway(ws) as url:
            answer = httpx.post(f"{url}/v1/chat/completions",
                                json={"model": MODEL, "messages": HELLO}, timeout=30)
    assert answer.status_code == status, answer.text
    error = error_of(answer)
    assert error["code"] == code
    assert UPSTREAM_KEY not in answer.text
    ws.flush()
    [call] = ws.calls()
    assert call.status == "error" and call.source == "gateway"
    assert UPSTREAM_KEY not in (call.error or "")


def test_a_429_keeps_its_retry_after(upstream_system):
    with running_upstream(retry_after="7") as upstream:
        ws = upstream_system(upstream)
        upstream.plan(429)
        with running_gateway(ws) as url, pytest.raises(openai.RateLimitError) as limited:
            client(url).chat.completions.create(model=MODEL, messages=HELLO)
    assert limited.value.status_code == 429
    assert limited.value.response.headers["retry-after"] == "7"
    assert limited.value.body["code"] == "rate_limit_exceeded"


def test_retries_honour_retry_after_then_answer(upstream_system):
    with running_upstream(retry_after="0.05") as upstream:
        ws = upstream_system(upstream, retries="{max_retries: 2, backoff: 0.01}")
        upstream.plan(429, 500)
        with running_gateway(ws) as url:
            answer = client(url).chat.completions.create(model=MODEL, messages=HELLO)
    assert answer.choices[0].message.content == "Hello from the mock upstream."
    ws.flush()
    call = ws.call(answer.id.removeprefix("chatcmpl-"))
    assert call.attempt_count == 3 and call.status == "ok"


def test_an_open_circuit_is_a_503(upstream_system):
    with running_upstream() as upstream:
        ws = upstream_system(upstream, circuit_breaker="{failures: 1, cooldown: 60}")
        upstream.plan(500)
        with running_gateway(ws) as url:
            first = httpx.post(f"{url}/v1/chat/completions",
                               json={"model": MODEL, "messages": HELLO})
            second = httpx.post(f"{url}/v1/chat/completions",
                                json={"model": MODEL, "messages": HELLO})
    assert first.status_code == 502
    assert second.status_code == 503 and error_of(second)["code"] == "circuit_open"
    # The real time left of the 60 s cool-down, not a fixed second.
    assert 50 <= int(second.headers["retry-after"]) <= 60
    assert "next try in" in error_of(second)["message"]
    assert len(upstream.requests) == 1  # the open circuit spared the upstream


def test_a_stream_that_fails_before_its_first_chunk_is_a_plain_error(upstream_system):
    with running_upstream() as upstream:
        ws = upstream_system(upstream)
        upstream.plan(500)
        with running_gateway(ws) as url, pytest.raises(openai.InternalServerError) as failed:
            client(url).chat.completions.create(model=MODEL, messages=HELLO, stream=True)
    assert failed.value.status_code == 502


@pytest.mark.parametrize("fault", ["drop_mid_stream", "error_event", "bad_event",
                                   "truncated_stream"])
def test_a_stream_broken_midway_ends_with_an_error_not_done(upstream_system, fault):
    with running_upstream(reply="one two three four five six seven eight") as upstream:
        ws = upstream_system(upstream)
        upstream.plan(fault)
        with running_gateway(ws) as url:
            with httpx.stream("POST", f"{url}/v1/chat/completions", json={
                    "model": MODEL, "messages": HELLO, "stream": True}) as answer:
                events = [line for line in answer.iter_lines() if line]
            upstream.plan(fault)
            stream = client(url).chat.completions.create(model=MODEL, messages=HELLO,
                                                         stream=True)
            with pytest.raises(openai.APIError):
                for _ in stream:
                    pass
    assert answer.status_code == 200
    assert events[-1] != "data: [DONE]"
    last = json.loads(events[-1].removeprefix("data: "))
    assert set(last["error"]) == {"message", "type", "param", "code"}
    assert any('"content"' in e for e in events[:-1])  # part of the answer had arrived
    ws.flush()
    failed = [c for c in ws.calls(limit=10) if c.status == "error"]
    assert len(failed) == 2 and {c.source for c in failed} == {"gateway"}


def test_a_client_that_leaves_mid_stream_stops_the_upstream_and_is_recorded(
        upstream_system):
    long_answer = " ".join(f"word{i}" for i in range(20_000))
    with running_upstream(reply=long_answer) as upstream:
        ws = upstream_system(upstream)
        with running_gateway(ws) as url:
            with httpx.stream("POST", f"{url}/v1/chat/completions", json={
                    "model": MODEL, "messages": HELLO, "stream": True}) as answer:
                first = next(answer.iter_lines())
            # The next request proves the gateway is unharmed.
            after = httpx.post(f"{url}/v1/chat/completions",
                               json={"model": MODEL, "messages": HELLO})
    assert first.startswith("data: {") and after.status_code == 200
    ws.flush()
    outcomes = sorted((c.status, c.error_kind) for c in ws.calls())
    assert outcomes == [("error", "cancelled"), ("ok", None)]


def test_thirty_percent_upstream_failures_with_a_healthy_fallback(ws, project_dir,
                                                                  monkeypatch):
    """≥ 1,000 client calls; 30% of the primary's answers are 5xx or hangs → ≥ 99.9% succeed."""
    monkeypatch.setenv("MOCK_UPSTREAM_KEY", UPSTREAM_KEY)
    calls, concurrency = 1000, 16
    with running_upstream(fail_rate=0.3, fail_mix={500: 1, 503: 1, "hang": 2},
                          seed=7) as primary, running_upstream(reply="fallback") as backup:
        settings = {"timeouts": "{connect: 1, read: 0.1}",
                    "retries": "{max_retries: 2, backoff: 0.002, max_backoff: 0.02}",
                    "circuit_breaker": "{failures: 5, cooldown: 0.1}"}
        declare_provider(project_dir, "primary", primary, **settings)
        # The primary's hangs are cut at 0.1 s; the healthy backup gets a generous read
        # timeout, so a stall on a busy machine cannot time it out as well.
        declare_provider(project_dir, "backup", backup,
                         **{**settings, "timeouts": "{connect: 5, read: 10}"})
        use_provider(project_dir, "primary", fallback=("backup", "gpt-4o-mini"))
        release, _ = ws.release(SYSTEM)
        promote_through(ws, SYSTEM, release.id, "production")
        with running_gateway(ws) as url:
            statuses = asyncio.run(_hammer(url, calls, concurrency))
    ok = statuses.count(200)
    failures = sum(n for fault, n in primary.served.items() if fault != "ok")
    rate = failures / sum(primary.served.values())
    print(f"\n{calls} calls: {ok} ok; primary failure rate {rate:.1%} {dict(primary.served)}")
    assert 0.25 < rate < 0.35
    assert ok / calls >= 0.999
    ws.flush()
    recorded = ws.calls(limit=5000)
    assert len(recorded) == calls
    assert 0 < sum(c.fallback_used for c in recorded) < calls


async def _hammer(url: str, calls: int, concurrency: int) -> list[int]:
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        async def one() -> int:
            async with gate:
                answer = await http.post("/v1/chat/completions",
                                         json={"model": MODEL, "messages": HELLO})
                return answer.status_code

        return await asyncio.gather(*(one() for _ in range(calls)))


def test_a_release_whose_provider_kind_is_not_installed_is_a_503():
    from trimtab import plugins
    from trimtab.errors import PluginError
    from trimtab.gateway.errors import from_exception

    with pytest.raises(PluginError) as info:
        plugins.load(plugins.PROVIDERS, "bedrock")
    answer = from_exception(info.value)
    assert (answer.status, answer.code) == (503, "provider_unavailable")
    assert "unknown provider kind 'bedrock'" in answer.message
