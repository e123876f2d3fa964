"""instrument(): an existing OpenAI client, recorded without changing the code using it."""

import asyncio
import json
import threading

import openai
import pytest

import trimtab
from tests.helpers.mock_upstream import MockUpstream

SYSTEM = "complaint-router"


@pytest.fixture
def upstream():
    """The mock upstream on its own event loop thread, so a synchronous client can call it."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    mock = MockUpstream(reply="Route to packaging. Contact: jo@example.com", model="gpt-4o-mini")
    asyncio.run_coroutine_threadsafe(mock.__aenter__(), loop).result(5)
    yield mock
    asyncio.run_coroutine_threadsafe(mock.__aexit__(None, None, None), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


def client_for(mock):
    return openai.OpenAI(base_url=mock.base_url, api_key="sk-test", max_retries=0)


def test_calls_are_recorded_and_answers_untouched(ws, upstream):
    client = trimtab.instrument(client_for(upstream), SYSTEM, workspace=ws)
    answer = client.chat.completions.create(
        model="gpt-4o-mini", user="agent-3",
        messages=[{"role": "user", "content": "The seal leaks. I am jo@example.com"}])
    assert answer.choices[0].message.content == "Route to packaging. Contact: jo@example.com"
    assert ws.flush()

    [call] = ws.calls()
    assert (call.system, call.source, call.model, call.user_id, call.status) == (
        SYSTEM, "instrument", "gpt-4o-mini", "agent-3", "ok")
    assert (call.input_tokens, call.output_tokens) == (12, 7)
    # gpt-4o-mini: $0.15 / $0.60 per million tokens
    assert call.cost_micro_usd == round(12 * 0.15 + 7 * 0.60)
    assert "jo@example.com" not in call.request + call.response  # the system logs redacted


def test_instrumenting_twice_records_once(ws, upstream):
    client = client_for(upstream)
    trimtab.instrument(client, SYSTEM, workspace=ws)
    trimtab.instrument(client, SYSTEM, workspace=ws)
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user",
                                                                   "content": "hi"}])
    ws.flush()
    assert len(ws.calls()) == 1


def test_a_stream_still_streams_and_is_recorded_at_its_end(ws, upstream):
    client = trimtab.instrument(client_for(upstream), SYSTEM, workspace=ws)
    stream = client.chat.completions.create(
        model="gpt-4o-mini", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "hi"}])
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text.startswith("Route to packaging")
    ws.flush()
    [call] = ws.calls()
    assert call.output_tokens == 7 and call.ttft_ms is not None and call.status == "ok"


def test_errors_are_recorded_and_still_raised(ws, upstream):
    upstream.plan(429, 500)
    client = trimtab.instrument(client_for(upstream), SYSTEM, workspace=ws)
    for expected in (openai.RateLimitError, openai.InternalServerError):
        with pytest.raises(expected):
            client.chat.completions.create(model="gpt-4o-mini",
                                           messages=[{"role": "user", "content": "hi"}])
    ws.flush()
    calls = sorted(ws.calls(), key=lambda c: c.time)
    assert [(c.status, c.error_kind, c.http_status) for c in calls] == [
        ("error", "rate_limit", 429), ("error", "server", 500)]


def test_async_client(ws, upstream):
    client = trimtab.instrument(
        openai.AsyncOpenAI(base_url=upstream.base_url, api_key="sk-test", max_retries=0),
        SYSTEM, workspace=ws, tags={"team": "qa"})

    async def main():
        return await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])

    assert asyncio.run(main()).choices[0].message.content.startswith("Route")
    ws.flush()
    [call] = ws.calls()
    assert json.loads(call.tags) == {"team": "qa"}


def test_unknown_env_is_refused_at_once(ws, upstream):
    with pytest.raises(trimtab.TrimtabError, match="prod"):
        trimtab.instrument(client_for(upstream), SYSTEM, env="prod", workspace=ws)


def test_an_undeclared_provider_is_refused_with_the_fix(ws, upstream):
    with pytest.raises(trimtab.TrimtabError, match="provider='azure'.*Fix: declare it"):
        trimtab.instrument(client_for(upstream), SYSTEM, workspace=ws, provider="azure")


def test_a_stream_left_early_is_recorded_as_cancelled_and_next_works(ws, upstream):
    client = trimtab.instrument(client_for(upstream), SYSTEM, workspace=ws)
    with client.chat.completions.create(model="gpt-4o-mini", stream=True,
                                        messages=[{"role": "user", "content": "hi"}]) as stream:
        first = next(stream)  # the official Stream is an iterator; so is the wrapper
        assert first.choices[0].delta is not None
    ws.flush()
    [call] = ws.calls()
    assert (call.status, call.error_kind) == ("error", "cancelled")


def test_a_client_copied_with_options_is_recorded_too(ws, upstream):
    client = trimtab.instrument(client_for(upstream), SYSTEM, workspace=ws)
    client.with_options(timeout=5).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    ws.flush()
    assert len(ws.calls()) == 1
