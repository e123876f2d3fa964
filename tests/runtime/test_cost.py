"""Cost golden fixtures: expected values computed by hand from the published prices.

Prices (USD per million tokens) as published by each provider and carried by
genai-prices: gpt-4o 2.50 in / 1.25 cached in / 10 out; o3-mini 1.10 / 0.55 /
4.40; claude-sonnet-4 3 in / 0.30 cache read / 3.75 cache write / 15 out;
gemini-2.5-pro 1.25 in / 10 out up to 200k input tokens, 2.50 / 15 above.
"""

import logging
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tests.helpers.providers import KEY, provider_entry
from trimtab.project.models import ProviderSpec
from trimtab.runtime import (
    PRICE_TABLE,
    BreakerRegistry,
    ChatRequest,
    Router,
    Target,
    Usage,
    cost_of,
    make_provider,
)
from trimtab.runtime.cost import priced

AT = datetime(2025, 9, 1, tzinfo=UTC)
OPENAI = ProviderSpec(kind="openai")
ANTHROPIC = ProviderSpec(kind="anthropic", api_key_env="ANTHROPIC_API_KEY")
GEMINI = ProviderSpec(kind="openai",
                      base_url="https://generativelanguage.googleapis.com/v1beta/openai/")


def micro(usage, model, provider, name="p"):
    cost = cost_of(usage, model, provider, provider_name=name, at=AT)
    return cost.micro_usd, cost


def test_plain_input_and_output():
    # 1,000 × 2.50 + 500 × 10 = 2,500 + 5,000 µ$
    got, cost = micro(Usage(input_tokens=1000, output_tokens=500), "gpt-4o", OPENAI)
    assert got == 7500 and cost.usd == Decimal("0.0075")
    assert (cost.input_usd, cost.output_usd) == (Decimal("0.0025"), Decimal("0.005"))
    assert cost.source == PRICE_TABLE and PRICE_TABLE.startswith("genai-prices ")
    assert cost.priced_as == "gpt-4o"


def test_cached_input_reads_are_priced_apart():
    # 600 uncached × 2.50 + 400 cached × 1.25 + 500 × 10 = 1,500 + 500 + 5,000 µ$
    got, _ = micro(Usage(input_tokens=1000, cache_read_tokens=400, output_tokens=500),
                   "gpt-4o-2024-08-06", OPENAI)
    assert got == 7000


def test_anthropic_cache_reads_and_writes():
    # Anthropic reports input 500 + cache read 400 + cache write 100 (folded into 1,000):
    # 500 × 3 + 400 × 0.30 + 100 × 3.75 + 500 × 15 = 1,500 + 120 + 375 + 7,500 µ$
    usage = Usage.from_anthropic({"input_tokens": 500, "cache_read_input_tokens": 400,
                                  "cache_creation_input_tokens": 100, "output_tokens": 500})
    got, cost = micro(usage, "claude-sonnet-4-20250514", ANTHROPIC)
    assert got == 9495 and cost.usd == Decimal("0.009495")


def test_reasoning_tokens_are_output_and_not_counted_twice():
    # 2,000 × 1.10 + 3,000 (of which 2,500 reasoning) × 4.40 = 2,200 + 13,200 µ$
    usage = Usage.from_openai({"prompt_tokens": 2000, "completion_tokens": 3000,
                               "completion_tokens_details": {"reasoning_tokens": 2500}})
    assert usage.reasoning_tokens == 2500
    got, _ = micro(usage, "o3-mini", OPENAI)
    assert got == 15400


def test_tiered_prices_switch_above_the_threshold():
    # ≤ 200k input: 100,000 × 1.25 + 1,000 × 10 = 125,000 + 10,000 µ$
    below, _ = micro(Usage(input_tokens=100_000, output_tokens=1000), "gemini-2.5-pro", GEMINI)
    assert below == 135_000
    # > 200k input: every token at the higher tier: 250,000 × 2.50 + 1,000 × 15
    above, cost = micro(Usage(input_tokens=250_000, output_tokens=1000), "gemini-2.5-pro",
                        GEMINI)
    assert above == 640_000 and cost.usd == Decimal("0.64")


def test_project_file_overrides_win_including_tiers_and_reasoning():
    spec = ProviderSpec(kind="openai", prices={
        "my-finetune": {"input_mtok": 0.30, "output_mtok": 1.20, "cache_read_mtok": 0.15,
                        "reasoning_mtok": 2.00},
        "gpt-4o": {"input_mtok": {"base": 2, "tiers": [{"start": 1000, "price": 4}]},
                   "output_mtok": 8},
    })
    # 1,000 × 0.30 ... with 200 cached: 800 × 0.30 + 200 × 0.15 = 240 + 30;
    # output 500 of which 100 reasoning: 400 × 1.20 + 100 × 2.00 = 480 + 200 → 950 µ$
    got, cost = micro(Usage(input_tokens=1000, cache_read_tokens=200, output_tokens=500,
                            reasoning_tokens=100), "my-finetune", spec, "azure-eu")
    assert got == 950 and cost.source == "trimtab.yaml providers.azure-eu.prices"
    # the override replaces the package's gpt-4o price; 1,001 input tokens cross its tier
    got, _ = micro(Usage(input_tokens=1001, output_tokens=1000), "gpt-4o", spec)
    assert got == 1001 * 4 + 1000 * 8


def test_sub_micro_amounts_stay_exact_in_decimal():
    # one input token of gpt-4o-mini (0.15 $/M) is 0.15 µ$: the integer view rounds, usd is exact
    got, cost = micro(Usage(input_tokens=1), "gpt-4o-mini", OPENAI)
    assert cost.usd == Decimal("0.00000015") and got == 0
    total = sum((cost_of(Usage(input_tokens=1), "gpt-4o-mini", OPENAI, at=AT).usd
                 for _ in range(1000)), Decimal(0))
    assert total == Decimal("0.00015")


def test_unknown_model_is_unknown_with_one_warning(caplog):
    caplog.set_level(logging.WARNING, logger="trimtab.runtime.cost")
    local = ProviderSpec(kind="openai", base_url="http://127.0.0.1:11434/v1")
    for _ in range(3):
        cost = cost_of(Usage(input_tokens=10, output_tokens=5), "llama3.2:3b", local,
                       provider_name="ollama")
        assert cost.usd is None and cost.micro_usd is None and not cost.known
        assert "no price for model 'llama3.2:3b'" in cost.reason
    warnings = [r for r in caplog.records if "llama3.2:3b" in r.getMessage()]
    assert len(warnings) == 1 and "providers.ollama" in warnings[0].getMessage()
    assert cost_of(None, "gpt-4o", OPENAI).reason == "the provider reported no usage"


def test_the_reported_model_is_tried_before_the_requested_one():
    # an Azure deployment named "prod-chat" reports the model it runs
    azure = ProviderSpec(kind="openai", base_url="https://acme.openai.azure.com/openai")
    cost = cost_of(Usage(input_tokens=1000), ["gpt-4o-2024-08-06", "prod-chat"], azure, at=AT)
    assert cost.micro_usd == 2500 and "genai-prices" in cost.source


def test_an_openai_compatible_endpoint_is_priced_by_prices_from_and_price_as():
    """A company proxy or vLLM serving OpenAI's models: its URL matches no entry of
    the price table, so nothing is priced until the provider says whose table
    applies (``prices_from``) and which model a deployment name is (``price_as``)."""
    usage = Usage(input_tokens=1000, output_tokens=500)
    proxy = {"kind": "openai", "base_url": "https://llm.acme.internal/v1"}
    assert not cost_of(usage, "gpt-4o", ProviderSpec(**proxy), at=AT).known
    assert not priced("gpt-4o", ProviderSpec(**proxy))
    table = ProviderSpec(**proxy, prices_from="openai")
    assert micro(usage, "gpt-4o", table)[0] == 7500 and priced("gpt-4o", table)
    assert not priced("prod-chat", table)
    named = ProviderSpec(**proxy, prices_from="openai", price_as={"prod-chat": "gpt-4o"})
    got, cost = micro(usage, "prod-chat", named)
    assert got == 7500 and cost.priced_as == "gpt-4o" and priced("prod-chat", named)
    # price_as also reaches the provider's own prices
    own = ProviderSpec(**proxy, price_as={"prod-chat": "house"},
                       prices={"house": {"input_mtok": 1, "output_mtok": 2}})
    assert micro(usage, "prod-chat", own)[0] == 2000 and priced("prod-chat", own)


def test_cost_from_a_snapshot_dict():
    cost = cost_of(Usage(input_tokens=1_000_000), "sim-1",
                   {"name": "simulated", "kind": "simulated",
                    "prices": {"sim-1": {"input_mtok": 0.1, "output_mtok": 0.4}}})
    assert cost.usd == Decimal("0.1") and cost.to_dict()["micro_usd"] == 100_000


@pytest.mark.anyio
async def test_stream_usage_is_priced(upstream):
    """Anthropic streams report usage in pieces (message_start, message_delta)."""
    upstream.usage = {"prompt_tokens": 500, "completion_tokens": 500,
                      "cache_read_input_tokens": 400, "cache_creation_input_tokens": 100}
    anthropic = make_provider(provider_entry(upstream, "claude", kind="anthropic"),
                              env={"TEST_KEY": KEY})
    openai = make_provider(provider_entry(upstream, "local", prices={
        "my-model": {"input_mtok": 1, "output_mtok": 2}}), env={"TEST_KEY": KEY})
    request = ChatRequest([{"role": "user", "content": "Hi"}])
    for target, expected in [(Target(anthropic, "claude-sonnet-4-20250514"), 9495),
                             (Target(openai, "my-model"), 500 * 1 + 500 * 2)]:
        async with Router([target], breakers=BreakerRegistry()) as router:
            async with router.stream(request) as call:
                async for _ in call:
                    pass
            streamed = call.result.cost
            completed = (await router.complete(request)).cost
        assert streamed.micro_usd == completed.micro_usd == expected


def table_prices():
    """Every price in the installed genai-prices table (conditional ones included)."""
    from genai_prices import data_snapshot

    for provider in data_snapshot.get_snapshot().providers:
        for model in provider.models:
            prices = model.prices if isinstance(model.prices, list) else [model.prices]
            for price in prices:
                yield f"{provider.id}/{model.id}", getattr(price, "prices", price)


def usages(rng, n):
    """Edges (zeros, reads and writes filling the input, all-reasoning output), then random."""
    yield Usage()
    yield Usage(input_tokens=7, cache_read_tokens=3, cache_write_tokens=4, output_tokens=9,
                reasoning_tokens=9)
    for _ in range(n):
        inp, out = rng.randrange(0, 2_000_000), rng.randrange(0, 200_000)
        read = rng.randrange(0, inp + 1)
        yield Usage(input_tokens=inp, output_tokens=out, cache_read_tokens=read,
                    cache_write_tokens=rng.randrange(0, inp - read + 1),
                    reasoning_tokens=rng.randrange(0, out + 1))


def test_every_table_price_comes_out_exactly_as_genai_prices_computes_it():
    """trimtab prices a call with coefficients fitted to genai-prices' own arithmetic
    (70 us a call down to 5): for every price in the table and usage of every
    shape, the value must be genai-prices' exactly (written without trailing
    zeros), and where genai-prices refuses a usage, so must trimtab."""
    import random
    from decimal import localcontext

    import genai_prices

    from trimtab.runtime.cost import _fit, _priced, _usage

    def plain(value):  # no trailing zeros after the point, no positive exponent (1E+1)
        sign, digits, exponent = value.as_tuple()
        return exponent == 0 or (exponent < 0 and digits[-1] != 0)

    rng, fitted, checked = random.Random(20261203), 0, 0
    for name, price in table_prices():
        fitted += _fit(price) is not None  # tiered prices go through genai-prices itself
        for usage in [*usages(rng, 12),
                      Usage(input_tokens=5, cache_read_tokens=6),  # invalid: refused by both
                      Usage(output_tokens=1, reasoning_tokens=2),
                      # past the counts 28 digits always hold: genai-prices' own rounding
                      Usage(input_tokens=10**25 + 7, cache_read_tokens=10**24 + 3,
                            output_tokens=10**23 + 1)]:
            try:
                want = price.calc_price(_usage(usage))
            except ValueError:
                with pytest.raises(ValueError):
                    _priced(price, usage)
                continue
            got = _priced(price, usage)
            assert got == (want["input_price"], want["output_price"], want["total_price"]), (
                name, usage)
            assert all(plain(x) for x in got), (name, got)
            checked += 1
    assert fitted > 1_000 and checked > 20_000  # the whole table, not an empty loop

    # A caller's own Decimal context of low precision: genai-prices' rounding, as before.
    gpt4o = next(price for name, price in table_prices() if name == "openai/gpt-4o")
    usage = Usage(input_tokens=123_457, cache_read_tokens=1_234, output_tokens=98_765)
    with localcontext() as context:
        context.prec = 6
        assert _priced(gpt4o, usage)[2] == gpt4o.calc_price(_usage(usage))["total_price"]

    # And end to end, through the lookup: cost_of agrees with genai_prices.calc_price.
    for model in ("gpt-4o", "gpt-4o-mini", "o3-mini", "gpt-4.1"):
        for usage in usages(rng, 5):
            want = genai_prices.calc_price(_usage(usage), model, provider_id="openai",
                                           genai_request_timestamp=AT)
            assert cost_of(usage, model, OPENAI, at=AT).usd == want.total_price
