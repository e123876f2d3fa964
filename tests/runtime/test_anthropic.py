"""The Anthropic Messages API, mapped to the OpenAI shape, against a loopback server."""

import json

import pytest

from tests.helpers.providers import KEY, provider_for
from trimtab.runtime import ChatRequest, ProviderError, Usage
from trimtab.runtime.anthropic import to_anthropic

pytestmark = pytest.mark.anyio

CALL = {"id": "toolu_1", "type": "function",
        "function": {"name": "lookup", "arguments": '{"order": "A-17"}'}}
TOOLS = [{"type": "function", "function": {"name": "lookup", "description": "Find an order",
                                           "parameters": {"type": "object"}}}]


def anthropic(up, **extra):
    return provider_for(up, kind="anthropic", **extra)


def test_request_mapping_system_tools_and_tool_results():
    request = ChatRequest([
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Where is A-17?"},
        {"role": "assistant", "content": None, "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "toolu_1", "content": "shipped"},
        {"role": "user", "content": [{"type": "text", "text": "And this?"}, {
            "type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}}]},
    ], params={"tools": TOOLS, "tool_choice": "required", "temperature": 0.2, "stop": "END",
               "response_format": {"type": "json_object"}, "seed": 3, "max_tokens": 50})
    body = to_anthropic(request.for_target("claude-sonnet-4-0"), stream=False)
    assert body["system"] == "Be brief." and body["max_tokens"] == 50
    assert body["temperature"] == 0.2 and body["stop_sequences"] == ["END"]
    assert body["tools"] == [{"name": "lookup", "description": "Find an order",
                              "input_schema": {"type": "object"}}]
    assert body["tool_choice"] == {"type": "any"}
    assert "seed" not in body and "response_format" not in body
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["messages"][1]["content"] == [
        {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"order": "A-17"}}]
    assert body["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "shipped"},
        {"type": "text", "text": "And this?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                     "data": "iVBOR"}}]


def test_named_tool_choice_and_no_parallel_calls():
    request = ChatRequest([{"role": "user", "content": "x"}], params={
        "tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "lookup"}},
        "parallel_tool_calls": False})
    body = to_anthropic(request.for_target("m"), stream=True)
    assert body["tool_choice"] == {"type": "tool", "name": "lookup",
                                   "disable_parallel_tool_use": True}
    assert body["stream"] is True and body["max_tokens"] == 1024


async def test_complete_maps_the_answer_and_folds_cached_tokens(upstream):
    upstream.usage = {"prompt_tokens": 500, "completion_tokens": 40,
                      "cache_read_input_tokens": 400, "cache_creation_input_tokens": 100}
    provider = anthropic(upstream)
    response = await provider.complete(
        ChatRequest([{"role": "user", "content": "Hi"}]).for_target("claude-3-5-haiku-latest"))
    await provider.aclose()
    sent = upstream.requests[0]
    assert sent.path == "/v1/messages" and sent.headers["x-api-key"] == KEY
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert response.content == "Hello from the mock upstream."
    assert response.finish_reason == "stop" and response.id == "msg_mock"
    assert response.usage == Usage(input_tokens=1000, output_tokens=40, cache_read_tokens=400,
                                   cache_write_tokens=100)


async def test_tool_use_becomes_openai_tool_calls(upstream):
    upstream.tool_call = CALL
    provider = anthropic(upstream)
    request = ChatRequest([{"role": "user", "content": "Where is A-17?"}],
                          params={"tools": TOOLS}).for_target("m")
    response = await provider.complete(request)
    streamed = [c async for c in provider.stream(request)]
    await provider.aclose()
    assert response.tool_calls == [CALL] and response.finish_reason == "tool_calls"
    assert response.content == "Let me check."
    calls = [c.tool_calls[0] for c in streamed if c.tool_calls]
    assert calls[0]["id"] == "toolu_1" and calls[0]["function"]["name"] == "lookup"
    assert json.loads("".join(c["function"]["arguments"] for c in calls)) == {"order": "A-17"}
    assert {c["index"] for c in calls} == {0}
    assert [c.finish_reason for c in streamed if c.finish_reason] == ["tool_calls"]


async def test_stream_text_and_usage_once_at_the_end(upstream):
    provider = anthropic(upstream)
    chunks = [c async for c in provider.stream(
        ChatRequest([{"role": "user", "content": "Hi"}]).for_target("m"))]
    await provider.aclose()
    assert "".join(c.content or "" for c in chunks) == "Hello from the mock upstream."
    usages = [c.usage for c in chunks if c.usage]
    assert usages == [Usage(input_tokens=12, output_tokens=7)] and chunks[-1].usage
    assert chunks[0].role == "assistant" and chunks[0].model == "m"


@pytest.mark.parametrize("fault, kind", [(529, "server"), (429, "rate_limit"), (401, "auth"),
                                         (400, "bad_request"), ("malformed", "malformed")])
async def test_errors(upstream, fault, kind):
    provider = anthropic(upstream)
    upstream.plan(fault)
    with pytest.raises(ProviderError) as info:
        await provider.complete(ChatRequest([{"role": "user", "content": "Hi"}]).for_target("m"))
    await provider.aclose()
    assert info.value.kind == kind
    assert KEY not in str(info.value)


@pytest.mark.parametrize("fault, kind", [("drop_mid_stream", "connection"),
                                         ("truncated_stream", "connection"),
                                         ("bad_event", "malformed"),
                                         ("error_event", "server")])
async def test_broken_streams(upstream, fault, kind):
    provider = anthropic(upstream)
    upstream.plan(fault)
    with pytest.raises(ProviderError) as info:
        async for _ in provider.stream(
                ChatRequest([{"role": "user", "content": "Hi"}]).for_target("m")):
            pass
    await provider.aclose()
    assert info.value.kind == kind and info.value.partial
