"""OpenTelemetry: every recorded call exported as a GenAI client span over OTLP/HTTP.

Spans follow the OpenTelemetry GenAI semantic conventions (``chat {model}``,
kind CLIENT, ``gen_ai.*`` attributes) so Jaeger, Tempo, Honeycomb, Datadog,
Langfuse or any OTLP backend shows them like any other LLM instrumentation,
plus ``trimtab.*`` attributes (system, release, route, cost) to join a span to
the call log.

A span is built from the call record after the call, on the calling thread (so
it nests under the application's current span), and handed to a batch span
processor: exporting happens on a background thread and a slow or absent
collector drops spans, it never delays or fails a call.

Configuration is the standard OpenTelemetry environment
(``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_ENDPOINT``,
``OTEL_EXPORTER_OTLP_HEADERS``, ``OTEL_SERVICE_NAME``, ``OTEL_TRACES_SAMPLER``,
``OTEL_BSP_*``...). When an endpoint is set, ``trimtab.connect()`` installs the
exporter itself; ``TRIMTAB_OTEL=off`` or ``OTEL_SDK_DISABLED=true`` prevent it.

Prompts and answers are never exported unless both the system logs ``full``
content and the operator opted in with
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`` (the switch the
OpenTelemetry GenAI instrumentations use) or ``install_otel(capture_content=True)``.

The OpenTelemetry packages are an optional extra (``pip install 'trimtab[otel]'``)
and are imported only when export is installed.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import weakref
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from trimtab.errors import TrimtabError
from trimtab.recorder.records import CallRecord

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

    from trimtab.workspace import Workspace

log = logging.getLogger("trimtab.telemetry.otel")

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
CONTENT_VARIABLE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
_CONTENT_ON = {"true", "1", "yes", "span_only", "span_and_event"}
_OFF = {"off", "false", "0", "no", "none"}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

#: Provider kinds in trimtab.yaml -> gen_ai.provider.name well-known values.
_PROVIDER_NAMES = {"openai": "openai", "anthropic": "anthropic", "simulated": "trimtab.simulated"}
#: OpenAI-compatible hosts (by domain) that have a well-known name of their own.
_HOST_PROVIDERS = (
    ("openai.azure.com", "azure.ai.openai"), ("services.ai.azure.com", "azure.ai.inference"),
    ("mistral.ai", "mistral_ai"), ("deepseek.com", "deepseek"), ("groq.com", "groq"),
    ("x.ai", "x_ai"), ("perplexity.ai", "perplexity"), ("cohere.com", "cohere"),
    ("cohere.ai", "cohere"), ("generativelanguage.googleapis.com", "gcp.gemini"),
    ("anthropic.com", "anthropic"),
)


def configured(environ: Mapping[str, str] | None = None) -> bool:
    """True when the environment asks for OTLP trace export and nothing vetoes it."""
    env = os.environ if environ is None else environ
    if env.get("TRIMTAB_OTEL", "").strip().lower() in _OFF:
        return False
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if env.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return False
    return any(env.get(name, "").strip() for name in ENDPOINT_VARIABLES)


class SpanExport:
    """The observer that turns records into spans, and the provider that ships them."""

    def __init__(self, ws: Workspace, provider: TracerProvider, *, owned: bool,
                 capture_content: bool):
        from opentelemetry.trace import SpanKind, Status, StatusCode

        from trimtab import __version__

        self._client, self._status, self._error = SpanKind.CLIENT, Status, StatusCode.ERROR
        self.provider = provider
        self.owned = owned
        self.capture_content = capture_content
        self._workspace = weakref.ref(ws)
        self._tracer = provider.get_tracer("trimtab", __version__)
        self._providers: dict[tuple[str | None, str | None],
                              tuple[str, str | None, int | None]] = {}
        self._closed = False

    # --- observer (the hot path: build a span, queue it) --------------------

    def __call__(self, record: CallRecord) -> None:
        # The runtime stamps a record with the time the call started.
        start = (record.time - _EPOCH) // _MICROSECOND * 1000
        end = start + int(max(record.latency_ms, 0.0) * 1_000_000)
        classic = self._system_kind(record.system) == "classic"
        if classic:
            name, attributes = f"predict {record.system}", {}
        else:
            name, attributes = self._genai(record)
        attributes.update(_trimtab_attributes(record))
        if record.status == "error":
            attributes["error.type"] = _error_type(record)
        content = self.capture_content and self._content_allowed(record)
        if content and not classic:
            attributes.update(_content_attributes(record))
        span = self._tracer.start_span(name, kind=self._client, start_time=start,
                                       attributes=attributes)
        retried = record.attempts if record.attempt_count > 1 and record.attempts else []
        at = start
        for attempt in retried:  # each at its own end: the attempts ran one after another
            took = attempt.get("latency_ms") if isinstance(attempt, dict) else None
            if isinstance(took, int | float) and not isinstance(took, bool) and took > 0:
                at += int(took * 1_000_000)
            span.add_event("trimtab.attempt", _attempt_attributes(attempt),
                           timestamp=min(at, end))
        if record.status == "error":
            description = attributes["error.type"]
            if content and record.error:
                description = f"{description}: {record.error}"
            span.set_status(self._status(self._error, description))
        span.end(end_time=end)

    def _genai(self, record: CallRecord) -> tuple[str, dict[str, Any]]:
        provider_name, address, port = self._provider(record.provider, record.server_url)
        requested = record.model
        if record.attempts and isinstance(record.attempts[0], dict):
            requested = record.attempts[0].get("model") or requested
        response = record.response if isinstance(record.response, dict) else {}
        answered = response.get("model") if isinstance(response.get("model"), str) else None
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": provider_name,
            "gen_ai.system": provider_name,  # pre-1.37 name, still read by many backends
            "gen_ai.request.model": requested,
            "gen_ai.response.model": (answered or record.model) if record.status == "ok"
            else None,
            "gen_ai.response.id": _response_id(record, response),
            "gen_ai.response.finish_reasons": record.finish_reasons or _finish_reasons(response),
            "gen_ai.usage.input_tokens": record.input_tokens,
            "gen_ai.usage.output_tokens": record.output_tokens,
            "gen_ai.usage.cache_read.input_tokens": record.cached_input_tokens,
            "gen_ai.usage.cache_creation.input_tokens": record.cache_write_tokens,
            "gen_ai.usage.reasoning.output_tokens": record.reasoning_tokens,
            "gen_ai.response.time_to_first_chunk": (
                record.ttft_ms / 1000 if record.ttft_ms is not None else None),
            "server.address": address,
            "server.port": port,
            **_request_params(record.params or _stored_params(record.request)),
        }
        attributes.update(_openinference(record, attributes))
        name = f"chat {requested}" if requested else "chat"
        return name, {k: v for k, v in attributes.items() if v is not None}

    def _provider(self, name: str | None, url: str | None = None,
                  ) -> tuple[str, str | None, int | None]:
        """gen_ai.provider.name and server address for a provider named in trimtab.yaml
        (or, for instrument(), the URL its client calls). Worked out once per pair."""
        found = self._providers.get((name, url))
        if found is not None:
            return found
        kind, base_url = name, url
        spec = None
        try:
            ws = self._workspace()
            if ws is not None and name is not None and ws.project_file is not None:
                spec = ws.project.spec.providers.get(name)
        except TrimtabError:
            spec = None
        if spec is not None:
            kind, base_url = spec.kind, url or spec.base_url
        value = _PROVIDER_NAMES.get(kind or "", kind or "unknown")
        address = port = None
        if base_url:
            parts = urlsplit(base_url)
            address, port = parts.hostname, parts.port
            for domain, well_known in _HOST_PROVIDERS:
                if address and (address == domain or address.endswith("." + domain)):
                    value = well_known
                    break
            else:
                if kind == "openai" and address and address != "api.openai.com":
                    # An OpenAI-compatible server that is not OpenAI (vLLM, Ollama, a
                    # proxy): named after its trimtab.yaml entry, else its host.
                    value = name if spec is not None and name else address
        port = port or (None if address is None else 443 if base_url.startswith("https")
                        else 80)
        found = self._providers[(name, url)] = (value, address, port)
        return found

    def _system_kind(self, system: str) -> str | None:
        spec = self._declared(system)
        return spec.kind if spec is not None else None

    def _declared(self, system: str):
        """The system as trimtab.yaml declares it (Workspace.recent_project: no
        stat per call, the last good version through a broken edit)."""
        ws = self._workspace()
        try:
            project = ws.recent_project() if ws is not None else None
        except TrimtabError:  # broken before it was ever read: nothing is declared
            return None
        return project.spec.systems.get(system) if project is not None else None

    def _content_allowed(self, record: CallRecord) -> bool:
        """Content leaves only where the system itself keeps it in full."""
        if record.logging_mode != "full":
            return False
        spec = self._declared(record.system)
        return spec is None or spec.logging == "full"

    # --- lifecycle ----------------------------------------------------------

    def flush(self, timeout: float = 30.0) -> bool:
        return bool(self.provider.force_flush(int(timeout * 1000)))

    def close(self) -> None:
        """Export what is queued; shut the provider down if trimtab made it."""
        if self._closed:
            return
        self._closed = True
        ws = self._workspace()
        if ws is not None:
            ws.unsubscribe(self)
        if self.owned:
            self.provider.shutdown()
        else:
            self.flush()
        with _install_lock:
            if ws is not None and _installed.get(ws) is self:
                del _installed[ws]


def _trimtab_attributes(record: CallRecord) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "trimtab.system": record.system,
        "trimtab.env": record.env,
        "trimtab.release_id": record.release_id,
        "trimtab.route": record.route,
        "trimtab.call_id": record.id,
        "trimtab.source": record.source,
        "trimtab.provider": record.provider,
        "trimtab.cost_usd": (record.cost_micro_usd / 1_000_000
                             if record.cost_micro_usd is not None else None),
        "trimtab.attempts": record.attempt_count,
        "trimtab.fallback_used": record.fallback_used,
    }
    return {k: v for k, v in attributes.items() if v is not None}


def _openinference(record: CallRecord, genai: dict[str, Any]) -> dict[str, Any]:
    """The same call under the OpenInference names (Arize Phoenix, Arize AX): Phoenix
    reads cost only from ``llm.cost.*`` and shows $0 without it. The call log keeps
    one total, so only ``llm.cost.total`` is sent (no prompt/completion split is
    invented); an unpriced call sends none, so it shows as unknown, not as free."""
    tokens = (record.input_tokens, record.output_tokens)
    return {
        "openinference.span.kind": "LLM",
        "llm.system": genai["gen_ai.provider.name"],
        "llm.provider": genai["gen_ai.provider.name"],
        "llm.model_name": genai["gen_ai.response.model"] or genai["gen_ai.request.model"],
        "llm.token_count.prompt": record.input_tokens,
        "llm.token_count.completion": record.output_tokens,
        "llm.token_count.total": (sum(tokens) if None not in tokens else None),
        "llm.token_count.prompt_details.cache_read": record.cached_input_tokens,
        "llm.token_count.prompt_details.cache_write": record.cache_write_tokens,
        "llm.token_count.completion_details.reasoning": record.reasoning_tokens,
        "llm.cost.total": (record.cost_micro_usd / 1_000_000
                           if record.cost_micro_usd is not None else None),
    }


def _error_type(record: CallRecord) -> str:
    """Low-cardinality, as the conventions ask: the runtime's error kind, else the status."""
    if record.error_kind:
        return record.error_kind
    if record.http_status:
        return str(record.http_status)
    return "_OTHER"


def _response_id(record: CallRecord, response: dict[str, Any]) -> str | None:
    value = getattr(record, "response_id", None) or response.get("id")
    return value if isinstance(value, str) else None


_PARAMS = {"temperature": "gen_ai.request.temperature", "top_p": "gen_ai.request.top_p",
           "max_tokens": "gen_ai.request.max_tokens", "seed": "gen_ai.request.seed",
           "max_completion_tokens": "gen_ai.request.max_tokens", "top_k": "gen_ai.request.top_k",
           "frequency_penalty": "gen_ai.request.frequency_penalty",
           "presence_penalty": "gen_ai.request.presence_penalty",
           "n": "gen_ai.request.choice.count"}


def _stored_params(request: Any) -> Any:
    return request.get("params") if isinstance(request, dict) else None


def _request_params(params: Any) -> dict[str, Any]:
    if not isinstance(params, dict):
        return {}
    found = {name: params[key] for key, name in _PARAMS.items()
             if isinstance(params.get(key), int | float) and not isinstance(params[key], bool)}
    stop = params.get("stop")
    stop = [stop] if isinstance(stop, str) else stop
    if isinstance(stop, list) and stop and all(isinstance(s, str) for s in stop):
        found["gen_ai.request.stop_sequences"] = stop
    return found


def _finish_reasons(response: dict[str, Any]) -> list[str] | None:
    choices = response.get("choices")
    if not isinstance(choices, list):
        return None
    reasons = [c["finish_reason"] for c in choices
               if isinstance(c, dict) and isinstance(c.get("finish_reason"), str)]
    return reasons or None


def _attempt_attributes(attempt: Any) -> dict[str, Any]:
    if not isinstance(attempt, dict):
        return {}
    attributes = {
        "gen_ai.provider.name": attempt.get("provider"),
        "gen_ai.request.model": attempt.get("model"),
        "error.type": attempt.get("kind"),
        "http.response.status_code": attempt.get("status"),
        "trimtab.attempt.ok": attempt.get("ok"),
        "trimtab.attempt.latency_ms": attempt.get("latency_ms"),
        "trimtab.attempt.fallback": attempt.get("fallback"),
        "trimtab.attempt.retry": attempt.get("retry"),
    }
    return {k: v for k, v in attributes.items() if isinstance(v, str | bool | int | float)}


# --- content (opt-in): the conventions' message JSON ------------------------


def _content_attributes(record: CallRecord) -> dict[str, str]:
    attributes = {}
    if record.request is not None:
        attributes["gen_ai.input.messages"] = _json(_input_messages(record.request))
    if record.response is not None:
        attributes["gen_ai.output.messages"] = _json(_output_messages(record.response))
    return attributes


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _parts(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    if isinstance(content, list):
        parts = []
        for item in content:
            if isinstance(item, dict) and isinstance(item.get("text"), str):
                parts.append({"type": "text", "content": item["text"]})
            else:
                parts.append({"type": "text", "content": _json(item)})
        return parts
    return [{"type": "text", "content": _json(content)}]


def _tool_calls(message: dict[str, Any]) -> list[dict[str, Any]]:
    parts = []
    for call in message.get("tool_calls") or []:
        if not isinstance(call, dict):
            continue
        function = call.get("function") if isinstance(call.get("function"), dict) else {}
        arguments = function.get("arguments")
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except ValueError:
                pass
        parts.append({"type": "tool_call", "id": call.get("id"), "name": function.get("name"),
                      "arguments": arguments})
    return parts


def _input_messages(request: Any) -> list[dict[str, Any]]:
    messages = request.get("messages") if isinstance(request, dict) else request
    if isinstance(messages, list) and messages and all(
            isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages):
        return [{"role": m["role"], "parts": _parts(m.get("content")) + _tool_calls(m)}
                for m in messages]
    return [{"role": "user", "parts": _parts(request)}]


def _output_messages(response: Any) -> list[dict[str, Any]]:
    if isinstance(response, dict) and isinstance(response.get("role"), str):
        return [{"role": response["role"],
                 "parts": _parts(response.get("content")) + _tool_calls(response),
                 "finish_reason": "tool_call" if response.get("tool_calls") else "stop"}]
    if isinstance(response, dict) and isinstance(response.get("choices"), list):
        out = []
        for choice in response["choices"]:
            if not isinstance(choice, dict):
                continue
            message = choice.get("message") or {}
            out.append({"role": message.get("role", "assistant"),
                        "parts": _parts(message.get("content")) + _tool_calls(message),
                        "finish_reason": choice.get("finish_reason") or "stop"})
        return out
    return [{"role": "assistant", "parts": _parts(response), "finish_reason": "stop"}]


# --- installing ---------------------------------------------------------------

_installed: weakref.WeakKeyDictionary[Workspace, SpanExport] = weakref.WeakKeyDictionary()
_install_lock = threading.Lock()


def install_otel(
    ws: Workspace,
    *,
    endpoint: str | None = None,
    headers: Mapping[str, str] | None = None,
    capture_content: bool | None = None,
    tracer_provider: TracerProvider | None = None,
) -> SpanExport:
    """Export every call the workspace records as a span.

    ``endpoint`` is the full OTLP/HTTP traces URL (``http://collector:4318/v1/traces``);
    without it the standard OTEL_EXPORTER_OTLP_* variables apply. Pass the
    application's own ``tracer_provider`` to send trimtab's spans wherever its
    other spans go (trimtab then flushes it but never shuts it down).
    Idempotent per workspace.
    """
    with _install_lock:
        existing = _installed.get(ws)
        if existing is not None:
            return existing
        try:
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
        except ImportError:
            raise TrimtabError(
                "OpenTelemetry export needs the optional packages. "
                "Fix: pip install 'trimtab[otel]', or unset OTEL_EXPORTER_OTLP_ENDPOINT "
                "(or set TRIMTAB_OTEL=off) to run without it."
            ) from None
        if capture_content is None:
            capture_content = os.environ.get(CONTENT_VARIABLE, "").strip().lower() in _CONTENT_ON
        owned = tracer_provider is None
        if tracer_provider is None:
            tracer_provider = TracerProvider(resource=_resource(ws, Resource))
            tracer_provider.add_span_processor(BatchSpanProcessor(_exporter(endpoint, headers)))
        export = SpanExport(ws, tracer_provider, owned=owned, capture_content=capture_content)
        ws.subscribe(export, flush=export.flush, close=export.close)
        _installed[ws] = export
        return export


def install_from_env(ws: Workspace) -> SpanExport | None:
    """What ``trimtab.connect()`` calls: install when configured, warn when it cannot
    be, and never stop a workspace from opening over telemetry."""
    if not configured():
        return None
    try:
        return install_otel(ws)
    except TrimtabError as exc:
        log.warning("trimtab: OpenTelemetry export is off: %s", exc)
        return None


def _resource(ws: Workspace, resource_type):
    attributes = {}
    try:
        if ws.project_file is not None:
            attributes["trimtab.project.models"] = ws.project.spec.project
    except TrimtabError:
        pass
    resource = resource_type.create(attributes)
    if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
        resource = resource.merge(resource_type({"service.name": "trimtab"}))
    return resource


def _exporter(endpoint: str | None, headers: Mapping[str, str] | None):
    protocol = (os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
                or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf")
    if protocol.strip().lower() == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
                OTLPSpanExporter as GrpcExporter,
            )
        except ImportError:
            raise TrimtabError(
                "OTEL_EXPORTER_OTLP_PROTOCOL is grpc but trimtab exports OTLP over HTTP. "
                "Fix: set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf and point the endpoint at "
                "the collector's HTTP port (4318), or pip install "
                "opentelemetry-exporter-otlp-proto-grpc."
            ) from None
        return GrpcExporter(endpoint=endpoint, headers=dict(headers) if headers else None)
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        raise TrimtabError(
            "OpenTelemetry export needs opentelemetry-exporter-otlp-proto-http. "
            "Fix: pip install 'trimtab[otel]'."
        ) from None
    return OTLPSpanExporter(endpoint=endpoint, headers=dict(headers) if headers else None)
