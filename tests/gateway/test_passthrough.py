"""Model names other than trimtab/<system> pass through to a provider from trimtab.yaml,
params untouched, and are recorded under the system `passthrough`."""

from __future__ import annotations

import json

import httpx
import pytest
from openai import OpenAI

from tests.helpers.gateway_server import declare_provider, running_gateway, running_upstream

UPSTREAM_KEY = "sk-upstream-Zq8d7Fh2Kx9Lm3Nv5Pw6Rt1Yu4"
TOOL_CALL = {"id": "call_1", "type": "function",
             "function": {"name": "lookup_order", "arguments": '{"order": "ORD-1"}'}}
TOOLS = [{"type": "function", "function": {
    "name": "lookup_order", "description": "Find an order",
    "parameters": {"type": "object", "properties": {"order": {"type": "string"}}}}}]
SCHEMA = {"type": "json_schema", "json_schema": {"name": "answer", "schema": {
    "type": "object", "properties": {"team": {"type": "string"}}}}}


@pytest.fixture
def upstream(monkeypatch):
    monkeypatch.setenv("MOCK_UPSTREAM_KEY", UPSTREAM_KEY)
    with running_upstream(tool_call=TOOL_CALL) as up:
        yield up


def client(url: str, key: str = "unused") -> OpenAI:
    return OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=30)


def test_provider_slash_model_passes_params_through_and_is_recorded(ws, project_dir, upstream):
    declare_provider(project_dir, "up", upstream)
    key, secret = ws.create_key("agent-app", env="staging", tags={"team": "support"})
    with running_gateway(ws) as url:
        answer = client(url, secret).chat.completions.create(
            model="up/gpt-4o", messages=[{"role": "user", "content": "Where is ORD-1?"}],
            tools=TOOLS, tool_choice="auto", response_format=SCHEMA, temperature=0.2, seed=7,
            user="customer-9", extra_body={"logit_bias": {"50256": -100}, "store": False})
    [call_made] = answer.choices[0].message.tool_calls
    assert call_made.function.name == "lookup_order"
    assert answer.choices[0].finish_reason == "tool_calls"
    sent = upstream.requests[-1]
    assert sent.body["model"] == "gpt-4o"
    assert sent.body["tools"] == TOOLS and sent.body["tool_choice"] == "auto"
    assert sent.body["response_format"] == SCHEMA
    assert (sent.body["temperature"], sent.body["seed"], sent.body["user"]) == (0.2, 7,
                                                                                "customer-9")
    assert sent.body["logit_bias"] == {"50256": -100} and sent.body["store"] is False
    assert sent.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"  # never the client's key
    assert secret not in json.dumps(sent.body)
    ws.flush()
    call = ws.call(answer.id.removeprefix("chatcmpl-"))
    assert (call.system, call.env, call.release_id, call.source) == (
        "passthrough", "staging", None, "gateway")
    assert (call.provider, call.model, call.api_key_id, call.user_id) == (
        "up", "gpt-4o", key.id, "customer-9")
    assert json.loads(call.response)["tool_calls"][0]["function"]["name"] == "lookup_order"
    assert json.loads(call.request)["params"]["tools"] == TOOLS


def test_a_bare_name_goes_to_the_only_real_provider_or_the_declared_default(
        ws, project_dir, upstream):
    declare_provider(project_dir, "up", upstream)
    with running_gateway(ws) as url:
        only = client(url).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert only.choices[0].message.content == "Hello from the mock upstream."
    assert upstream.requests[-1].body["model"] == "gpt-4o-mini"

    with running_upstream(reply="from the second") as second:
        declare_provider(project_dir, "second", second)
        with running_gateway(ws) as url:
            ambiguous = httpx.post(f"{url}/v1/chat/completions", json={
                "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
        with open(project_dir / "trimtab.yaml", "a") as f:
            f.write("\ngateway:\n  default_provider: second\n  models: [second/gpt-4o, o3]\n")
        with running_gateway(ws) as url:
            chosen = client(url).chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
            listed = [m.id for m in client(url).models.list().data]
    assert ambiguous.status_code == 404
    assert chosen.choices[0].message.content == "from the second"
    assert listed == ["trimtab/complaint-router", "second/gpt-4o", "o3"]


def test_passthrough_streams_with_usage_at_the_end(ws, project_dir, upstream):
    declare_provider(project_dir, "up", upstream)
    with running_gateway(ws) as url:
        chunks = list(client(url).chat.completions.create(
            model="up/gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True,
            stream_options={"include_usage": True}))
        quiet = list(client(url).chat.completions.create(
            model="up/gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from the mock upstream."
    assert chunks[-1].usage.prompt_tokens == 12 and chunks[-1].choices == []
    assert all(c.usage is None for c in quiet)
    # Usage is always asked of the upstream: cost needs it even when the client does not.
    assert all(r.body["stream_options"] == {"include_usage": True} for r in upstream.requests)
    ws.flush()
    calls = ws.calls()
    assert len(calls) == 2 and {c.input_tokens for c in calls} == {12}


def test_passthrough_can_be_turned_off(ws, project_dir, upstream):
    declare_provider(project_dir, "up", upstream)
    with open(project_dir / "trimtab.yaml", "a") as f:
        f.write("\ngateway:\n  passthrough: false\n")
    with running_gateway(ws) as url:
        answer = httpx.post(f"{url}/v1/chat/completions", json={
            "model": "up/gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
    assert answer.status_code == 404
    assert "gateway.passthrough" in answer.json()["error"]["message"]
    assert upstream.requests == []
