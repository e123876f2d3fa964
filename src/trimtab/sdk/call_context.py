"""One call in flight: its request, and the record it leaves (the same for the SDK,
the gateway and the shadow beside them), with the helpers that fill a record."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from trimtab.errors import RecordingUnavailable
from trimtab.recorder.call_fields import bounded_reasons, response_id_text
from trimtab.recorder.records import CallRecord
from trimtab.runtime import (
    CallResult,
    ChatRequest,
    ChatResponse,
    Cost,
    ProviderError,
    Usage,
)
from trimtab.sdk.call_options import PASSTHROUGH, CallOptions, Direct, build_messages, wants_json
from trimtab.sdk.results import RunResult, SystemSuspended, parse_json
from trimtab.store.ids import new_call_id

if TYPE_CHECKING:
    from trimtab.sdk.calling import Caller
    from trimtab.store.releases import Release
    from trimtab.store.suspensions import Suspension

log = logging.getLogger("trimtab")


class CallContext:
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
        fill_attempts(record, result.attempts)
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
        fill_attempts(record, getattr(failed, "attempts", []))
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


def fill_attempts(record: CallRecord, attempts) -> None:
    if not attempts:
        return
    last = attempts[-1]
    record.attempts = [a.to_dict() for a in attempts]
    record.attempt_count = len(attempts)
    record.provider, record.model = last.provider, last.model
    record.fallback_used = last.fallback > 0


def elapsed_ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 3)
