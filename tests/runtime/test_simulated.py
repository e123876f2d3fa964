"""The built-in simulated provider: deterministic answers, realistic misbehaviour."""

import collections
import json
import random
import statistics
import time

import pytest

from trimtab.runtime import ChatRequest, ProviderError, make_provider

pytestmark = pytest.mark.anyio

ANSWERS = {
    "rules": [
        {"when": ["leak", "seal"], "reply": {"team": "packaging", "severity": "medium",
                                             "reason": "Mentions {{keyword}}."}},
        {"when": ["battery", "charger"], "reply": {"team": "electrical", "severity": "high",
                                                   "reason": "Mentions {{match}}."}},
        {"regex": r"order (?P<order>[A-Z]-\d+)", "tool": {"name": "lookup",
                                                          "arguments": {"order": "{{order}}"}},
         "reply": "Order {{order}} noted."},
    ],
    "default": {"team": "other", "severity": "low", "reason": "No known defect keyword."},
}


def sim(answers=ANSWERS, **behaviour):
    entry = {"name": "sim", "kind": "simulated"}
    if behaviour:
        entry["simulate"] = behaviour
    if "read" in behaviour:
        entry["timeouts"] = {"read": behaviour.pop("read")}
    return make_provider(entry, answers=answers)


def ask(text, **params):
    return ChatRequest([{"role": "system", "content": "Route complaints."},
                        {"role": "user", "content": text}], params=params).for_target("sim-1")


@pytest.mark.parametrize("text, team, reason", [
    ("The bottle LEAKS at the cap", "packaging", "Mentions leak."),
    ("The seal is broken", "packaging", "Mentions seal."),
    ("My Battery swells", "electrical", "Mentions Battery."),
    ("The color is wrong", "other", "No known defect keyword."),
])
async def test_rules_give_deterministic_json(text, team, reason):
    provider = sim()
    first = await provider.complete(ask(text))
    again = await provider.complete(ask(text))
    answer = json.loads(first.content)
    assert answer["team"] == team and answer["reason"] == reason
    assert first.content == again.content and first.usage == again.usage
    assert first.finish_reason == "stop" and first.model == "sim-1" and first.provider == "sim"


async def test_keywords_match_word_starts_only():
    provider = sim()
    answer = json.loads((await provider.complete(ask("The unsealed box"))).content)
    assert answer["team"] == "other"


async def test_tool_rule_calls_the_tool_only_when_offered_and_asked_by_a_user():
    provider = sim()
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {}}}]
    called = await provider.complete(ask("where is order A-17", tools=tools))
    assert called.finish_reason == "tool_calls" and called.content is None
    assert json.loads(called.tool_calls[0]["function"]["arguments"]) == {"order": "A-17"}
    plain = await provider.complete(ask("where is order A-17"))
    assert plain.content == "Order A-17 noted." and not plain.tool_calls
    after_tool = ChatRequest([{"role": "user", "content": "where is order A-17"},
                              {"role": "assistant", "content": None,
                               "tool_calls": called.tool_calls},
                              {"role": "tool", "tool_call_id": "x", "content": "shipped"}],
                             params={"tools": tools}).for_target("sim-1")
    assert (await provider.complete(after_tool)).content == "Order A-17 noted."


async def test_without_rules_it_echoes_deterministically():
    provider = sim(answers=None)
    response = await provider.complete(ask("Hello there"))
    assert response.content == "Simulated answer from sim-1 to: Hello there"


async def test_usage_counts_characters_per_token():
    provider = sim(chars_per_token=2)
    response = await provider.complete(ask("abcd"))
    # (4 + ceil(17/2)) + (4 + ceil(4/2)) prompt tokens; the reply's characters / 2 out
    assert response.usage.input_tokens == 13 + 6
    assert response.usage.output_tokens == -(-len(response.content) // 2)


async def test_stream_matches_complete_and_reports_usage():
    provider = sim()
    whole = await provider.complete(ask("battery dead"))
    chunks = [c async for c in provider.stream(ask("battery dead"))]
    assert "".join(c.content or "" for c in chunks) == whole.content
    assert len([c for c in chunks if c.content]) > 3
    assert chunks[-1].usage == whole.usage
    quiet = [c async for c in provider.stream(ask("x", stream_options={"include_usage": False}))]
    assert all(c.usage is None for c in quiet)


def test_latency_follows_the_configured_median_and_p95():
    provider = sim(latency={"median_ms": 80, "p95_ms": 300}, seed=1)
    samples = sorted(provider.latency_s() * 1000 for _ in range(4000))
    assert 72 < statistics.median(samples) < 88
    assert 255 < samples[int(0.95 * len(samples))] < 345
    fixed = sim(latency={"median_ms": 5})
    assert {fixed.latency_s() for _ in range(10)} == {0.005}


async def test_calls_take_the_latency():
    provider = sim(latency={"median_ms": 30})
    started = time.perf_counter()
    await provider.complete(ask("x"))
    assert time.perf_counter() - started >= 0.028


async def test_error_rate_and_kinds_like_a_real_upstream():
    provider = sim(errors={"rate": 0.3, "kinds": {"server": 2, "rate_limit": 1,
                                                  "connection": 1}, "retry_after": 0.5},
                   seed=7)
    outcomes = collections.Counter()
    for _ in range(1000):
        try:
            await provider.complete(ask("x"))
            outcomes["ok"] += 1
        except ProviderError as error:
            outcomes[error.kind] += 1
            if error.kind == "rate_limit":
                assert error.status == 429 and error.retry_after == 0.5
            if error.kind == "server":
                assert error.status == 503
    assert 650 < outcomes["ok"] < 750
    assert outcomes["server"] > outcomes["rate_limit"] > 30 and outcomes["connection"] > 30


async def test_timeouts_take_the_read_timeout():
    provider = sim(errors={"rate": 1.0, "kinds": {"timeout": 1}}, read=0.05)
    started = time.perf_counter()
    with pytest.raises(ProviderError) as info:
        await provider.complete(ask("x"))
    assert info.value.kind == "timeout" and time.perf_counter() - started >= 0.045
    slow = sim(latency={"median_ms": 200}, read=0.02)
    with pytest.raises(ProviderError, match="timeout"):
        await slow.complete(ask("x"))
    with pytest.raises(ProviderError, match="timeout"):
        async for _ in slow.stream(ask("x")):
            pass


def test_same_seed_same_failures():
    def draws(seed):
        provider = make_provider({"name": "s", "kind": "simulated",
                                  "simulate": {"errors": {"rate": 0.5}, "seed": seed}})
        return [provider._error_kind() for _ in range(50)]

    assert draws(3) == draws(3) != draws(4)
    assert make_provider({"name": "s", "kind": "simulated"}, rng=random.Random(1)).rng.random() \
        == random.Random(1).random()
