"""A gateway call keeps the upstream's answer id, its finish reason and the sampling params
sent, on a real loopback gateway in front of a real loopback upstream; streamed too, where
the finish reason comes in the last chunk. A failed call has neither id nor reason."""

from __future__ import annotations

import json

import httpx
import pytest
from openai import OpenAI

from tests.helpers.gateway_server import declare_provider, running_gateway, running_upstream
from trimtab.store.call_columns import RESPONSE_ID_CHARS

ASKED = {"temperature": 0.3, "top_p": 0.9, "max_tokens": 64, "seed": 11, "stop": ["END"]}


@pytest.fixture
def upstream(monkeypatch):
    monkeypatch.setenv("MOCK_UPSTREAM_KEY", "sk-upstream-answer-fields")
    with running_upstream(answer_id="chatcmpl-up-7Hq2", finish_reason="length") as up:
        yield up


def client(url: str) -> OpenAI:
    return OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=30)


def test_a_gateway_call_stores_the_upstreams_id_finish_reason_and_params(
        ws, project_dir, upstream):
    declare_provider(project_dir, "up", upstream)
    with running_gateway(ws) as url:
        answer = client(url).chat.completions.create(
            model="up/gpt-4o", messages=[{"role": "user", "content": "Where is ORD-1?"}],
            **ASKED)
    assert upstream.requests[-1].body["max_tokens"] == 64  # sent as asked
    assert answer.choices[0].finish_reason == "length"
    ws.flush()
    call = ws.call(answer.id.removeprefix("chatcmpl-"))
    assert call.response_id == "chatcmpl-up-7Hq2"  # the upstream's, not the gateway's
    assert json.loads(call.finish_reasons) == ["length"]
    assert json.loads(call.params) == ASKED
    shown = ws.call(call.id).to_dict()
    assert shown["finish_reasons"] == ["length"] and shown["params"]["seed"] == 11


def test_a_streamed_gateway_call_stores_the_finish_reason_of_its_last_chunk(
        ws, project_dir, upstream):
    declare_provider(project_dir, "up", upstream)
    with running_gateway(ws) as url:
        chunks = list(client(url).chat.completions.create(
            model="up/gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True,
            temperature=0.0, max_tokens=5))
    assert chunks[-1].choices[0].finish_reason == "length"
    ws.flush()
    call = ws.call(chunks[0].id.removeprefix("chatcmpl-"))
    assert call.status == "ok"
    assert call.response_id == "chatcmpl-up-7Hq2"
    assert json.loads(call.finish_reasons) == ["length"]
    assert json.loads(call.params) == {"temperature": 0.0, "max_tokens": 5}


def test_a_failed_gateway_call_has_no_answer_id_or_finish_reason(ws, project_dir, upstream):
    declare_provider(project_dir, "up", upstream)
    upstream.plan(500, 500, 500, 500, 500, 500)
    with running_gateway(ws) as url:
        failed = httpx.post(f"{url}/v1/chat/completions", timeout=30, json={
            "model": "up/gpt-4o", "messages": [{"role": "user", "content": "hi"}],
            "temperature": 0.5})
    assert failed.status_code >= 500
    ws.flush()
    [call] = ws.calls(system="passthrough")
    assert call.status == "error"
    assert (call.response_id, call.finish_reasons) == (None, None)
    assert json.loads(call.params) == {"temperature": 0.5}  # what was sent, answered or not


def test_a_hostile_upstreams_huge_id_is_cut(ws, project_dir, monkeypatch):
    monkeypatch.setenv("MOCK_UPSTREAM_KEY", "sk-upstream-answer-fields")
    huge = "chatcmpl-" + "x" * 2_000_000
    with running_upstream(answer_id=huge, finish_reason="s" * 5000) as up:
        declare_provider(project_dir, "up", up)
        with running_gateway(ws) as url:
            answer = client(url).chat.completions.create(
                model="up/gpt-4o", messages=[{"role": "user", "content": "hi"}])
    ws.flush()
    call = ws.call(answer.id.removeprefix("chatcmpl-"))
    assert call.response_id == huge[:RESPONSE_ID_CHARS]
    assert len(call.response_id) == RESPONSE_ID_CHARS
    [reason] = json.loads(call.finish_reasons)
    assert reason == "s" * 40
