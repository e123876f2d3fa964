"""Getting an answer despite the upstream: retries, a breaker, a fallback chain.

Per target (provider + model, in release order): up to ``1 + max_retries``
attempts on retryable kinds (timeout, 429, 5xx, connection), pausing with
exponential backoff and jitter, or the upstream's Retry-After when it gives
one (a Retry-After longer than ``max_retry_after`` moves on to the fallback
instead of stalling the caller). A 400 goes straight back: the request is
wrong and no retry or other provider will fix it. Each provider has a
circuit breaker: when too large a share of its recent calls failed (a rate
over a sliding window, with a minimum number of calls, as resilience4j and
Envoy's outlier detection do) calls skip it for a cool-down, then one probe
call decides whether it closes again. Breakers live in process memory on
purpose: they describe what this replica sees.

``Walk`` is the attempt loop itself, written once: ``Router.complete`` and
``StreamCall`` differ only in what one attempt does.

Every attempt is kept (provider, model, kind or status, latency) so the
recorder can store how an answer was obtained, not only that it was.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

from trimtab.runtime.config import BreakerSpec, RetrySpec
from trimtab.runtime.cost import Cost, cost_of
from trimtab.runtime.errors import NOT_UPSTREAM_FAULTS, ProviderError
from trimtab.runtime.messages import ChatChunk, ChatRequest, ChatResponse, StreamAccumulator

T = TypeVar("T")


class Provider(Protocol):
    name: str
    kind: str
    spec: Any

    async def complete(self, request: ChatRequest) -> ChatResponse: ...
    def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]: ...
    async def aclose(self) -> None: ...


class CircuitBreaker:
    """closed → (failure rate too high) → open → (cool-down) → half-open: one probe.

    Closed, it counts calls and failures over the last ``window`` seconds in ten
    buckets (a sliding window, like resilience4j's time-based one) and opens as
    ``BreakerSpec`` says: on the window's failure rate once it holds
    ``min_calls`` calls, on ``failures`` failures in a row before that. Open, it
    refuses calls until the cool-down has passed; then one caller probes, and
    its verdict closes the circuit (with an empty window) or opens it for
    another cool-down.
    """

    BUCKETS = 10

    def __init__(self, spec: BreakerSpec | None = None, *,
                 clock: Callable[[], float] = time.monotonic, **settings: Any):
        spec = spec if spec is not None else BreakerSpec(**settings)
        self.spec = spec
        self.cooldown = spec.cooldown
        self.clock = clock
        self.opened_at: float | None = None
        self.probing = False
        self.reason = "too many failures"
        self._per_second = self.BUCKETS / spec.window
        self._clear()

    def _clear(self) -> None:
        self.streak = 0  # failures in a row
        self._slots = [-1 << 62] * self.BUCKETS
        self._calls = [0] * self.BUCKETS
        self._fails = [0] * self.BUCKETS

    def _count_failure(self) -> None:
        slot = int(self.clock() * self._per_second)
        i = slot % self.BUCKETS
        if self._slots[i] != slot:
            self._slots[i], self._calls[i], self._fails[i] = slot, 0, 0
        self._calls[i] += 1
        self._fails[i] += 1

    def window(self) -> tuple[int, int]:
        """(failed, calls) over the sliding window, as the breaker sees it now."""
        oldest = int(self.clock() * self._per_second) - self.BUCKETS
        failed = calls = 0
        for slot, c, f in zip(self._slots, self._calls, self._fails, strict=True):
            if slot > oldest:
                calls += c
                failed += f
        return failed, calls

    @property
    def state(self) -> Literal["closed", "open", "half_open"]:
        if self.opened_at is None:
            return "closed"
        return "half_open" if self.clock() - self.opened_at >= self.cooldown else "open"

    def remaining(self) -> float:
        """Seconds until the next probe may go (0 when closed or half-open)."""
        if self.opened_at is None:
            return 0.0
        return max(0.0, self.cooldown - (self.clock() - self.opened_at))

    def allow(self) -> bool:
        if self.opened_at is None:
            return True
        if self.probing or self.clock() - self.opened_at < self.cooldown:
            return False
        self.probing = True  # this caller is the probe; others wait for its verdict
        return True

    def success(self) -> None:
        if self.opened_at is None:  # the hot path: _count(0), inlined
            self.streak = 0
            slot = int(self.clock() * self._per_second)
            i = slot % self.BUCKETS
            if self._slots[i] != slot:
                self._slots[i], self._calls[i], self._fails[i] = slot, 0, 0
            self._calls[i] += 1
        elif self.clock() - self.opened_at >= self.cooldown:
            # The probe (or a call that outlived the cool-down) got an answer.
            self.opened_at, self.probing = None, False
            self._clear()
        # else: a call from before the circuit opened; the cool-down stands.

    def failure(self) -> None:
        if self.opened_at is None:
            self.streak += 1
            self._count_failure()
            spec = self.spec
            failed, calls = self.window()
            if calls >= spec.min_calls:
                if failed >= spec.failure_rate * calls:
                    self._open(f"{failed} of the last {calls} calls failed "
                               f"(in {spec.window:g}s)")
            elif self.streak >= spec.failures:
                self._open(f"{self.streak} failures in a row")
        elif self.probing or self.clock() - self.opened_at >= self.cooldown:
            self._open("the probe after the cool-down failed")
        # else: a call from before the circuit opened; it is open already.

    def _open(self, reason: str) -> None:
        self.opened_at, self.probing, self.reason = self.clock(), False, reason

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
        if known is None or (known[0] is not spec and known[0] != spec):
            known = (spec, CircuitBreaker(spec, clock=self.clock))
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
        self.sleep = sleep

    async def aclose(self) -> None:
        for provider in {id(t.provider): t.provider for t in self.targets}.values():
            await provider.aclose()

    async def __aenter__(self) -> Router:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def complete(self, request: ChatRequest, *,
                       deadline_s: float | None = None) -> CallResult:
        """The first good answer along the chain, or CallFailed with every attempt."""
        call = Walk(self, request, deadline_s)
        response = await call.run(_complete)
        return call.succeeded(response)

    def stream(self, request: ChatRequest, *, deadline_s: float | None = None) -> StreamCall:
        """``async with router.stream(req) as call: async for chunk in call: ...``"""
        return StreamCall(self, request, deadline_s)


class Walk:
    """One call's way along a router's chain: the attempt loop (targets → retries
    with backoff → breaker → fallback), written once for ``complete`` and ``stream``.

    ``run(attempt)`` calls ``attempt(target, request)`` until one returns; the
    caller then books the verdict on the target that answered: ``succeeded()``,
    or, for a stream that breaks after its first chunk, ``failed(final=True)``.
    """

    __slots__ = ("router", "request", "attempts", "started", "deadline", "target", "index",
                 "retry", "breaker", "t0")

    def __init__(self, router: Router, request: ChatRequest, deadline_s: float | None,
                 attempts: list[Attempt] | None = None):
        self.router = router
        self.request = request
        self.attempts: list[Attempt] = [] if attempts is None else attempts
        self.started = time.perf_counter()
        self.deadline = None if deadline_s is None else time.monotonic() + deadline_s

    async def run(self, attempt: Callable[[Target, ChatRequest], Awaitable[T]]) -> T:
        """What the first attempt to succeed returned, or CallFailed."""
        router = self.router
        last: ProviderError | None = None
        for index, target in enumerate(router.targets):
            provider = target.provider
            breaker = router.breakers.get(provider.name, provider.spec.circuit_breaker)
            aimed = self.request.for_target(target.model, target.params)
            retry = 0
            while True:
                self.target, self.index, self.retry, self.breaker = target, index, retry, breaker
                if not breaker.allow():
                    last = self._refused()
                    break
                self.t0 = time.perf_counter()
                try:
                    if self.deadline is None:
                        return await attempt(target, aimed)
                    async with asyncio.timeout(max(0.0, self.deadline - time.monotonic())):
                        return await attempt(target, aimed)
                except ProviderError as error:
                    last = error
                except TimeoutError:
                    last = ProviderError("timeout", "the call's deadline passed",
                                         provider=provider.name, model=target.model)
                except BaseException:
                    breaker.release()
                    raise
                pause = self.failed(last, final=last.partial)
                if pause is None:
                    break
                await router.sleep(pause)
                retry += 1
        assert last is not None
        raise CallFailed(last, self.attempts)

    def succeeded(self, response: ChatResponse, ttft_ms: float | None = None) -> CallResult:
        """Book the answer of the current target; the call's result."""
        self.breaker.success()
        self._record(None)
        return CallResult(response, self.attempts, _cost(self.target, response),
                          _ms(self.started), ttft_ms)

    def failed(self, error: ProviderError, *, final: bool = False) -> float | None:
        """Book a failed attempt and say what next: seconds to wait before retrying this
        target, or None to move on. Raises CallFailed when no other target may try
        (the caller's own bad request, or ``final``: a stream that already gave chunks)."""
        # A 400 or 401 proves the upstream is up and answering: it counts for the breaker.
        self.breaker.success() if error.kind in NOT_UPSTREAM_FAULTS else self.breaker.failure()
        self._record(error)
        if final or not error.fallback_ok:
            raise CallFailed(error, self.attempts)
        return self._pause(error)

    def released(self) -> None:
        """The caller went away mid-attempt: no verdict for the breaker."""
        self.breaker.release()

    def _pause(self, error: ProviderError) -> float | None:
        """Seconds to wait before retrying this target, or None to move on."""
        spec: RetrySpec = self.target.provider.spec.retries
        if not error.retryable or self.retry >= spec.max_retries:
            return None
        delay = backoff_delay(self.retry, spec, self.router.rng)
        if error.retry_after is not None:
            if error.retry_after > spec.max_retry_after:
                return None
            delay = max(delay, error.retry_after)
        if self.deadline is not None and time.monotonic() + delay >= self.deadline:
            return None
        return delay

    def _refused(self) -> ProviderError:
        """The target's breaker is open: an attempt that never left, on the record,
        saying when the next probe may go."""
        breaker, target = self.breaker, self.target
        wait = breaker.remaining()
        error = ProviderError("circuit_open", f"circuit open: {breaker.reason}; next try in "
                              f"{wait:.1f}s",
                              provider=target.provider.name, model=target.model,
                              retry_after=wait)
        self.t0 = time.perf_counter()
        self._record(error)
        return error

    def _record(self, error: ProviderError | None) -> None:
        target = self.target
        self.attempts.append(Attempt(
            provider=target.provider.name, model=target.model, ok=error is None,
            kind=error.kind if error else None, status=error.status if error else None,
            latency_ms=round((time.perf_counter() - self.t0) * 1000, 3), fallback=self.index,
            retry=self.retry, message=error.message if error else None))


def _complete(target: Target, request: ChatRequest) -> Awaitable[ChatResponse]:
    return target.provider.complete(request)


async def _open(target: Target, request: ChatRequest) -> tuple[ChatChunk | None, Any]:
    """A stream and its first chunk (None: it was empty): the part that may be retried."""
    chunks = target.provider.stream(request)
    try:
        return await anext(chunks, None), chunks
    except BaseException:
        await chunks.aclose()
        raise


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
        call = Walk(self.router, self.request, self.deadline_s, self.attempts)
        first, chunks = await call.run(_open)
        acc = StreamAccumulator()
        ttft = None
        try:
            if first is not None:
                ttft = _ms(call.started)
                acc.add(first)
                yield first
                async for chunk in chunks:
                    acc.add(chunk)
                    yield chunk
        except ProviderError as error:
            error.partial = True  # the caller has part of an answer: no retry, no fallback
            call.failed(error, final=True)
        except BaseException:
            call.released()
            raise
        finally:
            await chunks.aclose()
        target = call.target
        self.result = call.succeeded(
            acc.response(model=target.model, provider=target.provider.name), ttft)


def _cost(target: Target, response: ChatResponse) -> Cost:
    return cost_of(response.usage, [response.model, target.model], target.provider.spec,
                   provider_name=target.provider.name,
                   price_as=getattr(target.provider, "price_as", None))


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 3)

