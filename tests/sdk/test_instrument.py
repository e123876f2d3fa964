"""instrument(): an existing OpenAI client, recorded without changing the code using it."""

import asyncio
import json

import openai
import pytest

import trimtab
from tests.helpers.gateway_server import running_upstream

SYSTEM = "complaint-router"


@pytest.fixture
def upstream():
    """The mock upstream on its own event loop thread, so a synchronous client can call it."""
    with running_upstream(reply="Route to packaging. Contact: jo@example.com",
                          model="gpt-4o-mini") as mock:
        yield mock


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
    """openai wraps AsyncCompletions.create in a plain function returning the
    coroutine: the call was recorded as answered (no tokens, no answer) before it
    was sent, its failures as ok, and a stream could not be awaited at all."""
    client = trimtab.instrument(
        openai.AsyncOpenAI(base_url=upstream.base_url, api_key="sk-test", max_retries=0),
        SYSTEM, workspace=ws, tags={"team": "qa"})
    hi = [{"role": "user", "content": "hi"}]

    async def main():
        answer = await client.chat.completions.create(model="gpt-4o-mini", messages=hi)
        upstream.plan(500)
        with pytest.raises(openai.InternalServerError):
            await client.chat.completions.create(model="gpt-4o-mini", messages=hi)
        stream = await client.chat.completions.create(
            model="gpt-4o-mini", messages=hi, stream=True,
            stream_options={"include_usage": True})
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        return answer, text

    answer, text = asyncio.run(main())
    assert answer.choices[0].message.content.startswith("Route")
    assert text.startswith("Route")
    ws.flush()
    calls = sorted(ws.calls(), key=lambda c: c.time)
    assert [(c.status, c.error_kind, c.http_status, c.output_tokens) for c in calls] == [
        ("ok", None, None, 7), ("error", "server", 500, None), ("ok", None, None, 7)]
    assert json.loads(calls[0].tags) == {"team": "qa"}
    assert "packaging" in calls[0].response and calls[2].ttft_ms is not None


def test_an_async_call_cancelled_mid_flight_is_recorded_as_cancelled(ws, upstream):
    """asyncio.wait_for running out (or a web client hanging up) cancels the call:
    the app gets its TimeoutError, the call log says cancelled."""
    client = trimtab.instrument(
        openai.AsyncOpenAI(base_url=upstream.base_url, api_key="sk-test", max_retries=0),
        SYSTEM, workspace=ws)
    upstream.plan("hang")

    async def main():
        await asyncio.wait_for(client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]), 0.3)

    with pytest.raises(TimeoutError):
        asyncio.run(main())
    ws.flush()
    [call] = ws.calls()
    assert (call.status, call.error_kind) == ("error", "cancelled")


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


def test_a_store_down_changes_nothing_the_app_sees(postgres_url, project_dir, upstream):
    """The first call of a route reads its release from the store: with the store
    down, an answered call raised StoreUnavailable instead of returning, and a
    provider's error came back as StoreUnavailable. The client's own result and
    exception reach the app; the calls wait in the spool."""
    from tests.helpers.tcp_proxy import proxied

    with proxied(postgres_url) as (proxy, url):
        proxy.cut()
        ws = trimtab.connect(project_dir, database_url=url)
        client = trimtab.instrument(client_for(upstream), SYSTEM, workspace=ws)
        hi = [{"role": "user", "content": "hi"}]
        answer = client.chat.completions.create(model="gpt-4o-mini", messages=hi)
        assert answer.choices[0].message.content.startswith("Route")
        upstream.plan(500)
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(model="gpt-4o-mini", messages=hi)
        assert ws.recorder.stats()["spooled"] == 2
        proxy.restore()
        assert ws.flush(timeout=20)
        assert sorted(c.status for c in ws.calls()) == ["error", "ok"]
        ws.close()


@pytest.fixture
def json_upstream():
    """A mock whose answer is JSON, as a model answers a structured-output request."""
    with running_upstream(reply='{"team": "packaging", "urgent": false}',
                          model="gpt-4o-mini") as mock:
        yield mock


def test_structured_outputs_with_parse_are_recorded_sync_and_async(ws, json_upstream):
    """`chat.completions.parse(response_format=Model)` posts on its own, not through
    `create`: its calls went unrecorded. Now each is recorded once, with the answer
    and tokens, and the app gets openai's parsed object as before."""
    import pydantic

    class Route(pydantic.BaseModel):
        team: str
        urgent: bool

    hi = [{"role": "user", "content": "The seal leaks."}]
    client = trimtab.instrument(client_for(json_upstream), SYSTEM, workspace=ws)
    parsed = client.chat.completions.parse(model="gpt-4o-mini", messages=hi,
                                           response_format=Route)
    assert parsed.choices[0].message.parsed == Route(team="packaging", urgent=False)
    aclient = trimtab.instrument(
        openai.AsyncOpenAI(base_url=json_upstream.base_url, api_key="sk-test", max_retries=0),
        SYSTEM, workspace=ws)

    async def main():
        return await aclient.chat.completions.parse(model="gpt-4o-mini", messages=hi,
                                                     response_format=Route)

    assert asyncio.run(main()).choices[0].message.parsed.team == "packaging"
    json_upstream.plan(500)
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.parse(model="gpt-4o-mini", messages=hi, response_format=Route)
    assert ws.flush()
    calls = sorted(ws.calls(), key=lambda c: c.time)
    assert [(c.status, c.output_tokens) for c in calls] == [("ok", 7), ("ok", 7),
                                                              ("error", None)]
    assert "packaging" in calls[0].response and "packaging" in calls[1].response


def test_raw_response_calls_are_recorded_and_passed_on_raw(ws, upstream):
    """`with_raw_response.create` reaches the wrapped `create` but answers openai's raw
    response: it was recorded as ok with no answer or tokens. The app still gets the
    raw response (its headers, its own `.parse()`); the record has the completion."""
    hi = [{"role": "user", "content": "hi"}]
    client = trimtab.instrument(client_for(upstream), SYSTEM, workspace=ws)
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=hi)
    assert raw.http_response.status_code == 200
    assert raw.parse().choices[0].message.content.startswith("Route to packaging")
    aclient = trimtab.instrument(
        openai.AsyncOpenAI(base_url=upstream.base_url, api_key="sk-test", max_retries=0),
        SYSTEM, workspace=ws)

    async def main():
        answer = await aclient.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=hi)
        return answer.parse()

    assert asyncio.run(main()).choices[0].message.content.startswith("Route to packaging")
    with client.chat.completions.with_streaming_response.create(
            model="gpt-4o-mini", messages=hi) as streamed:  # the app reads its lines
        assert "packaging" in "".join(streamed.iter_lines())
    assert ws.flush()
    calls = ws.calls()
    assert [(c.status, c.output_tokens) for c in calls] == [("ok", 7)] * 3
    assert all("packaging" in c.response for c in calls)
