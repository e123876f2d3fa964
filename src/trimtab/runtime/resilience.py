"""Getting an answer despite the upstream: retries, a breaker, a fallback chain.

Per target (provider + model, in release order): up to ``1 + max_retries``
attempts on retryable kinds (timeout, 429, 5xx, connection), pausing with
exponential backoff and jitter, or the upstream's Retry-After when it gives
one (a Retry-After longer than ``max_retry_after`` moves on to the fallback
instead of stalling the caller). A 400 goes straight back: the request is
wrong and no retry or other provider will fix it. Each provider has a
circuit breaker: after N consecutive failures calls skip it for a cool-down,
then one probe call decides whether it closes again. Breakers live in
process memory on purpose: they describe what this replica sees.

Every attempt is kept (provider, model, kind or status, latency) so the
recorder can store how an answer was obtained, not only that it was.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from trimtab.runtime.config import BreakerSpec, RetrySpec
from trimtab.runtime.cost import Cost, cost_of
from trimtab.runtime.errors import ProviderError
from trimtab.runtime.messages import ChatChunk, ChatRequest, ChatResponse, StreamAccumulator


class Provider(Protocol):
    name: str
    kind: str
    spec: Any

    async def complete(self, request: ChatRequest) -> ChatResponse: ...
    def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]: ...
    async def aclose(self) -> None: ...


class CircuitBreaker:
    """closed → (N consecutive failures) → open → (cool-down) → half-open: one probe."""

    def __init__(self, failures: int = 5, cooldown: float = 30.0,
                 clock: Callable[[], float] = time.monotonic):
        self.threshold = failures
        self.cooldown = cooldown
        self.clock = clock
        self.failures = 0
        self.opened_at: float | None = None
        self.probing = False

    @property
    def state(self) -> Literal["closed", "open", "half_open"]:
        if self.opened_at is None:
            return "closed"
        return "half_open" if self.clock() - self.opened_at >= self.cooldown else "open"

    def allow(self) -> bool:
        state = self.state
        if state == "closed":
            return True
        if state == "open" or self.probing:
            return False
        self.probing = True  # this caller is the probe; others wait for its verdict
        return True

    def success(self) -> None:
        self.failures, self.opened_at, self.probing = 0, None, False

    def failure(self) -> None:
        self.failures += 1
        if self.probing or self.failures >= self.threshold:
            self.opened_at = self.clock()
        self.probing = False

    def release(self) -> None:
        """The probe ended without a verdict (the caller went away)."""
        self.probing = False


class BreakerRegistry:
    """One breaker per provider name, shared by every router in the process."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._breakers: dict[str, tuple[BreakerSpec, CircuitBreaker]] = {}

    def get(self, provider: str, spec: BreakerSpec) -> CircuitBreaker:
        known = self._breakers.get(provider)
        if known is None or known[0] != spec:
            known = (spec, CircuitBreaker(spec.failures, spec.cooldown, self.clock))
            self._breakers[provider] = known
        return known[1]

    def states(self) -> dict[str, str]:
        return {name: breaker.state for name, (_, breaker) in self._breakers.items()}


DEFAULT_BREAKERS = BreakerRegistry()


def backoff_delay(retry: int, spec: RetrySpec, rng: random.Random) -> float:
    """Exponential, capped, with 'equal jitter': never zero, never in lockstep."""
    cap = min(spec.max_backoff, spec.backoff * 2 ** retry)
    return cap / 2 + rng.random() * cap / 2


@dataclass(frozen=True)
class Target:
    provider: Provider
    model: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Attempt:
    provider: str
    model: str
    ok: bool
    kind: str | None  # error kind; None when ok
    status: int | None
    latency_ms: float
    fallback: int  # position in the chain, 0 = primary
    retry: int  # 0 = first try on this target
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        # By hand: dataclasses.asdict deep-copies recursively, ~0.1 ms per call on the hot path.
        return {"provider": self.provider, "model": self.model, "ok": self.ok,
                "kind": self.kind, "status": self.status, "latency_ms": self.latency_ms,
                "fallback": self.fallback, "retry": self.retry, "message": self.message}


@dataclass
class CallResult:
    """An answer and how it was obtained."""

    response: ChatResponse
    attempts: list[Attempt]
    cost: Cost
    latency_ms: float
    ttft_ms: float | None = None  # streams: time to the first chunk

    @property
    def provider(self) -> str:
        return self.attempts[-1].provider

    @property
    def model(self) -> str:
        return self.attempts[-1].model

    @property
    def fallback_used(self) -> bool:
        return self.attempts[-1].fallback > 0

    def to_dict(self) -> dict[str, Any]:
        return {"provider": self.provider, "model": self.model,
                "fallback_used": self.fallback_used, "latency_ms": self.latency_ms,
                "ttft_ms": self.ttft_ms, "attempts": [a.to_dict() for a in self.attempts],
                "cost": self.cost.to_dict()}


class CallFailed(ProviderError):
    """Every target failed (or the request was refused); ``attempts`` says how."""

    def __init__(self, last: ProviderError, attempts: list[Attempt]):
        tried = len({(a.provider, a.model) for a in attempts})
        super().__init__(last.kind, f"{len(attempts)} attempt(s) on {tried} target(s) failed; "
                         f"last: {last.message}", provider=last.provider, model=last.model,
                         status=last.status, retry_after=last.retry_after, partial=last.partial)
        self.attempts = attempts
        self.last = last


class Router:
    """A release's targets in order, called with retries, breakers and fallback."""

    def __init__(self, targets: Sequence[Target], *, breakers: BreakerRegistry | None = None,
                 rng: random.Random | None = None,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep):
        if not targets:
            raise ValueError("a router needs at least one target")
        self.targets = list(targets)
        self.breakers = breakers or DEFAULT_BREAKERS
        self.rng = rng or random.Random()
        self._sleep = sleep

    async def aclose(self) -> None:
        for provider in {id(t.provider): t.provider for t in self.targets}.values():
            await provider.aclose()

    async def __aenter__(self) -> Router:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _breaker(self, target: Target) -> CircuitBreaker:
        return self.breakers.get(target.provider.name, target.provider.spec.circuit_breaker)

    def _pause(self, error: ProviderError, retry: int, target: Target,
               deadline: float | None) -> float | None:
        """Seconds to wait before retrying this target, or None to move on."""
        spec: RetrySpec = target.provider.spec.retries
        if not error.retryable or retry >= spec.max_retries:
            return None
        delay = backoff_delay(retry, spec, self.rng)
        if error.retry_after is not None:
            if error.retry_after > spec.max_retry_after:
                return None
            delay = max(delay, error.retry_after)
        if deadline is not None and time.monotonic() + delay >= deadline:
            return None
        return delay

    def _plan(self) -> list[tuple[int, Target]]:
        return list(enumerate(self.targets))

    def _record(self, attempts: list[Attempt], target: Target, index: int, retry: int,
                started: float, error: ProviderError | None) -> None:
        attempts.append(Attempt(
            provider=target.provider.name, model=target.model, ok=error is None,
            kind=error.kind if error else None, status=error.status if error else None,
            latency_ms=round((time.perf_counter() - started) * 1000, 3), fallback=index,
            retry=retry, message=error.message if error else None))

    def _refused(self, attempts: list[Attempt], target: Target, index: int,
                 retry: int) -> ProviderError:
        """The target's breaker is open: an attempt that never left, on the record."""
        error = ProviderError("circuit_open", "circuit open after repeated failures",
                              provider=target.provider.name, model=target.model)
        self._record(attempts, target, index, retry, time.perf_counter(), error)
        return error

    def _failed(self, breaker: CircuitBreaker, error: ProviderError, attempts: list[Attempt],
                target: Target, index: int, retry: int, started: float,
                deadline: float | None, *, final: bool = False) -> float | None:
        """Book a failed attempt and say what next: seconds to wait before retrying this
        target, or None to move on. Raises CallFailed when no other target may try
        (the caller's own bad request, or ``final``: a stream that already gave chunks)."""
        # A 400 proves the upstream is up and answering: it counts for the breaker.
        breaker.success() if error.kind == "bad_request" else breaker.failure()
        self._record(attempts, target, index, retry, started, error)
        if final or not error.fallback_ok:
            raise CallFailed(error, attempts)
        return self._pause(error, retry, target, deadline)

    async def complete(self, request: ChatRequest, *,
                       deadline_s: float | None = None) -> CallResult:
        """The first good answer along the chain, or CallFailed with every attempt."""
        started = time.perf_counter()
        deadline = time.monotonic() + deadline_s if deadline_s is not None else None
        attempts: list[Attempt] = []
        last: ProviderError | None = None
        for index, target in self._plan():
            breaker = self._breaker(target)
            aimed = request.for_target(target.model, target.params)
            retry = 0
            while True:
                if not breaker.allow():
                    last = self._refused(attempts, target, index, retry)
                    break
                t0 = time.perf_counter()
                try:
                    remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
                    async with asyncio.timeout(remaining):
                        response = await target.provider.complete(aimed)
                except ProviderError as error:
                    last = error
                except TimeoutError:
                    last = ProviderError("timeout", "the call's deadline passed",
                                         provider=target.provider.name, model=target.model)
                except BaseException:
                    breaker.release()
                    raise
                else:
                    breaker.success()
                    self._record(attempts, target, index, retry, t0, None)
                    return CallResult(response, attempts, _cost(target, response),
                                      _ms(started))
                pause = self._failed(breaker, last, attempts, target, index, retry, t0, deadline)
                if pause is None:
                    break
                await self._sleep(pause)
                retry += 1
        assert last is not None
        raise CallFailed(last, attempts)

    def stream(self, request: ChatRequest, *, deadline_s: float | None = None) -> StreamCall:
        """``async with router.stream(req) as call: async for chunk in call: ...``"""
        return StreamCall(self, request, deadline_s)


class StreamCall:
    """A streamed answer. Retries and fallback happen only before the first chunk
    reaches the caller; after that a failure raises (``partial=True``) rather
    than silently splicing two answers or quietly ending a truncated one.
    ``deadline_s`` bounds the wait for the first chunk; the read timeout then
    bounds each silence."""

    def __init__(self, router: Router, request: ChatRequest, deadline_s: float | None):
        self.router = router
        self.request = request
        self.deadline_s = deadline_s
        self.result: CallResult | None = None
        self.attempts: list[Attempt] = []
        self._iterator: Any = None

    async def __aenter__(self) -> StreamCall:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._iterator is not None:
            await self._iterator.aclose()

    def __aiter__(self) -> AsyncIterator[ChatChunk]:
        if self._iterator is None:
            self._iterator = self._run()
        return self._iterator

    async def _run(self) -> AsyncIterator[ChatChunk]:
        router, attempts = self.router, self.attempts
        started = time.perf_counter()
        deadline = time.monotonic() + self.deadline_s if self.deadline_s is not None else None
        last: ProviderError | None = None
        for index, target in router._plan():
            breaker = router._breaker(target)
            aimed = self.request.for_target(target.model, target.params)
            retry = 0
            while True:
                if not breaker.allow():
                    last = router._refused(attempts, target, index, retry)
                    break
                t0 = time.perf_counter()
                chunks = target.provider.stream(aimed)
                acc = StreamAccumulator()
                ttft = None
                try:
                    try:
                        remaining = (None if deadline is None
                                     else max(0.0, deadline - time.monotonic()))
                        async with asyncio.timeout(remaining):
                            first = await anext(chunks, None)
                    except TimeoutError:
                        raise ProviderError("timeout", "the call's deadline passed",
                                            provider=target.provider.name,
                                            model=target.model) from None
                    if first is not None:
                        ttft = _ms(started)
                        acc.add(first)
                        yield first
                        async for chunk in chunks:
                            acc.add(chunk)
                            yield chunk
                except ProviderError as error:
                    last = error
                    if acc.chunks:
                        last.partial = True
                except BaseException:
                    breaker.release()
                    raise
                else:
                    breaker.success()
                    router._record(attempts, target, index, retry, t0, None)
                    response = acc.response(model=target.model, provider=target.provider.name)
                    self.result = CallResult(response, attempts, _cost(target, response),
                                             _ms(started), ttft)
                    return
                finally:
                    await chunks.aclose()
                pause = router._failed(breaker, last, attempts, target, index, retry, t0,
                                       deadline, final=last.partial)
                if pause is None:
                    break
                await router._sleep(pause)
                retry += 1
        assert last is not None
        raise CallFailed(last, attempts)


def _cost(target: Target, response: ChatResponse) -> Cost:
    return cost_of(response.usage, [response.model, target.model], target.provider.spec,
                   provider_name=target.provider.name,
                   price_as=getattr(target.provider, "price_as", None))


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 3)

