"""Running a system: its active release, called and recorded, for the SDK and the gateway.

One path for every front end, so a call through ``router.run()`` and one
through the gateway leave the same record: which release answered (and
whether as canary), the rendered prompt under the system's privacy rules,
every attempt, tokens, exact cost and the price table that produced it. The
record is spooled (durable on local disk) before the answer is handed back.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any

from trimtab.errors import RecordingUnavailable, TrimtabError
from trimtab.recorder.records import CallRecord
from trimtab.runtime import (
    BreakerRegistry,
    CallFailed,
    ChatChunk,
    Provider,
    ProviderError,
    Redactor,
    Router,
    Target,
    make_provider,
    router_for_release,
)
from trimtab.runtime.messages import StreamAccumulator
from trimtab.sdk.call_context import CallContext, elapsed_ms
from trimtab.sdk.call_options import EVAL_ENV, PASSTHROUGH, CallOptions, Direct
from trimtab.sdk.results import NoActiveRelease, RunResult

if TYPE_CHECKING:
    from trimtab.releases.active import Route
    from trimtab.store.releases import Release
    from trimtab.workspace import Workspace

log = logging.getLogger("trimtab")


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
        _CALLERS.add(self)

    def forked(self) -> None:
        """In a forked child: the private loop's thread stayed in the parent, so a
        ``run()`` waited for ever on a loop nobody runs; its HTTP connections are
        the parent's sockets. The child starts a loop and clients of its own (the
        old loop is kept, unclosed: it still looks running, and closing its
        selector would be all it could do)."""
        self._lock = threading.Lock()
        if self._loop is not None:
            _ORPHANED.append(self._loop)
        self._loop, self._thread = None, None
        self._routers = weakref.WeakKeyDictionary()
        self._direct = weakref.WeakKeyDictionary()
        self._shadows = set()

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
                 options: CallOptions) -> tuple[CallContext, Release | None]:
        """The call's context, and the shadow release to call beside it, if any.

        A system name calls its active (or canary) release; a ``Direct`` calls a
        provider's model as it is, with no release, recorded all the same.
        """
        if isinstance(target, Direct):
            return CallContext(self, PASSTHROUGH, env, target, "primary", options), None
        route = self.route(target, env)
        if route.suspended is not None and route.stable is not None:
            call = CallContext(self, target, env, route.stable, "primary", options)
            call.suspended = route.suspended
            return call, None
        release, how, shadow = self.pick(target, env, options.user)
        call = CallContext(self, target, env, release, how, options)
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
        call = CallContext(self, release.system, EVAL_ENV, release, "primary", options)
        call.recorded = False
        return await self._complete(call, None)

    async def _complete(self, call: CallContext, shadow: Release | None) -> RunResult:
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
            call.record_failure(failed, elapsed_ms(started))
            raise
        except asyncio.CancelledError:  # the caller went away (a gateway client hung up)
            gone = ProviderError("cancelled",  # type: ignore[arg-type]
                                 "the caller went away before the answer")
            call.record_failure(gone, elapsed_ms(started))
            raise
        record = call.record_success(result)
        return call.result(result, record)

    def stream(self, target: str | Direct, env: str,
               options: CallOptions = CallOptions()) -> StreamedRun:
        """Like ``complete`` but chunk by chunk; the record is spooled before the
        iterator ends, so a gateway sends ``[DONE]`` only once the call is durable."""
        return StreamedRun(self, *self._prepare(target, env, options))

    def _start_shadow(self, release: Release, primary: CallContext) -> None:
        shadow = CallContext(self, primary.system, primary.env, release, "shadow", primary.options)
        task = asyncio.get_running_loop().create_task(self._shadow(shadow))
        self._shadows.add(task)
        task.add_done_callback(self._shadows.discard)

    async def _shadow(self, call: CallContext) -> None:
        """Never returned and never raised: a broken candidate must not touch users."""
        started = time.perf_counter()
        try:
            result = await self.router(call.release, call.env).complete(call.request())
        except CallFailed as failed:
            call.record_failure(failed, elapsed_ms(started))
        except Exception as exc:  # noqa: BLE001 - a shadow's failure is data, not an outage
            log.warning("shadow call of %s (release %s) failed: %s", call.system,
                        call.release.id[:12], exc)
        else:
            call.record_success(result)


#: Every caller, for the fork handler (weak: a caller nobody holds just goes), and the
#: private loops children inherited without their threads.
_CALLERS: weakref.WeakSet[Caller] = weakref.WeakSet()
_ORPHANED: list[asyncio.AbstractEventLoop] = []


def _forked() -> None:
    for caller in list(_CALLERS):
        caller.forked()


os.register_at_fork(after_in_child=_forked)


class StreamedRun:
    """``async for chunk in run`` yields chunks; ``run.result`` is set at the end."""

    def __init__(self, caller: Caller, call: CallContext, shadow: Release | None):
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
            self.record = call.record_failure(failed, elapsed_ms(started))
            raise
        finally:
            if not finished and self.record is None:  # the client went away mid-stream
                gone = ProviderError("cancelled",  # type: ignore[arg-type]
                                     "the caller closed the stream early",
                                     partial=bool(acc.chunks))
                gone.attempts = stream.attempts  # type: ignore[attr-defined]
                self.record = call.record_failure(gone, elapsed_ms(started))
        assert stream.result is not None
        self.record = call.record_success(stream.result)
        self.result = call.result(stream.result, self.record)


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
        self.ws.check_open(f"{self.name}.run()")
        return self.ws.caller.run_sync(self.arun(variables, messages=messages, params=params,
                                                 user=user, tags=tags))

    async def arun(self, variables: Mapping[str, Any] | None = None, *,
                   messages: list[dict[str, Any]] | None = None,
                   params: Mapping[str, Any] | None = None, user: str | None = None,
                   tags: Mapping[str, str] | None = None) -> RunResult:
        self.ws.check_open(f"{self.name}.arun()")
        return await self.ws.caller.complete(self.name, self.env, CallOptions(
            variables, messages, params, user, tags))

    def astream(self, variables: Mapping[str, Any] | None = None, *,
                messages: list[dict[str, Any]] | None = None,
                params: Mapping[str, Any] | None = None, user: str | None = None,
                tags: Mapping[str, str] | None = None) -> StreamedRun:
        self.ws.check_open(f"{self.name}.astream()")
        return self.ws.caller.stream(self.name, self.env, CallOptions(
            variables, messages, params, user, tags))

    def release(self) -> Release | None:
        return self.ws.active.get(self.name, self.env)
