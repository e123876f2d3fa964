"""A real OTLP/HTTP trace receiver on loopback, for tests.

It speaks the wire protocol an OpenTelemetry Collector speaks on port 4318:
POST /v1/traces with a protobuf ExportTraceServiceRequest, maybe gzip- or
deflate-compressed, answered with a protobuf ExportTraceServiceResponse. What
it received is decoded into plain dicts so tests assert on names, kinds,
attributes, status and timestamps as a backend would see them.
"""

from __future__ import annotations

import gzip
import threading
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status


@dataclass
class ReceivedSpan:
    name: str
    kind: str  # SPAN_KIND_CLIENT, ...
    trace_id: str
    span_id: str
    parent_span_id: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    status_code: str  # STATUS_CODE_UNSET | STATUS_CODE_OK | STATUS_CODE_ERROR
    status_message: str
    events: list[tuple[str, dict[str, Any]]]
    resource: dict[str, Any]
    scope: str
    event_ns: list[int] = field(default_factory=list)  # each event's own time


@dataclass
class OtlpReceiver:
    """``with OtlpReceiver() as receiver:`` then point the exporter at ``receiver.endpoint``."""

    status: int = 200  # answer every export with this (e.g. 400 to reject them)
    spans: list[ReceivedSpan] = field(default_factory=list)
    requests: list[dict[str, str]] = field(default_factory=list)  # the headers of each POST

    def __post_init__(self):
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                encoding = self.headers.get("Content-Encoding", "")
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                if self.path != "/v1/traces":
                    self.send_error(404)
                    return
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                receiver._received(dict(self.headers), request)
                if receiver.status != 200:
                    self.send_error(receiver.status)
                    return
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):  # keep test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def endpoint(self) -> str:
        return f"{self.base_url}/v1/traces"

    def __enter__(self) -> OtlpReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _received(self, headers: dict[str, str], request: ExportTraceServiceRequest) -> None:
        decoded = []
        for resource_spans in request.resource_spans:
            resource = _attributes(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    decoded.append(_span(span, resource, scope_spans.scope.name))
        with self._changed:
            self.requests.append({k.lower(): v for k, v in headers.items()})
            self.spans.extend(decoded)
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = 20.0) -> list[ReceivedSpan]:
        """The spans once at least ``count`` arrived; fails the test when they do not."""
        with self._changed:
            arrived = self._changed.wait_for(lambda: len(self.spans) >= count, timeout)
            assert arrived, f"expected {count} spans, received {len(self.spans)}"
            return list(self.spans)


def _span(span: Span, resource: dict[str, Any], scope: str) -> ReceivedSpan:
    return ReceivedSpan(
        name=span.name,
        kind=Span.SpanKind.Name(span.kind),
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        parent_span_id=span.parent_span_id.hex(),
        start_ns=span.start_time_unix_nano,
        end_ns=span.end_time_unix_nano,
        attributes=_attributes(span.attributes),
        status_code=Status.StatusCode.Name(span.status.code),
        status_message=span.status.message,
        events=[(e.name, _attributes(e.attributes)) for e in span.events],
        resource=resource,
        scope=scope,
        event_ns=[e.time_unix_nano for e in span.events],
    )


def _attributes(pairs) -> dict[str, Any]:
    return {pair.key: _value(pair.value) for pair in pairs}


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return _attributes(value.kvlist_value.values)
    return getattr(value, kind) if kind else None
