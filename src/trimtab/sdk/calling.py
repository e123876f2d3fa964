"""Running a system: its active release, called and recorded, for the SDK and the gateway.

One path for every front end, so a call through ``router.run()`` and one
through the gateway leave the same record: which release answered (and
whether as canary), the rendered prompt under the system's privacy rules,
every attempt, tokens, exact cost and the price table that produced it. The
record is spooled (durable on local disk) before the answer is handed back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from trimtab.errors import RecordingUnavailable, TrimtabError
from trimtab.recorder.call_fields import bounded_reasons, response_id_text
from trimtab.recorder.records import CallRecord
from trimtab.runtime import (
    BreakerRegistry,
    CallFailed,
    CallResult,
    ChatChunk,
    ChatRequest,
    ChatResponse,
    Cost,
    Provider,
    ProviderError,
    Redactor,
    Router,
    Target,
    Usage,
    make_provider,
    prompt_messages,
    render,
    router_for_release,
)
from trimtab.runtime.messages import StreamAccumulator
from trimtab.store.ids import new_call_id

if TYPE_CHECKING:
    from trimtab.releases.active import Route
    from trimtab.store.releases import Release
    from trimtab.store.suspensions import Suspension
    from trimtab.workspace import Workspace

log = logging.getLogger("trimtab")

JSON_FORMATS = {"json", "json_object", "json_schema"}


class NoActiveRelease(TrimtabError):
    """Nothing is promoted for this system in this environment yet."""


#: The system name direct calls (the gateway's passthrough) are recorded under.
PASSTHROUGH = "passthrough"
#: Where an eval calls a release: no environment, nobody is answered, so the
#: project's ``allow_simulated`` (which guards what users are served) does not apply.
EVAL_ENV = "eval"


class SystemSuspended(CallFailed):
    """The kill switch holds this system and its declared safe answer is an error
    (`trimtab suspend`): catch it as the application's stop signal. The gateway
    answers it as a 503."""

    def __init__(self, message: str):
        ProviderError.__init__(self, "suspended", message,  # type: ignore[arg-type]
                               provider="trimtab", model="suspended", status=503)
        self.attempts = []
        self.last = self


@dataclass(frozen=True)
class Direct:
    """A provider's model called as it is, with no release: the gateway's passthrough.

    Shaped like a release (``id``, ``spec``) so a direct call is built,
    retried and recorded by the same code as a system's; ``id`` is None
    because no release was involved, and ``key`` names its router.
    """

    spec: dict[str, Any]
    key: str  # the provider's entry: one provider (one connection pool) per entry and loop
    id: None = None

    @classmethod
    def of(cls, provider: Mapping[str, Any], model: str,
           privacy: Mapping[str, Any] | None = None) -> Direct:
        spec = {"system": PASSTHROUGH, "provider": dict(provider), "model": model,
                "privacy": dict(privacy or {})}
        return cls(spec, json.dumps(spec["provider"], sort_keys=True))


@dataclass
class RunResult:
    """What one call of a system returned, and how."""

    text: str | None
    call_id: str
    release_id: str | None  # None for a direct (passthrough) call
    route: str  # primary | canary
    provider: str
    model: str
    latency_ms: float
    usage: Usage | None
    cost_usd: Decimal | None
    attempts: list[dict[str, Any]]
    fallback_used: bool
    json: Any = None
    json_error: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str | None = None
    ttft_ms: float | None = None
    response: ChatResponse | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text, "json": self.json, "call_id": self.call_id,
            "release_id": self.release_id, "route": self.route, "provider": self.provider,
            "model": self.model, "latency_ms": self.latency_ms,
            "usage": self.usage.to_openai() if self.usage else None,
            "cost_usd": None if self.cost_usd is None else str(self.cost_usd),
            "attempts": self.attempts, "fallback_used": self.fallback_used,
        }


@dataclass(frozen=True, slots=True)
class CallOptions:
    """What a caller asks of one call besides whom it calls: the same for the
    call and its shadow. ``source`` and ``api_key_id`` say where it came from."""

    variables: Mapping[str, Any] | None = None
    messages: list[dict[str, Any]] | None = None
    params: Mapping[str, Any] | None = None
    user: str | None = None
    tags: Mapping[str, str] | None = None
    source: str = "sdk"
    api_key_id: str | None = None


def wants_json(spec: Mapping[str, Any], params: Mapping[str, Any] | None) -> bool:
    fmt = (params or {}).get("response_format", (spec.get("params") or {}).get("response_format"))
    if isinstance(fmt, Mapping):
        fmt = fmt.get("type")
    return fmt in JSON_FORMATS


def build_messages(spec: Mapping[str, Any], variables: Mapping[str, Any] | None,
                   messages: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The chat for this call.

    With only variables, the release's prompts are the whole chat. With the
    caller's own messages (the gateway), the release contributes its system
    prompt unless the caller brought one, so the governed prompt still applies
    to clients that only send the user turn.
    """
    prompts = spec.get("prompts") or {}
    if messages is None:
        built = prompt_messages(prompts, variables or {})
        if not any(m["role"] == "user" for m in built):
            raise TrimtabError(
                f"the release of {spec.get('system')!r} has no `user` prompt, so it needs "
                "messages. Fix: pass messages=[...] or add prompts.user to the release."
            )
        return built
    if "system" in prompts and not any(m.get("role") == "system" for m in messages):
        entry = prompts["system"]
        content = entry["content"] if isinstance(entry, Mapping) else entry
        label = f"'system' ({entry['path']})" if isinstance(entry, Mapping) else "'system'"
        return [{"role": "system", "content": render(content, variables or {}, name=label)},
                *messages]
    return list(messages)


def parse_json(text: str | None) -> tuple[Any, str | None]:
    if text is None:
        return None, "the answer has no text"
    try:
        return json.loads(text), None
    except ValueError as exc:
        return None, f"the answer is not valid JSON: {exc}"


class Caller:
    """Per-workspace runtime state: routers (with their HTTP connections) per
    release and event loop, the circuit breakers, and a private event loop
    that the synchronous ``run()`` uses so scripts need no asyncio.

    ``route(system, env)`` names the releases that answer (the active-release
    cache); ``emit(record)`` spools a finished call and tells the observers;
    ``simulated_refusal(env)`` says why a simulated provider may not answer in
    ``env`` (None: it may), from the project's ``allow_simulated``.
    """

    def __init__(self, route: Callable[[str, str], Route], emit: Callable[..., str],
                 simulated_refusal: Callable[[str], str | None] = lambda env: None,
                 requires_recording: Callable[[str], bool] = lambda system: False,
                 writable: Callable[[], bool] = lambda: True):
        self.route = route
        self.emit = emit
        self.simulated_refusal = simulated_refusal
        self.requires_recording = requires_recording
        self.writable = writable
        self.breakers = BreakerRegistry()
        # Per event loop (an HTTP client belongs to the loop that made it); weak, so
        # an app that calls asyncio.run() per request does not pile up dead clients.
        self._routers: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[tuple[str, str | None], Router]] = (
            weakref.WeakKeyDictionary())
        self._direct: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Any, Provider]] = (
            weakref.WeakKeyDictionary())
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._shadows: set[asyncio.Task] = set()
        # Parsed specs and compiled privacy rules per release id (content-addressed,
        # so never stale): the hot path must not re-parse a release per call.
        self._specs: dict[str, tuple[dict[str, Any], Redactor]] = {}

    # --- the private loop for synchronous callers ---------------------------

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=self._loop.run_forever,
                                                name="trimtab-calls", daemon=True)
                self._thread.start()
            return self._loop

    def run_sync(self, coro) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop()).result()

    def drain(self, timeout: float = 30.0) -> None:
        """Wait for shadow calls started from the private loop."""
        if self._loop is not None:
            asyncio.run_coroutine_threadsafe(self.adrain(), self._loop).result(timeout)

    async def adrain(self, timeout: float | None = None) -> None:
        """Wait for this loop's shadow calls; those still running after ``timeout``
        seconds are cancelled (a shutdown must end however slow a candidate is)."""
        loop = asyncio.get_running_loop()
        pending = [t for t in self._shadows if t.get_loop() is loop]
        if pending:
            _, late = await asyncio.wait(pending, timeout=timeout)
            for task in late:
                task.cancel()

    def close(self) -> None:
        if self._loop is None:
            return
        try:
            self.drain()
            asyncio.run_coroutine_threadsafe(self._aclose_routers(), self._loop).result(10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread is not None:
                self._thread.join(5)
            self._loop.close()
            self._loop = None

    async def aclose(self, timeout: float = 30.0) -> None:
        """Wait for shadows (``timeout`` at most) and close the HTTP clients of the
        running loop (the gateway's)."""
        await self.adrain(timeout)
        await self._aclose_routers()

    async def _aclose_routers(self) -> None:
        for router in self._routers.pop(asyncio.get_running_loop(), {}).values():
            await router.aclose()
        for provider in self._direct.pop(asyncio.get_running_loop(), {}).values():
            await provider.aclose()

    # --- calling ------------------------------------------------------------

    def spec(self, release: Release | Direct) -> tuple[dict[str, Any], Redactor]:
        """The release's spec and its privacy rules, parsed once per release."""
        if release.id is None:
            return release.spec, Redactor.from_spec(release.spec.get("privacy"))
        known = self._specs.get(release.id)
        if known is None:
            spec = release.spec
            known = self._specs[release.id] = (spec, Redactor.from_spec(spec.get("privacy")))
        return known

    def router(self, release: Release | Direct, env: str) -> Router:
        """One router per (release, loop, whether simulated providers may answer in
        ``env``): HTTP clients belong to the loop that made them.

        Direct calls name any model, so they share one provider per entry and
        loop and get a throwaway router (a list of one target) per call.
        """
        loop = asyncio.get_running_loop()
        refusal = None if env == EVAL_ENV else self.simulated_refusal(env)
        if release.id is None:
            providers = self._direct.setdefault(loop, {})
            key = (release.key, refusal)
            provider = providers.get(key)
            if provider is None:
                provider = providers[key] = make_provider(release.spec["provider"],
                                                          simulated_refused=refusal)
            return Router([Target(provider, release.spec["model"])], breakers=self.breakers)
        routers = self._routers.setdefault(loop, {})
        router = routers.get((release.id, refusal))
        if router is None:
            router = routers[(release.id, refusal)] = router_for_release(
                self.spec(release)[0], breakers=self.breakers, simulated_refused=refusal)
        return router

    def pick(self, system: str, env: str, user: str | None) -> tuple[Release, str, Release | None]:
        route = self.route(system, env)
        release, how = route.pick(system, user)
        if release is None:
            raise NoActiveRelease(
                f"no release of {system!r} is active in {env!r}. "
                f"Fix: trimtab release {system} && trimtab promote {system} <release> --env {env}"
            )
        if not self.spec(release)[0].get("provider"):
            raise TrimtabError(
                f"{system!r} is a classic model (no provider to call). "
                "Fix: run it yourself and record its predictions with ws.record()."
            )
        return release, how, route.shadow(system, user)

    def _prepare(self, target: str | Direct, env: str,
                 options: CallOptions) -> tuple[_Call, Release | None]:
        """The call's context, and the shadow release to call beside it, if any.

        A system name calls its active (or canary) release; a ``Direct`` calls a
        provider's model as it is, with no release, recorded all the same.
        """
        if isinstance(target, Direct):
            return _Call(self, PASSTHROUGH, env, target, "primary", options), None
        route = self.route(target, env)
        if route.suspended is not None and route.stable is not None:
            call = _Call(self, target, env, route.stable, "primary", options)
            call.suspended = route.suspended
            return call, None
        release, how, shadow = self.pick(target, env, options.user)
        call = _Call(self, target, env, release, how, options)
        if call.required and not self.writable():
            # Refused before the provider is paid for an answer that could not be kept.
            raise RecordingUnavailable(
                f"calls of {target!r} are not answered unrecorded (recording: required), "
                "and the call spool cannot be written (its disk is full); retry shortly, "
                "or on another replica")
        return call, shadow

    async def complete(self, target: str | Direct, env: str,
                       options: CallOptions = CallOptions()) -> RunResult:
        """Call, record the call, start any shadow."""
        return await self._complete(*self._prepare(target, env, options))

    async def complete_release(self, release: Release,
                               options: CallOptions = CallOptions(source="eval")) -> RunResult:
        """Call one named release exactly as production would (its prompts, params,
        fallbacks, retries, breakers), whatever is active where: for evals. The call
        is not written to the call log, where test traffic would skew production's
        latency, error and cost figures; the eval run stores what it needs."""
        call = _Call(self, release.system, EVAL_ENV, release, "primary", options)
        call.recorded = False
        return await self._complete(call, None)

    async def _complete(self, call: _Call, shadow: Release | None) -> RunResult:
        request = call.request()
        if call.suspended is not None:
            return call.answer_suspended()[1]
        if shadow is not None:
            self._start_shadow(shadow, call)
        release = call.release
        started = time.perf_counter()
        try:
            result = await self.router(release, call.env).complete(request)
        except CallFailed as failed:
            call.record_failure(failed, _ms(started))
            raise
        except asyncio.CancelledError:  # the caller went away (a gateway client hung up)
            gone = ProviderError("cancelled",  # type: ignore[arg-type]
                                 "the caller went away before the answer")
            call.record_failure(gone, _ms(started))
            raise
        record = call.record_success(result)
        return call.result(result, record)

    def stream(self, target: str | Direct, env: str,
               options: CallOptions = CallOptions()) -> StreamedRun:
        """Like ``complete`` but chunk by chunk; the record is spooled before the
        iterator ends, so a gateway sends ``[DONE]`` only once the call is durable."""
        return StreamedRun(self, *self._prepare(target, env, options))

    def _start_shadow(self, release: Release, primary: _Call) -> None:
        shadow = _Call(self, primary.system, primary.env, release, "shadow", primary.options)
        task = asyncio.get_running_loop().create_task(self._shadow(shadow))
        self._shadows.add(task)
        task.add_done_callback(self._shadows.discard)

    async def _shadow(self, call: _Call) -> None:
        """Never returned and never raised: a broken candidate must not touch users."""
        started = time.perf_counter()
        try:
            result = await self.router(call.release, call.env).complete(call.request())
        except CallFailed as failed:
            call.record_failure(failed, _ms(started))
        except Exception as exc:  # noqa: BLE001 - a shadow's failure is data, not an outage
            log.warning("shadow call of %s (release %s) failed: %s", call.system,
                        call.release.id[:12], exc)
        else:
            call.record_success(result)


class _Call:
    """One call's context, shared by its request and its record."""

    def __init__(self, caller: Caller, system: str, env: str, release: Release | Direct,
                 route: str, options: CallOptions):
        self.caller = caller
        self.system, self.env, self.release, self.route = system, env, release, route
        self.options = options
        self.spec, self.redactor = caller.spec(release)
        # Known before the call starts, so a gateway can name it in a stream's first bytes.
        self.id = new_call_id()
        self.variables = dict(options.variables) if options.variables else None
        self.messages = options.messages
        self.params = dict(options.params) if options.params else {}
        # What the provider is sent: the release's params, then the caller's over them.
        released = self.spec.get("params") if isinstance(self.spec, Mapping) else None
        self.sampling = sampling_params({**released, **self.params} if released
                                        else self.params)
        self.user, self.tags = options.user, dict(options.tags) if options.tags else None
        self.source, self.api_key_id = options.source, options.api_key_id
        self.time = datetime.now(UTC)
        self._built: list[dict[str, Any]] | None = None
        self.suspended: Suspension | None = None  # the kill switch holds the system
        self.recorded = True  # False for evals: the record is built, never emitted
        #: A record the spool cannot take fails the call (RecordingUnavailable).
        self.required = system != PASSTHROUGH and caller.requires_recording(system)

    def request(self) -> ChatRequest:
        self._built = build_messages(self.spec, self.variables, self.messages)
        return ChatRequest(self._built, dict(self.params))

    def _base(self, latency_ms: float, texts: bool = True) -> CallRecord:
        redactor = self.redactor
        stored: dict[str, Any] | None = None
        if redactor.keeps_text and texts:
            stored = {"messages": redactor.messages(self._built or self.messages or [])}
            if self.variables:
                stored["variables"] = redactor.value(self.variables)
            if self.params:
                stored["params"] = redactor.value(self.params)
        return CallRecord(
            id=self.id, system=self.system, env=self.env, latency_ms=latency_ms, time=self.time,
            release_id=self.release.id, source=self.source, route=self.route,
            user_id=self.user, api_key_id=self.api_key_id, tags=self.tags,
            logging_mode=redactor.mode, request=stored, params=self.sampling,
        )

    def _keep(self, build: Callable[[bool], CallRecord]) -> CallRecord:
        """Build the record and spool it; a call the provider answered is recorded with
        its outcome even when its texts cannot be (nested past what redaction or JSON
        can walk, say): then it is kept without them, and says so. An eval's call
        (``recorded`` False) is built for its id and never spooled."""
        if not self.recorded:
            return build(False)
        try:
            record = build(True)
            self.caller.emit(record, self.required)
        except RecordingUnavailable:
            raise  # the spool's disk, not this record: a smaller one would fare no better
        except Exception as exc:  # noqa: BLE001 - the outcome must reach the record
            log.error("call %s of %s: its texts could not be recorded (%s); recorded "
                      "without them", self.id, self.system, type(exc).__name__)
            record = build(False)
            note = f"[request and answer not stored: {type(exc).__name__}]"
            record.error = f"{record.error} {note}" if record.error else note
            self.caller.emit(record, self.required)
        return record

    def record_success(self, result: CallResult) -> CallRecord:
        return self._keep(lambda texts: self._success(result, texts))

    def _success(self, result: CallResult, texts: bool) -> CallRecord:
        record = self._base(result.latency_ms, texts)
        response, usage = result.response, result.response.usage
        redactor = self.redactor
        if redactor.keeps_text and texts:
            stored: Any = redactor.text(response.content)
            if response.tool_calls:
                stored = redactor.message({"role": "assistant", "content": response.content,
                                           "tool_calls": response.tool_calls})
            record.response = stored
        _fill_attempts(record, result.attempts)
        record.ttft_ms = result.ttft_ms
        # Bounded here too, not only by the writer: spans read the record as it is.
        record.response_id = response_id_text(response.id)
        record.finish_reasons = bounded_reasons(response.finish_reason)
        fill_usage(record, usage, result.cost)
        return record

    def record_failure(self, failed: ProviderError, latency_ms: float) -> CallRecord:
        return self._keep(lambda texts: self._failure(failed, latency_ms, texts))

    def _failure(self, failed: ProviderError, latency_ms: float, texts: bool) -> CallRecord:
        record = self._base(latency_ms, texts)
        record.status = "error"
        record.error_kind = failed.kind
        record.http_status = failed.status
        record.error = str(failed)
        _fill_attempts(record, getattr(failed, "attempts", []))
        if record.provider is None:
            record.provider, record.model = failed.provider, failed.model
        return record

    def answer_suspended(self) -> tuple[CallRecord, RunResult]:
        """The declared safe answer instead of a model call, recorded as
        ``suspended``; SystemSuspended when that answer is an error."""
        held = self.suspended
        assert held is not None
        record = self._base(0.0)
        record.status, record.provider, record.model = "suspended", "trimtab", "suspended"
        if held.mode == "error":
            record.error_kind, record.error = "suspended", held.message
        elif self.redactor.keeps_text:
            record.response = self.redactor.text(held.message)
        self.caller.emit(record, self.required)
        if held.mode == "error":
            raise SystemSuspended(held.message)
        finish = "stop" if held.mode == "reply" else "content_filter"
        response = ChatResponse(content=held.message, model="suspended", provider="trimtab",
                                finish_reason=finish)
        return record, RunResult(
            text=held.message, call_id=record.id, release_id=self.release.id,
            route=self.route, provider="trimtab", model="suspended", latency_ms=0.0,
            usage=None, cost_usd=Decimal(0), attempts=[], fallback_used=False,
            finish_reason=finish, response=response)

    def result(self, result: CallResult, record: CallRecord) -> RunResult:
        response = result.response
        parsed, error = (parse_json(response.content)
                         if wants_json(self.spec, self.params) else (None, None))
        return RunResult(
            text=response.content, call_id=record.id, release_id=self.release.id,
            route=self.route, provider=result.provider, model=result.model,
            latency_ms=result.latency_ms, usage=response.usage, cost_usd=result.cost.usd,
            attempts=[a.to_dict() for a in result.attempts], fallback_used=result.fallback_used,
            json=parsed, json_error=error, tool_calls=response.tool_calls,
            finish_reason=response.finish_reason, ttft_ms=result.ttft_ms, response=response,
        )


class StreamedRun:
    """``async for chunk in run`` yields chunks; ``run.result`` is set at the end."""

    def __init__(self, caller: Caller, call: _Call, shadow: Release | None):
        self.caller, self.call, self.shadow = caller, call, shadow
        self.result: RunResult | None = None
        self.record: CallRecord | None = None
        self.request = call.request()  # bad input fails here, before any byte is sent

    def __aiter__(self) -> AsyncIterator[ChatChunk]:
        return self._run()

    async def _run(self) -> AsyncIterator[ChatChunk]:
        call = self.call
        if call.suspended is not None:
            self.record, self.result = call.answer_suspended()
            yield ChatChunk(role="assistant", content=self.result.text)
            yield ChatChunk(finish_reason=self.result.finish_reason)
            return
        if self.shadow is not None:
            self.caller._start_shadow(self.shadow, call)
        started = time.perf_counter()
        acc = StreamAccumulator()
        stream = self.caller.router(call.release, call.env).stream(self.request)
        finished = False
        try:
            async with stream:
                async for chunk in stream:
                    acc.add(chunk)
                    yield chunk
            finished = True
        except CallFailed as failed:
            self.record = call.record_failure(failed, _ms(started))
            raise
        finally:
            if not finished and self.record is None:  # the client went away mid-stream
                gone = ProviderError("cancelled",  # type: ignore[arg-type]
                                     "the caller closed the stream early",
                                     partial=bool(acc.chunks))
                gone.attempts = stream.attempts  # type: ignore[attr-defined]
                self.record = call.record_failure(gone, _ms(started))
        assert stream.result is not None
        self.record = call.record_success(stream.result)
        self.result = call.result(stream.result, self.record)


def fill_usage(record: CallRecord, usage: Usage | None, cost: Cost) -> None:
    """Tokens and exact cost onto a record: one place for SDK, gateway and instrument."""
    if usage is not None:
        record.input_tokens = usage.input_tokens
        record.output_tokens = usage.output_tokens
        record.cached_input_tokens = usage.cache_read_tokens or None
        record.cache_write_tokens = usage.cache_write_tokens or None
        record.reasoning_tokens = usage.reasoning_tokens or None
    record.cost_micro_usd = cost.micro_usd
    record.price_version = cost.source if cost.known else None


#: The request's sampling parameters a call record keeps (and its span exports).
SAMPLING_PARAMS = ("temperature", "top_p", "top_k", "max_tokens", "max_completion_tokens",
                   "seed", "frequency_penalty", "presence_penalty", "stop", "n")


def sampling_params(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The scalar sampling parameters of a request (no NOT_GIVEN sentinels, no objects)."""
    if not params:
        return None
    return {key: params[key] for key in SAMPLING_PARAMS
            if isinstance(params.get(key), int | float | str | list)} or None


def _fill_attempts(record: CallRecord, attempts) -> None:
    if not attempts:
        return
    last = attempts[-1]
    record.attempts = [a.to_dict() for a in attempts]
    record.attempt_count = len(attempts)
    record.provider, record.model = last.provider, last.model
    record.fallback_used = last.fallback > 0


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 3)


class SystemClient:
    """``ws.system("complaint-router", env="production")``: call a system by name.

    The release is looked up on every call through a cache that re-reads the
    store every couple of seconds, so a promote or rollback made by another
    process reaches a long-running app without a restart.
    """

    def __init__(self, ws: Workspace, name: str, env: str | None = None):
        self.ws = ws
        self.name = name
        self.env = env or ws.project.production
        ws.project.check_env(self.env)
        ws.project.system(name)

    def run(self, variables: Mapping[str, Any] | None = None, *,
            messages: list[dict[str, Any]] | None = None, params: Mapping[str, Any] | None = None,
            user: str | None = None, tags: Mapping[str, str] | None = None) -> RunResult:
        """Render the release's prompts with ``variables``, call, record, return."""
        return self.ws.caller.run_sync(self.arun(variables, messages=messages, params=params,
                                                 user=user, tags=tags))

    async def arun(self, variables: Mapping[str, Any] | None = None, *,
                   messages: list[dict[str, Any]] | None = None,
                   params: Mapping[str, Any] | None = None, user: str | None = None,
                   tags: Mapping[str, str] | None = None) -> RunResult:
        return await self.ws.caller.complete(self.name, self.env, CallOptions(
            variables, messages, params, user, tags))

    def astream(self, variables: Mapping[str, Any] | None = None, *,
                messages: list[dict[str, Any]] | None = None,
                params: Mapping[str, Any] | None = None, user: str | None = None,
                tags: Mapping[str, str] | None = None) -> StreamedRun:
        return self.ws.caller.stream(self.name, self.env, CallOptions(
            variables, messages, params, user, tags))

    def release(self) -> Release | None:
        return self.ws.active.get(self.name, self.env)
