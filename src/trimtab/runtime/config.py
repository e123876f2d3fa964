"""What the runtime needs to know about an endpoint: kind, URL, key variable,
timeouts, retries, circuit breaker, prices and simulated behaviour.

These models belong to the runtime, not to the project file: the project file
embeds them (its `providers:` section), and a release snapshot stores them, so
the runtime can rebuild a provider from a snapshot without reading trimtab.yaml.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ENV_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class TimeoutSpec(_Strict):
    """Seconds. ``read`` is the longest silence between bytes (a hung upstream); ``total``
    bounds a non-streamed answer and ``idle`` the wait for each event of a stream, so an
    upstream that trickles a byte at a time cannot hold a call (600 s is what OpenAI's
    and Anthropic's own SDKs allow a call)."""

    connect: float = Field(5.0, gt=0)
    read: float = Field(60.0, gt=0)
    total: float | None = Field(600.0, gt=0, description="whole non-streamed answer; null: none")
    idle: float = Field(60.0, gt=0, description="longest wait for a stream's next event")


class LimitSpec(_Strict):
    """Bytes (and header lines) an upstream's answer may take: past them it is an upstream
    error (``malformed``), so a broken or hostile provider cannot exhaust the runtime."""

    max_header_bytes: int = Field(64 << 10, ge=1024, description="status lines and headers")
    max_headers: int = Field(100, ge=8, description="header lines, 1xx answers included")
    max_body_bytes: int = Field(32 << 20, ge=1024, description="a non-streamed answer's body")
    max_event_bytes: int = Field(8 << 20, ge=1024, description="one line or event of a stream")


class RetrySpec(_Strict):
    max_retries: int = Field(2, ge=0, le=10)
    backoff: float = Field(0.5, ge=0, description="first pause in seconds; doubles, with jitter")
    max_backoff: float = Field(8.0, ge=0)
    max_retry_after: float = Field(30.0, ge=0, description="longest Retry-After honoured")


class BreakerSpec(_Strict):
    """When to stop calling a failing provider for a while.

    The circuit opens when the last ``window`` seconds hold at least
    ``min_calls`` calls and at least ``failure_rate`` of them failed (a rate
    over a sliding window, as resilience4j and Envoy's outlier detection
    judge). Below ``min_calls``, where a rate means little, it opens after
    ``failures`` failures in a row, as it always did. So a provider that is
    down opens it quickly, and one that fails now and then (30% of calls) does
    not shut out the 70% it would answer.
    """

    failures: int = Field(5, ge=1, description="failures in a row that open it while the "
                          "window holds fewer than min_calls calls")
    failure_rate: float = Field(0.5, gt=0, le=1, description="share of the window's calls "
                                "that failed at which it opens")
    min_calls: int = Field(20, ge=1, description="calls the window must hold before its rate "
                           "counts")
    window: float = Field(10.0, gt=0, description="seconds of recent calls the rate is taken over")
    cooldown: float = Field(30.0, ge=0, description="seconds open before one probe call")


class LatencySpec(_Strict):
    median_ms: float = Field(0.0, ge=0)
    p95_ms: float | None = Field(None, ge=0, description="absent: every call takes median_ms")


class SimErrorsSpec(_Strict):
    rate: float = Field(0.0, ge=0, le=1)
    kinds: dict[Literal["server", "rate_limit", "timeout", "connection"], float] = Field(
        default_factory=lambda: {"server": 1.0})
    retry_after: float = Field(1.0, ge=0, description="Retry-After sent with simulated 429s")


class SimEndpointSpec(_Strict):
    """How a simulated endpoint behaves: latency, failures, token counting."""

    latency: LatencySpec = Field(default_factory=LatencySpec)
    errors: SimErrorsSpec = Field(default_factory=SimErrorsSpec)
    seed: int | None = None
    chars_per_token: int = Field(4, ge=1)


class TierSpec(_Strict):
    start: int = Field(ge=0, description="input tokens above which the whole call costs `price`")
    price: float = Field(ge=0)


class TieredPriceSpec(_Strict):
    base: float = Field(ge=0)
    tiers: list[TierSpec]


class PriceSpec(_Strict):
    """USD per million tokens, overriding the price package for one model."""

    input_mtok: float | TieredPriceSpec
    output_mtok: float | TieredPriceSpec
    cache_read_mtok: float | TieredPriceSpec | None = None
    cache_write_mtok: float | TieredPriceSpec | None = None
    reasoning_mtok: float | TieredPriceSpec | None = None


class ProviderSpec(_Strict):
    """An endpoint the runtime calls. The key lives in an environment variable."""

    kind: str = Field(description="openai, anthropic, simulated, or a kind an installed "
                      "package registers (entry-point group trimtab.providers)")
    base_url: str | None = None
    api_key_env: str | None = Field(None, description="name of the env var holding the key")
    api_key_header: str | None = Field(None, description="e.g. api-key for Azure; else Bearer")
    headers: dict[str, str] = Field(default_factory=dict)
    query: dict[str, str] = Field(default_factory=dict, description="e.g. api-version for Azure")
    timeouts: TimeoutSpec = Field(default_factory=TimeoutSpec)
    limits: LimitSpec = Field(default_factory=LimitSpec)
    retries: RetrySpec = Field(default_factory=RetrySpec)
    circuit_breaker: BreakerSpec = Field(default_factory=BreakerSpec)
    simulate: SimEndpointSpec | None = None
    prices: dict[str, PriceSpec] = Field(default_factory=dict)
    options: dict[str, Any] = Field(default_factory=dict,
                                    description="settings for a plugin kind, read by its plugin")
    prices_from: str | None = Field(
        None, description="whose price table applies (a genai-prices provider id, e.g. openai "
        "for Azure OpenAI, a company proxy or vLLM serving OpenAI's models); default: found by "
        "base_url, which a custom URL never matches")
    price_as: dict[str, str] = Field(
        default_factory=dict, description="model -> the model whose price it has (a "
        "deployment name -> gpt-4o-mini)")


class SimToolSpec(_Strict):
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class SimRuleSpec(_Strict):
    """First matching rule answers: any keyword (word start, any case) or the regex."""

    when: list[str] = Field(default_factory=list)
    regex: str | None = None
    reply: str | dict[str, Any] | None = None
    tool: SimToolSpec | None = None


class SimulateSpec(_Strict):
    """A simulated model: deterministic answers (a mapping reply is sent as JSON),
    its own latency (else the provider's) and a real model whose prices it is costed at."""

    match: Literal["last_user", "all"] = "last_user"
    rules: list[SimRuleSpec] = Field(default_factory=list)
    default: str | dict[str, Any] | None = None
    latency: LatencySpec | None = None
    price_as: str | None = None
