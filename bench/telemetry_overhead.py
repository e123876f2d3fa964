"""What Prometheus and OpenTelemetry add to recording one call, and what a scrape costs.

    .venv/bin/python bench/telemetry_overhead.py              # 20,000 calls per row
    .venv/bin/python bench/telemetry_overhead.py --calls 50000

Builds the example project in a temporary folder (SQLite store) and times
``ws.record(...)`` per call with ``perf_counter_ns`` after 1,000 warm-up calls:
with no observer, with the Prometheus observer, and with Prometheus plus
OpenTelemetry export, once to a live OTLP/HTTP sink on loopback (answers 200,
as a collector does) and once to a port where nothing listens (a collector
that is down: the batch processor drops spans, the call must not wait). The
observers alone are timed on prepared records too, and a ``GET /metrics``
body is rendered with 1,000 label sets in the registry. Goals: Prometheus adds
<= 5 us to the median ``ws.record``, Prometheus + OpenTelemetry <= 50 us (an LLM
call takes 100 ms or more; most of the span's cost is the OpenTelemetry SDK's).
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import report

INPUTS, OUTPUT = report.INPUTS, report.OUTPUT
timed, summary = report.timed, report.summary


class Sink(BaseHTTPRequestHandler):
    """An OTLP/HTTP endpoint that accepts everything (an empty response is valid)."""

    received = 0

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Sink.received += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    import trimtab
    from trimtab.project.scaffold import init_project
    from trimtab.recorder.records import CallRecord
    from trimtab.telemetry.otel import install_otel
    from trimtab.telemetry.prometheus import CallMetrics, install_prometheus, metrics_response

    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        os.environ.pop(name, None)
    # The exporter logs every failed retry against the down collector; that is the point.
    logging.getLogger("opentelemetry").setLevel(logging.CRITICAL)
    sink = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    sink_url = f"http://127.0.0.1:{sink.server_address[1]}/v1/traces"
    down_url = f"http://127.0.0.1:{closed_port()}/v1/traces"

    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="trimtab-telemetry-bench-") as tmp:
        root = Path(tmp)
        init_project(root)
        os.environ["TRIMTAB_SPOOL_DIR"] = str(root / "spool")
        url = f"sqlite:///{root / 'bench.db'}"

        def workspace(otel: str | None, prometheus: bool):
            ws = trimtab.connect(root, database_url=url)
            if prometheus:
                install_prometheus(ws)
            if otel:
                install_otel(ws, endpoint=otel)
            ws.active.get("complaint-router", "production")
            return ws

        def record_with(ws):
            def record(i: int) -> None:
                ws.record("complaint-router", INPUTS, OUTPUT, 41.5, model="sim-router-1",
                          user=f"user-{i % 50}", input_tokens=412, output_tokens=38,
                          cost_micro_usd=85)
            return record

        setups = [
            ("ws.record, no observer", None, False),
            ("ws.record + Prometheus", None, True),
            ("ws.record + Prometheus + OTel (collector up)", sink_url, True),
            ("ws.record + Prometheus + OTel (collector down)", down_url, True),
        ]
        for name, otel, prometheus in setups:
            ws = workspace(otel, prometheus)
            results[name] = summary(timed(record_with(ws), args.calls))
            ws.flush(120)
            ws.close()

        prepared = CallRecord(system="complaint-router", env="production", latency_ms=41.5,
                              model="sim-router-1", input_tokens=412, output_tokens=38,
                              cost_micro_usd=85, user_id="u1", request=INPUTS, response=OUTPUT)
        metrics = CallMetrics()
        results["  CallMetrics(record) alone"] = summary(
            timed(lambda i: metrics(prepared), args.calls))
        ws = trimtab.connect(root, database_url=url)
        export = install_otel(ws, endpoint=sink_url)
        results["  SpanExport(record) alone"] = summary(
            timed(lambda i: export(prepared), args.calls))
        ws.close()

        ws = trimtab.connect(root, database_url=url)
        registry = install_prometheus(ws)
        observer = ws.observers[-1]
        for i in range(1000):  # 10 systems x 10 releases x 10 models
            observer(CallRecord(system=f"system-{i % 10}", env="production", latency_ms=40,
                                release_id=f"{(i // 10) % 10:064x}", model=f"model-{i // 100}",
                                input_tokens=10, output_tokens=5, cost_micro_usd=3))
        body, _ = metrics_response(registry)
        scrape = [0.0] * 50
        for i in range(50):
            t0 = time.perf_counter_ns()
            metrics_response(registry)
            scrape[i] = (time.perf_counter_ns() - t0) / 1000
        ws.close()
    sink.shutdown()

    rows = [(name, r["median_us"], r["p90_us"], r["p99_us"], r["max_us"])
            for name, r in results.items()]
    report.show(f"Telemetry overhead per recorded call (us; {args.calls:,} timed calls after "
                "1,000 warm-up; SQLite store)", ["path", "median", "p90", "p99", "max"], rows,
                caption="goals: Prometheus adds <= 5 us, Prometheus + OTel <= 50 us "
                        "to the median ws.record")
    base = results["ws.record, no observer"]["median_us"]
    added_prometheus = results["ws.record + Prometheus"]["median_us"] - base
    added = results["ws.record + Prometheus + OTel (collector up)"]["median_us"] - base
    ok = added_prometheus <= 5 and added <= 50
    scrape_ms = report.median(scrape) / 1000
    report.console.print(
        f"added to the median: Prometheus {added_prometheus:.1f} us, Prometheus + OTel "
        f"{added:.1f} us; GET /metrics with 1,000 label sets: "
        f"{scrape_ms:.1f} ms median, {len(body) / 1024:.0f} KiB; OTLP requests the sink "
        f"received: {Sink.received:,}")
    report.write("telemetry_overhead", {
        "calls": args.calls, "results": results, "added_prometheus_median_us": added_prometheus,
        "added_prometheus_otel_median_us": added, "scrape_1000_series_ms": scrape_ms,
        "scrape_bytes": len(body), "otlp_requests": Sink.received,
        "goals_us": {"prometheus": 5, "prometheus_otel": 50}, "ok": ok,
    }, args.out)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
