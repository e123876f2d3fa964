"""The OpenAI-compatible client against a real loopback server."""

import logging
import time
import traceback

import pytest

from tests.helpers.providers import KEY, PLAIN_KEY, provider_for
from trimtab.runtime import ChatRequest, ProviderError, Usage, make_provider

pytestmark = pytest.mark.anyio

HELLO = [{"role": "user", "content": "Hello"}]
TOOLS = [{"type": "function", "function": {"name": "lookup", "description": "Find an order",
                                           "parameters": {"type": "object", "properties": {
                                               "order": {"type": "string"}}}}}]
CALL = {"id": "call_1", "type": "function",
        "function": {"name": "lookup", "arguments": '{"order": "A-17"}'}}


def req(**params):
    return ChatRequest(HELLO, params=params).for_target("gpt-4o-mini")


async def test_complete_reads_content_usage_and_sends_the_key(upstream):
    upstream.usage = {"prompt_tokens": 120, "completion_tokens": 30,
                      "prompt_tokens_details": {"cached_tokens": 100},
                      "completion_tokens_details": {"reasoning_tokens": 10}}
    provider = provider_for(upstream)
    response = await provider.complete(req(temperature=0))
    await provider.aclose()
    assert response.content == "Hello from the mock upstream."
    assert response.usage == Usage(input_tokens=120, output_tokens=30, cache_read_tokens=100,
                                   reasoning_tokens=10)
    assert response.model == "gpt-4o-mini" and response.provider == "up"
    sent = upstream.requests[0]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.body == {"model": "gpt-4o-mini", "messages": HELLO, "temperature": 0}
    assert response.to_openai()["usage"]["prompt_tokens_details"] == {"cached_tokens": 100}


async def test_tools_and_response_format_pass_through(upstream):
    upstream.tool_call = CALL
    provider = provider_for(upstream)
    schema = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}
    response = await provider.complete(req(tools=TOOLS, tool_choice="auto",
                                           response_format=schema, parallel_tool_calls=False))
    await provider.aclose()
    body = upstream.requests[0].body
    assert body["tools"] == TOOLS and body["response_format"] == schema
    assert body["tool_choice"] == "auto" and body["parallel_tool_calls"] is False
    assert response.tool_calls == [CALL] and response.finish_reason == "tool_calls"
    assert response.content is None


async def test_response_format_json_shorthand_becomes_json_object(upstream):
    provider = provider_for(upstream)
    await provider.complete(ChatRequest(HELLO).for_target("m", {"response_format": "json"}))
    await provider.aclose()
    assert upstream.requests[0].body["response_format"] == {"type": "json_object"}


async def test_missing_usage_is_none_not_an_error(upstream):
    provider = provider_for(upstream)
    upstream.plan("no_usage")
    response = await provider.complete(req())
    await provider.aclose()
    assert response.usage is None and response.content
    assert Usage.from_openai({}) is None and Usage.from_openai(None) is None
    assert Usage.from_anthropic({"service_tier": "standard"}) is None


@pytest.mark.parametrize("fault, kind, status", [
    (500, "server", 500), (503, "server", 503), (429, "rate_limit", 429),
    (400, "bad_request", 400), (404, "bad_request", 404), (401, "auth", 401),
    ("malformed", "malformed", 200), ("drop", "connection", None), ("hang", "timeout", None),
])
async def test_failures_are_classified(upstream, fault, kind, status):
    # Only the hang needs a short read timeout; on the others it could misfire under load.
    provider = provider_for(upstream, timeouts={"read": 0.1} if fault == "hang" else {})
    upstream.plan(fault)
    with pytest.raises(ProviderError) as info:
        await provider.complete(req())
    await provider.aclose()
    assert (info.value.kind, info.value.status) == (kind, status)
    assert info.value.provider == "up" and info.value.model == "gpt-4o-mini"


async def test_retry_after_is_read_from_seconds_ms_and_dates(upstream):
    provider = provider_for(upstream)
    upstream.retry_after = "7"
    upstream.plan(429)
    with pytest.raises(ProviderError) as info:
        await provider.complete(req())
    assert info.value.retry_after == 7.0
    upstream.retry_after = time.strftime("%a, %d %b %Y %H:%M:%S GMT",
                                         time.gmtime(time.time() + 30))
    upstream.plan(429)
    with pytest.raises(ProviderError) as info:
        await provider.complete(req())
    await provider.aclose()
    assert 25 < info.value.retry_after <= 31


async def test_total_timeout_bounds_a_slow_call(upstream):
    provider = provider_for(upstream, timeouts={"read": 60.0, "total": 0.1})
    upstream.plan("hang")
    started = time.perf_counter()
    with pytest.raises(ProviderError) as info:
        await provider.complete(req())
    await provider.aclose()
    elapsed = time.perf_counter() - started
    # The total timeout, not the read timeout, ended it: the error says which, and the
    # read timeout alone would take 60 s (the bound leaves 0.1 s 50x headroom under load).
    assert info.value.kind == "timeout" and "(total)" in info.value.message
    assert 0.09 < elapsed < 5


@pytest.mark.parametrize("key", [KEY, PLAIN_KEY])
async def test_a_key_never_reaches_errors_or_logs(upstream, key, caplog):
    caplog.set_level(logging.DEBUG)
    provider = provider_for(upstream, key=key)
    upstream.plan(401)
    with pytest.raises(ProviderError) as info:
        await provider.complete(req())
    await provider.aclose()
    error = info.value
    assert upstream.requests[0].headers["authorization"] == f"Bearer {key}"
    assert "Incorrect API key provided" in error.message  # the upstream's words survive
    printed = "".join(traceback.format_exception(error))
    for text in (str(error), repr(error), error.message, str(error.to_dict()), printed,
                 caplog.text):
        assert key not in text
    assert "[SECRET]" in error.message


async def test_missing_key_variable_is_not_configured_naming_it(upstream):
    provider = make_provider({"name": "up", "kind": "openai", "base_url": upstream.base_url,
                              "api_key_env": "NOT_SET_ANYWHERE"}, env={})
    with pytest.raises(ProviderError) as info:
        await provider.complete(req())
    assert info.value.kind == "not_configured" and "NOT_SET_ANYWHERE" in str(info.value)
    assert not info.value.fallback_ok
    assert upstream.requests == []


async def test_no_key_needed_for_local_servers(upstream):
    provider = make_provider({"name": "ollama", "kind": "openai", "base_url": upstream.base_url})
    await provider.complete(req())
    await provider.aclose()
    assert "authorization" not in upstream.requests[0].headers


async def test_azure_style_key_header_query_and_extra_headers(upstream):
    provider = provider_for(upstream, api_key_header="api-key",
                            query={"api-version": "2024-10-21"},
                            headers={"OpenAI-Organization": "org-1"})
    await provider.complete(req())
    await provider.aclose()
    sent = upstream.requests[0]
    assert sent.path == "/v1/chat/completions?api-version=2024-10-21"
    assert sent.headers["api-key"] == KEY and "authorization" not in sent.headers
    assert sent.headers["openai-organization"] == "org-1"


async def collect(provider, request):
    return [chunk async for chunk in provider.stream(request)]


async def test_stream_yields_deltas_and_usage(upstream):
    provider = provider_for(upstream)
    chunks = await collect(provider, req())
    await provider.aclose()
    assert upstream.requests[0].body["stream"] is True
    assert upstream.requests[0].body["stream_options"] == {"include_usage": True}
    assert "".join(c.content or "" for c in chunks) == "Hello from the mock upstream."
    assert chunks[-1].usage == Usage(input_tokens=12, output_tokens=7)
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["stop"]


async def test_stream_respects_the_callers_stream_options(upstream):
    provider = provider_for(upstream)
    chunks = await collect(provider, req(stream_options={"include_usage": False}))
    await provider.aclose()
    assert all(c.usage is None for c in chunks)


@pytest.mark.parametrize("fault, kind", [("drop_mid_stream", "connection"),
                                         ("truncated_stream", "connection"),
                                         ("bad_event", "malformed"),
                                         ("error_event", "server")])
async def test_a_broken_stream_is_an_error_not_a_short_answer(upstream, fault, kind):
    provider = provider_for(upstream)
    upstream.plan(fault)
    got = []
    with pytest.raises(ProviderError) as info:
        async for chunk in provider.stream(req()):
            got.append(chunk)
    await provider.aclose()
    assert info.value.kind == kind and got and info.value.partial


@pytest.mark.parametrize("fault, kind", [(500, "server"), (429, "rate_limit"),
                                         ("hang", "timeout"), ("drop", "connection")])
async def test_stream_failures_before_any_output(upstream, fault, kind):
    provider = provider_for(upstream, timeouts={"read": 0.1} if fault == "hang" else {})
    upstream.plan(fault)
    with pytest.raises(ProviderError) as info:
        await collect(provider, req())
    await provider.aclose()
    assert info.value.kind == kind and not info.value.partial


def test_requests_are_checked_before_they_leave():
    with pytest.raises(ProviderError) as info:
        ChatRequest([])
    assert info.value.kind == "bad_request"
    with pytest.raises(ProviderError, match="role"):
        ChatRequest([{"content": "no role"}])
    with pytest.raises(ProviderError, match="may not set model"):
        ChatRequest(HELLO, params={"model": "x"})
