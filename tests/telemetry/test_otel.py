"""OpenTelemetry: recorded calls arrive as GenAI spans at a real OTLP/HTTP receiver."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime, timedelta

import pytest
from opentelemetry.sdk.trace import TracerProvider

import trimtab
from tests.helpers import edit, promote_through
from tests.helpers.otlp_receiver import OtlpReceiver
from trimtab import install_otel
from trimtab.recorder.records import CallRecord
from trimtab.telemetry.otel import SpanExport, configured

SYSTEM = "complaint-router"
OTEL_VARIABLES = (
    "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_COMPRESSION", "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES", "OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "TRIMTAB_OTEL",
    "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
)


@pytest.fixture(autouse=True)
def _no_ambient_otel(monkeypatch):
    for name in OTEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def receiver():
    with OtlpReceiver() as running:
        yield running


@pytest.fixture
def traced(project_dir, database_url, receiver, monkeypatch):
    """A workspace opened the usual way, with the OTLP endpoint in the environment."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.base_url)
    ws = trimtab.connect(project_dir, database_url=database_url)
    release, _ = ws.release(SYSTEM)
    promote_through(ws, SYSTEM, release.id, "production")
    yield ws, release
    ws.close()


def ns(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) * 1000


def test_a_recorded_call_is_a_genai_client_span(traced, receiver):
    ws, release = traced
    call_id = ws.record(SYSTEM, {"text": "the seal leaks"}, {"team": "packaging"}, 412.5,
                        model="sim-router-1", provider="simulated", user="alice@corp.example",
                        tags={"customer": "acme-42"}, input_tokens=120, output_tokens=30,
                        cached_input_tokens=100, cost_micro_usd=1500, ttft_ms=95.0)
    assert ws.flush()
    [span] = receiver.wait_for(1)

    assert span.name == "chat sim-router-1"
    assert span.kind == "SPAN_KIND_CLIENT"
    assert span.status_code == "STATUS_CODE_UNSET"
    assert span.scope == "trimtab"
    a = span.attributes
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.provider.name"] == a["gen_ai.system"] == "trimtab.simulated"
    assert a["gen_ai.request.model"] == a["gen_ai.response.model"] == "sim-router-1"
    assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"]) == (120, 30)
    assert a["gen_ai.usage.cache_read.input_tokens"] == 100
    assert a["gen_ai.response.time_to_first_chunk"] == pytest.approx(0.095)
    assert a["trimtab.system"] == SYSTEM and a["trimtab.env"] == "production"
    assert a["trimtab.release_id"] == release.id and a["trimtab.route"] == "primary"
    assert a["trimtab.call_id"] == call_id
    assert a["trimtab.cost_usd"] == pytest.approx(0.0015)
    assert a["trimtab.attempts"] == 1 and a["trimtab.fallback_used"] is False
    assert span.resource["service.name"] == "trimtab"
    assert span.resource["trimtab.project.models"] == "project"

    # The span starts when the call did and lasts exactly as long as it took.
    stored = ws.call(call_id)
    assert span.start_ns == ns(stored.time)
    assert span.end_ns - span.start_ns == 412_500_000

    # Content, user ids and tags stay home unless someone opts in.
    exported = json.dumps(a) + json.dumps(span.resource)
    for private in ("seal leaks", "packaging", "alice", "acme-42"):
        assert private not in exported
    assert not any(key.startswith("gen_ai.input") or key.startswith("gen_ai.output")
                   for key in a)


def test_phoenix_reads_cost_and_tokens_under_the_openinference_names(traced, receiver):
    ws, _ = traced
    ws.record(SYSTEM, "q", "a", 300, model="sim-router-1", provider="simulated",
              input_tokens=120, output_tokens=30, cached_input_tokens=100,
              cost_micro_usd=1500)
    ws.record(SYSTEM, "q", "a", 100, model="sim-router-1", provider="simulated",
              input_tokens=5, output_tokens=1)  # unpriced
    ws.flush()
    priced, unpriced = sorted(receiver.wait_for(2), key=lambda s: -(s.end_ns - s.start_ns))
    a = priced.attributes
    assert a["openinference.span.kind"] == "LLM"
    assert a["llm.cost.total"] == pytest.approx(0.0015) == a["trimtab.cost_usd"]
    assert (a["llm.token_count.prompt"], a["llm.token_count.completion"],
            a["llm.token_count.total"]) == (120, 30, 150)
    assert a["llm.token_count.prompt_details.cache_read"] == 100
    assert a["llm.model_name"] == "sim-router-1"
    assert a["llm.provider"] == "trimtab.simulated"
    # Unknown cost stays unknown: Phoenix must not show it as $0.
    assert "llm.cost.total" not in unpriced.attributes
    assert unpriced.attributes["llm.token_count.total"] == 6


def test_a_failed_call_is_an_error_span_with_a_low_cardinality_type(traced, receiver):
    ws, _ = traced
    ws.record(SYSTEM, {"text": "slow"}, None, 30_000, status="error", error_kind="timeout",
              error="upstream 10.0.0.7 timed out for customer acme-42", model="sim-router-1")
    ws.record(SYSTEM, {"text": "odd"}, None, 12, status="error", http_status=418)
    ws.flush()
    first, second = sorted(receiver.wait_for(2), key=lambda s: s.end_ns - s.start_ns,
                           reverse=True)
    assert first.status_code == "STATUS_CODE_ERROR"
    assert first.attributes["error.type"] == first.status_message == "timeout"
    assert "gen_ai.response.model" not in first.attributes  # nothing answered
    assert first.attributes["gen_ai.request.model"] == "sim-router-1"
    assert second.attributes["error.type"] == "418"
    assert second.name == "chat"  # no model known
    assert second.attributes["gen_ai.provider.name"] == "unknown"


def test_retries_and_fallbacks_show_as_attempt_events(traced, receiver):
    ws, release = traced
    ws.emit(CallRecord(
        system=SYSTEM, env="production", latency_ms=950, release_id=release.id,
        route="canary", provider="simulated", model="sim-router-small", fallback_used=True,
        attempt_count=2, attempts=[
            {"provider": "simulated", "model": "sim-router-1", "ok": False, "kind": "server",
             "status": 503, "latency_ms": 700.0, "fallback": 0, "retry": 0,
             "message": "overloaded"},
            {"provider": "simulated", "model": "sim-router-small", "ok": True, "kind": None,
             "status": 200, "latency_ms": 240.0, "fallback": 1, "retry": 0, "message": None},
        ]))
    ws.flush()
    [span] = receiver.wait_for(1)
    assert span.name == "chat sim-router-1"  # what was asked for
    assert span.attributes["gen_ai.response.model"] == "sim-router-small"  # what answered
    assert span.attributes["trimtab.fallback_used"] is True
    assert span.attributes["trimtab.route"] == "canary"
    assert [name for name, _ in span.events] == ["trimtab.attempt", "trimtab.attempt"]
    failed, answered = (attributes for _, attributes in span.events)
    assert failed["error.type"] == "server" and failed["http.response.status_code"] == 503
    assert failed["trimtab.attempt.ok"] is False and "message" not in json.dumps(failed)
    assert answered["gen_ai.request.model"] == "sim-router-small"
    assert answered["trimtab.attempt.fallback"] == 1
    # Each attempt's event at its own end, not all at the span's end.
    assert span.event_ns == [span.start_ns + 700_000_000, span.start_ns + 940_000_000]


def test_content_is_exported_only_for_full_logging_and_an_explicit_opt_in(
        project_dir, database_url, receiver, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.base_url)
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    request = {"messages": [{"role": "system", "content": "Route complaints."},
                            {"role": "user", "content": "The seal leaks."}]}
    answer = {"role": "assistant", "content": '{"team": "packaging"}'}
    with trimtab.connect(project_dir, database_url=database_url) as ws:
        ws.record(SYSTEM, request, answer, 100, model="sim-router-1")  # logging: redacted
    edit(project_dir / "trimtab.yaml", "logging: redacted", "logging: full")
    with trimtab.connect(project_dir, database_url=database_url) as ws:
        ws.record(SYSTEM, request, answer, 200, model="sim-router-1")
    redacted, full = sorted(receiver.wait_for(2), key=lambda s: s.end_ns - s.start_ns)

    assert "seal" not in json.dumps(redacted.attributes)
    assert json.loads(full.attributes["gen_ai.input.messages"]) == [
        {"role": "system", "parts": [{"type": "text", "content": "Route complaints."}]},
        {"role": "user", "parts": [{"type": "text", "content": "The seal leaks."}]},
    ]
    assert json.loads(full.attributes["gen_ai.output.messages"]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": '{"team": "packaging"}'}],
         "finish_reason": "stop"},
    ]


def test_an_sdk_call_exports_what_the_runtime_measured(traced, receiver):
    ws, release = traced
    result = ws.system(SYSTEM).run(
        {"customer": "ACME", "product": "K-200", "text": "The charger sparks."})
    ws.flush()
    [span] = receiver.wait_for(1)
    assert span.name == f"chat {result.model}"
    a = span.attributes
    assert a["trimtab.call_id"] == result.call_id and a["trimtab.release_id"] == release.id
    assert a["gen_ai.usage.input_tokens"] == result.usage.input_tokens
    assert a["gen_ai.usage.output_tokens"] == result.usage.output_tokens
    stored = ws.call(result.call_id)  # the call log keeps whole micro-dollars
    assert a["trimtab.cost_usd"] == stored.cost_micro_usd / 1_000_000 > 0
    assert a["gen_ai.provider.name"] == "trimtab.simulated"
    assert "ACME" not in json.dumps(a)


def test_the_span_nests_under_the_application_span(traced, receiver):
    ws, _ = traced
    app = TracerProvider().get_tracer("ticket-service")
    with app.start_as_current_span("POST /tickets") as parent:
        ws.record(SYSTEM, "q", "a", 50, model="sim-router-1")
    ws.flush()
    [span] = receiver.wait_for(1)
    context = parent.get_span_context()
    assert span.trace_id == f"{context.trace_id:032x}"
    assert span.parent_span_id == f"{context.span_id:016x}"


def test_headers_compression_and_service_name_come_from_the_standard_variables(
        project_dir, database_url, receiver, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", receiver.endpoint)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")  # traces var wins
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=quality-team")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "ticket-service")
    with trimtab.connect(project_dir, database_url=database_url) as ws:
        ws.record(SYSTEM, "q", "a", 50, model="sim-router-1")
        ws.flush()
        [span] = receiver.wait_for(1)
    assert receiver.requests[0]["content-encoding"] == "gzip"
    assert receiver.requests[0]["x-tenant"] == "quality-team"
    assert span.resource["service.name"] == "ticket-service"


def test_a_collector_that_rejects_spans_never_fails_a_call(project_dir, database_url,
                                                           monkeypatch):
    with OtlpReceiver(status=400) as rejecting:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rejecting.base_url)
        ws = trimtab.connect(project_dir, database_url=database_url)
        ids = [ws.record(SYSTEM, "q", "a", 10 + i, model="sim-router-1") for i in range(20)]
        ws.flush()
        rejecting.wait_for(20)  # they were sent, and refused
        ws.close()
    with trimtab.connect(project_dir, database_url=database_url) as reopened:
        assert {c.id for c in reopened.calls(limit=100)} == set(ids)


def test_export_is_installed_only_when_configured(project_dir, database_url, receiver,
                                                  monkeypatch):
    def exporters(ws) -> int:
        return sum(isinstance(o, SpanExport) for o in ws.observers)

    with trimtab.connect(project_dir, database_url=database_url) as ws:
        assert exporters(ws) == 0
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.base_url)
    for veto, value in (("TRIMTAB_OTEL", "off"), ("OTEL_SDK_DISABLED", "true"),
                        ("OTEL_TRACES_EXPORTER", "none")):
        monkeypatch.setenv(veto, value)
        assert not configured()
        with trimtab.connect(project_dir, database_url=database_url) as ws:
            assert exporters(ws) == 0
        monkeypatch.delenv(veto)
    with trimtab.connect(project_dir, database_url=database_url) as ws:
        export = install_otel(ws)  # already installed by connect: the same one
        assert exporters(ws) == 1 and export.owned
    assert export not in ws.observers  # close() took it out


def test_an_application_provider_is_used_and_flushed_but_not_shut_down(ws, receiver):
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(receiver.endpoint)))
    export = install_otel(ws, tracer_provider=provider)
    ws.record(SYSTEM, "q", "a", 50, model="sim-router-1")
    ws.close()
    [span] = receiver.wait_for(1)
    assert span.name == "chat sim-router-1" and not export.owned
    provider.get_tracer("app").start_span("still alive").end()  # not shut down
    provider.force_flush()
    assert [s.name for s in receiver.wait_for(2)][1] == "still alive"
    provider.shutdown()


def test_missing_packages_or_grpc_give_a_fix_and_never_block_connect(
        project_dir, database_url, receiver, monkeypatch, caplog):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.base_url)
    with trimtab.connect(project_dir, database_url=database_url) as ws:
        with pytest.raises(trimtab.TrimtabError, match="OTEL_EXPORTER_OTLP_PROTOCOL=http/proto"):
            install_otel(ws)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_PROTOCOL")

    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)  # as if not installed
    with caplog.at_level(logging.WARNING, logger="trimtab.telemetry.otel"):
        with trimtab.connect(project_dir, database_url=database_url) as ws:
            assert ws.observers == []
            ws.record(SYSTEM, "q", "a", 50)  # calls are recorded all the same
            with pytest.raises(trimtab.TrimtabError, match=r"pip install 'trimtab\[otel\]'"):
                install_otel(ws)
    assert "trimtab[otel]" in caplog.text


def test_provider_names_follow_the_endpoint_and_classic_models_are_predictions(
        project_dir, database_url, receiver, monkeypatch):
    project = project_dir / "trimtab.yaml"
    edit(project, "providers: {}", "providers:\n  azure:\n    kind: openai\n"
         "    base_url: https://acme.openai.azure.com:8443/openai/v1\n"
         "    api_key_env: AZURE_OPENAI_API_KEY\n")
    (project_dir / "models").mkdir()
    (project_dir / "models" / "churn.joblib").write_bytes(b"not really a model")
    project.write_text(project.read_text() + (
        "  churn:\n    description: Which customers may leave.\n    owner: data@example.com\n"
        "    kind: classic\n    tier: 3\n    risk: minimal\n"
        "    release:\n      artefacts:\n        model: models/churn.joblib\n"))
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.base_url)
    with trimtab.connect(project_dir, database_url=database_url) as ws:
        ws.record(SYSTEM, "q", "a", 300, provider="azure", model="gpt-4o-mini")
        ws.record("churn", {"tenure_months": 3}, {"churn": 0.82}, 4)
        ws.flush()
        chat, predict = sorted(receiver.wait_for(2), key=lambda s: -(s.end_ns - s.start_ns))
    assert chat.attributes["gen_ai.provider.name"] == "azure.ai.openai"
    assert chat.attributes["server.address"] == "acme.openai.azure.com"
    assert chat.attributes["server.port"] == 8443
    assert chat.attributes["trimtab.provider"] == "azure"
    assert predict.name == "predict churn" and predict.kind == "SPAN_KIND_CLIENT"
    assert not any(key.startswith("gen_ai.") for key in predict.attributes)
    assert predict.attributes["trimtab.system"] == "churn"


def test_sdk_spans_carry_request_params_response_id_and_finish_reasons(traced, receiver):
    ws, _ = traced
    result = ws.system(SYSTEM).run(
        {"customer": "ACME", "product": "K-200", "text": "The charger sparks."},
        params={"temperature": 0.2, "max_tokens": 64, "top_p": 0.9, "stop": ["END"]})
    ws.flush()
    [span] = receiver.wait_for(1)
    a = span.attributes
    assert (a["gen_ai.request.temperature"], a["gen_ai.request.max_tokens"],
            a["gen_ai.request.top_p"]) == (0.2, 64, 0.9)
    assert a["gen_ai.request.stop_sequences"] == ["END"]
    assert a["gen_ai.response.id"] == result.response.id
    assert a["gen_ai.response.finish_reasons"] == [result.finish_reason] == ["stop"]


def test_instrumented_client_spans_name_the_requested_model_and_the_real_server(
        traced, receiver):
    import asyncio
    import threading

    import openai

    from tests.helpers.mock_upstream import MockUpstream

    ws, _ = traced
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    mock = MockUpstream(reply="Route to packaging.", model="gpt-4o-mini-2024-07-18")
    asyncio.run_coroutine_threadsafe(mock.__aenter__(), loop).result(5)
    try:
        client = trimtab.instrument(
            openai.OpenAI(base_url=mock.base_url, api_key="sk-test", max_retries=0),
            SYSTEM, workspace=ws)
        messages = [{"role": "user", "content": "hi"}]
        client.chat.completions.create(model="gpt-4o-mini", messages=messages,
                                       temperature=0.3, max_tokens=40, seed=7)
        mock.plan(500)
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(model="gpt-4o-mini", messages=messages)
        ws.flush()
        spans = receiver.wait_for(2)
    finally:
        asyncio.run_coroutine_threadsafe(mock.__aexit__(None, None, None), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
    [ok] = [s for s in spans if s.status_code == "STATUS_CODE_UNSET"]
    [failed] = [s for s in spans if s.status_code == "STATUS_CODE_ERROR"]
    assert ok.name == failed.name == "chat gpt-4o-mini"  # the model asked for, both ways
    assert ok.attributes["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    port = int(mock.base_url.split(":")[2].split("/")[0])
    for span in (ok, failed):
        a = span.attributes
        assert a["gen_ai.provider.name"] == "127.0.0.1"  # not openai: it is not OpenAI's API
        assert (a["server.address"], a["server.port"]) == ("127.0.0.1", port)
    a = ok.attributes
    assert (a["gen_ai.request.temperature"], a["gen_ai.request.max_tokens"],
            a["gen_ai.request.seed"]) == (0.3, 40, 7)
    assert a["gen_ai.response.id"] == "chatcmpl-mock"
    assert a["gen_ai.response.finish_reasons"] == ["stop"]
    assert failed.attributes["error.type"] == "server"
    # The call log keeps the params with the request (the system logs redacted text).
    stored = [c for c in ws.calls() if c.status == "ok"][0]
    request = stored.request if isinstance(stored.request, dict) else json.loads(stored.request)
    assert request["params"] == {"temperature": 0.3, "max_tokens": 40, "seed": 7}
