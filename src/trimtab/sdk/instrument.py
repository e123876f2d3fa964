"""``trimtab.instrument(client, system=...)``: record an existing OpenAI client's calls.

For teams whose code already calls ``client.chat.completions.create`` all
over: one line at start-up and every call is recorded under a system —
latency, tokens, exact cost, errors, the release active for it — with the
system's privacy rules applied, and nothing else in the code changes. The
client's own behaviour is untouched: same return values, same exceptions,
streams still stream.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from trimtab.project.models import ProviderSpec
from trimtab.recorder.call_fields import bounded_reasons, response_id_text
from trimtab.recorder.records import CallRecord
from trimtab.runtime.cost import cost_of
from trimtab.runtime.messages import Usage
from trimtab.runtime.redaction import Redactor
from trimtab.sdk.call_context import fill_usage, sampling_params

if TYPE_CHECKING:
    from trimtab.workspace import Workspace

log = logging.getLogger("trimtab")

#: How OpenAI SDK exceptions map onto trimtab's error kinds.
_STATUS_KINDS = {400: "bad_request", 401: "auth", 403: "auth", 404: "bad_request",
                 408: "timeout", 422: "bad_request", 429: "rate_limit"}


def instrument(client: Any, system: str, *, env: str | None = None,
               workspace: Workspace, tags: dict[str, str] | None = None,
               provider: str | None = None) -> Any:
    """Wrap ``client.chat.completions.create`` and ``.parse`` (structured outputs), of
    ``OpenAI`` or ``AsyncOpenAI``, in place.

    Returns the same client. ``user=`` passed to ``create`` attributes the
    call, as it does for OpenAI itself. Instrumenting twice is a no-op.
    Calls are priced at OpenAI's list prices unless ``provider`` names an
    entry under ``providers:`` in trimtab.yaml (its ``prices`` and URL then
    decide, e.g. for Azure, Mistral or a self-hosted vLLM).
    """
    env = env or workspace.project.production
    workspace.project.check_env(env)
    completions = client.chat.completions
    original = completions.create
    if getattr(original, "__trimtab__", False):
        return client
    if provider and provider not in workspace.project.spec.providers:
        from trimtab.errors import TrimtabError

        raise TrimtabError(f"instrument(provider={provider!r}): no such provider under "
                           "`providers:` in trimtab.yaml. Fix: declare it, or leave provider out "
                           "to price calls at OpenAI's list prices.")
    entry = (workspace.project.provider(provider) if provider
             else {"name": "openai", "kind": "openai", "base_url": None})
    # Undeclared, the client's own base URL says where calls go (a span then names
    # Groq, Azure or a local vLLM, not OpenAI); read once here, never per call.
    server_url = None if provider else str(getattr(client, "base_url", "") or "") or None
    context = _Context(workspace, system, env, entry, tags, server_url)

    completions.create = _wrapped(original, completions, context, streams=True)
    parse = getattr(completions, "parse", None)
    if parse is not None:  # structured outputs: openai's parse posts itself, not via create
        completions.parse = _wrapped(parse, completions, context, streams=False)
    copy = getattr(client, "with_options", None)
    if copy is not None:  # client.with_options(timeout=...) returns a new client: wrap it too
        def with_options(*args: Any, **kwargs: Any) -> Any:
            return instrument(copy(*args, **kwargs), system, env=env, workspace=workspace,
                              tags=tags, provider=provider)

        client.with_options = with_options
    return client


def _wrapped(original: Any, completions: Any, context: _Context, *, streams: bool) -> Any:
    """``original`` (``create`` or ``parse``) recording each call, sync or async as it is."""
    if _is_async(original, completions):
        async def call(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                result = await original(*args, **kwargs)
            except asyncio.CancelledError:  # wait_for ran out, a web client hung up
                context.failed(kwargs, _Cancelled("the caller cancelled the call before its "
                                                  "answer"), started)
                raise
            except Exception as exc:
                context.failed(kwargs, exc, started)
                raise
            if _is_raw(result):
                if not kwargs.get("stream"):
                    context.answered(kwargs, await _parsed_async(result), started)
                return result
            if streams and kwargs.get("stream"):
                return _AsyncStream(result, context, kwargs, started)
            context.answered(kwargs, result, started)
            return result
    else:
        def call(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
            started = time.perf_counter()
            try:
                result = original(*args, **kwargs)
            except Exception as exc:
                context.failed(kwargs, exc, started)
                raise
            if _is_raw(result):
                if not kwargs.get("stream"):
                    context.answered(kwargs, _parsed(result), started)
                return result
            if streams and kwargs.get("stream"):
                return _Stream(result, context, kwargs, started)
            context.answered(kwargs, result, started)
            return result

    call.__trimtab__ = True  # type: ignore[attr-defined]
    call.__wrapped__ = original  # type: ignore[attr-defined]
    return call


def _is_raw(result: Any) -> bool:
    """``with_raw_response.create`` and ``with_streaming_response.create`` reach the
    wrapped ``create`` and answer openai's response object (headers, then ``.parse()``),
    not the completion: the app must get it as it is. A streamed one (``stream=True``)
    is passed on unrecorded: wrapping it would change its type."""
    return hasattr(result, "http_response") and callable(getattr(result, "parse", None))


def _parsed(raw: Any) -> Any:
    """The completion inside a raw response (openai caches it: the app's own
    ``.parse()`` gets the same object); the raw response if it cannot be parsed."""
    try:
        return raw.parse()
    except Exception:  # noqa: BLE001 - the app's parse will say what is wrong
        return raw


async def _parsed_async(raw: Any) -> Any:
    try:
        parsed = raw.parse()
        return await parsed if inspect.isawaitable(parsed) else parsed
    except Exception:  # noqa: BLE001 - the app's parse will say what is wrong
        return raw


def _is_async(function: Any, completions: Any) -> bool:
    """Whether ``create`` must be awaited. The openai package wraps it in a plain
    function (its ``required_args`` check) that returns the coroutine, so the
    wrapper alone looked synchronous: an ``AsyncOpenAI`` call was recorded as
    answered before it was sent, and a stream could not be awaited."""
    return (inspect.iscoroutinefunction(inspect.unwrap(function))
            or type(completions).__name__.startswith("Async"))


class _Context:
    def __init__(self, ws: Workspace, system: str, env: str, provider: dict[str, Any],
                 tags: dict[str, str] | None, server_url: str | None = None):
        self.ws, self.system, self.env, self.tags = ws, system, env, tags
        self.server_url = server_url
        self.provider = provider
        # Validated once: cost_of would otherwise rebuild it (and its prices) per call.
        self.provider_spec = ProviderSpec.model_validate(
            {k: v for k, v in provider.items() if k != "name"})
        try:
            privacy = ws.project.system(system).privacy()
        except Exception:  # noqa: BLE001 - undeclared system: the safe default
            privacy = None
        self.redactor = Redactor.from_spec(privacy)

    def _record(self, kwargs: dict[str, Any], started: float, **fields: Any) -> CallRecord:
        try:
            release = self.ws.active.get(self.system, self.env)
        except Exception:  # noqa: BLE001 - the store is down and this route is unknown:
            release = None  # record without it, as ws.record() does
        elapsed = round((time.perf_counter() - started) * 1000, 3)
        request = None
        params = sampling_params(kwargs)
        if self.redactor.keeps_text:
            request = {"messages": self.redactor.messages(kwargs.get("messages") or [])}
            if params:
                request["params"] = params
        # One attempt, as the SDK records them: it keeps the model asked for, so a
        # span is named after it whether the call answered or failed.
        attempt = {"provider": self.provider["name"], "model": kwargs.get("model"),
                   "ok": fields.get("status", "ok") == "ok", "kind": fields.get("error_kind"),
                   "status": fields.get("http_status"), "latency_ms": elapsed,
                   "fallback": 0, "retry": 0}
        return CallRecord(
            system=self.system, env=self.env, latency_ms=elapsed,
            time=datetime.fromtimestamp(time.time() - elapsed / 1000, UTC),
            release_id=release.id if release else None, source="instrument",
            provider=self.provider["name"], model=kwargs.get("model"), user_id=kwargs.get("user"),
            tags=self.tags, logging_mode=self.redactor.mode, request=request,
            attempts=[attempt], params=params, server_url=self.server_url, **fields,
        )

    def answered(self, *args: Any, **kwargs: Any) -> None:
        """Record an answer; a recording that fails is logged, never raised: the
        client's return value reaches the app unchanged."""
        self._keeping(self._answered, *args, **kwargs)

    def failed(self, *args: Any) -> None:
        """Record a failure; the client's own exception is what the app gets."""
        self._keeping(self._failed, *args)

    def _keeping(self, record: Any, *args: Any, **kwargs: Any) -> None:
        try:
            record(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - recording must not change the app's path
            log.error("trimtab.instrument: a call of %s could not be recorded (%s: %s)",
                      self.system, type(exc).__name__, exc)

    def _answered(self, kwargs: dict[str, Any], result: Any, started: float,
                 text: str | None = None, usage: dict | None = None,
                 model: str | None = None, ttft_ms: float | None = None,
                 response_id: str | None = None, finish_reasons: list[str] | None = None) -> None:
        if text is None and getattr(result, "choices", None):
            text = result.choices[0].message.content
        if result is not None:
            response_id = getattr(result, "id", None)
            finish_reasons = [c.finish_reason for c in getattr(result, "choices", None) or ()
                              if isinstance(getattr(c, "finish_reason", None), str)]
        if usage is None and getattr(result, "usage", None) is not None:
            usage = result.usage.model_dump()
        model = model or getattr(result, "model", None) or kwargs.get("model")
        record = self._record(kwargs, started, ttft_ms=ttft_ms)
        record.model = model
        record.response_id = response_id_text(response_id)
        record.finish_reasons = bounded_reasons(finish_reasons)
        record.response = self.redactor.text(text) if self.redactor.keeps_text else None
        counted = Usage.from_openai(usage)
        cost = cost_of(counted, [model, kwargs.get("model")], self.provider_spec,
                       provider_name=self.provider["name"])
        fill_usage(record, counted, cost)
        self.ws.emit(record)

    def _failed(self, kwargs: dict[str, Any], exc: BaseException, started: float) -> None:
        status = getattr(exc, "status_code", None)
        name = type(exc).__name__
        kind = _STATUS_KINDS.get(status, "server" if status else
                                 "cancelled" if isinstance(exc, _Cancelled) else
                                 "timeout" if "Timeout" in name else "connection")
        # Masked like ws.record() errors: an upstream may echo the prompt back.
        text = Redactor("redacted", self.redactor.rules).text(f"{name}: {exc}")
        record = self._record(kwargs, started, status="error", error_kind=kind,
                              http_status=status, error=text)
        self.ws.emit(record)


class _Stream:
    """The client's stream, passed through chunk by chunk, recorded when it ends:
    read to the end, failed, or closed early by the caller (recorded as cancelled)."""

    def __init__(self, inner: Any, context: _Context, kwargs: dict[str, Any], started: float):
        self._inner, self._context, self._kwargs, self._started = inner, context, kwargs, started
        self._parts: list[str] = []
        self._usage: dict | None = None
        self._model: str | None = None
        self._ttft: float | None = None
        self._id: str | None = None
        self._finish_reasons: list[str] = []
        self._done = False
        self._iterator: Any = None

    def _take(self, chunk: Any) -> Any:
        if self._ttft is None:
            self._ttft = round((time.perf_counter() - self._started) * 1000, 3)
        self._model = getattr(chunk, "model", None) or self._model
        self._id = self._id or getattr(chunk, "id", None)
        if getattr(chunk, "usage", None) is not None:
            self._usage = chunk.usage.model_dump()
        for choice in getattr(chunk, "choices", None) or ():
            if choice.delta is not None and choice.delta.content:
                self._parts.append(choice.delta.content)
            if isinstance(getattr(choice, "finish_reason", None), str):
                self._finish_reasons.append(choice.finish_reason)
        return chunk

    def _finish(self, error: BaseException | None = None) -> None:
        if self._done:
            return
        self._done = True
        if error is not None:
            self._context.failed(self._kwargs, error, self._started)
        else:
            self._context.answered(self._kwargs, None, self._started, text="".join(self._parts),
                                   usage=self._usage, model=self._model, ttft_ms=self._ttft,
                                   response_id=self._id, finish_reasons=self._finish_reasons)

    def _cancelled(self) -> None:
        if not self._done:
            self._finish(_Cancelled("the caller closed the stream before its end"))

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        if self._iterator is None:
            self._iterator = iter(self._inner)
        try:
            return self._take(next(self._iterator))
        except StopIteration:
            self._finish()
            raise
        except Exception as exc:
            self._finish(exc)
            raise

    def __enter__(self) -> _Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._cancelled()
        self._inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _AsyncStream(_Stream):
    def __aiter__(self) -> _AsyncStream:
        return self

    async def __anext__(self) -> Any:
        if self._iterator is None:
            self._iterator = self._inner.__aiter__()
        try:
            return self._take(await self._iterator.__anext__())
        except StopAsyncIteration:
            self._finish()
            raise
        except asyncio.CancelledError:  # the task reading it was cancelled mid-stream
            self._cancelled()
            raise
        except Exception as exc:
            self._finish(exc)
            raise

    async def __aenter__(self) -> _AsyncStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:  # type: ignore[override]
        self._cancelled()
        await self._inner.close()


class _Cancelled(Exception):
    """A stream its caller stopped reading: recorded as an error of kind cancelled."""
