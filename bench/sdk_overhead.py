"""SDK overhead of recording one call: `ws.record(...)` and `system.run(...)`.

    .venv/bin/python bench/sdk_overhead.py                    # 20,000 calls each
    .venv/bin/python bench/sdk_overhead.py --calls 50000
    TRIMTAB_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench \\
        .venv/bin/python bench/sdk_overhead.py

Builds the example project (``trimtab init``) in a temporary folder, releases
and promotes ``complaint-router``, then times each call with
``perf_counter_ns`` after 1,000 warm-up calls. The recorder's background
writer runs as it does in an application (inserting into the store while
calls are made), so its share of the GIL is in the numbers. Compared in the
same run with what a team would otherwise write: a ``logging`` call of the same
record as JSON to a file (``FileHandler``, which also hands every line to the
kernel), and the two steps of ``record`` on their own (building the record and
its JSON line; the spool append). ``system.run`` is timed with the simulated
provider set to zero latency, so what is left is trimtab's own work: active
release lookup, prompt rendering, redaction, cost, the record. Goal: median
``record`` <= 50 us. At the end it checks every call reached the store.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import report

INPUTS, OUTPUT = report.INPUTS, report.OUTPUT
timed, summary = report.timed, report.summary


def zero_latency(project_dir: Path) -> None:
    path = project_dir / "trimtab.yaml"
    text = path.read_text()
    path.write_text(text.replace("latency: {median_ms: 40, p95_ms: 120}",
                                 "latency: {median_ms: 0, p95_ms: 0}"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--database-url", default=os.environ.get("TRIMTAB_BENCH_DATABASE_URL"))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    import trimtab
    from trimtab.project.scaffold import init_project
    from trimtab.recorder.records import CallRecord

    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="trimtab-sdk-bench-") as tmp:
        root = Path(tmp)
        init_project(root)
        zero_latency(root)
        os.environ["TRIMTAB_SPOOL_DIR"] = str(root / "spool")
        url = args.database_url or f"sqlite:///{root / 'bench.db'}"
        if args.database_url:
            from trimtab.store import Store
            from trimtab.store.schema import metadata

            store = Store(url)
            metadata.drop_all(store.engine)
            store.dispose()
        ws = trimtab.connect(root, database_url=url)
        release, _ = ws.release("complaint-router")
        for env in ws.project.environments:  # in order, as a release reaches production
            ws.promote("complaint-router", release.id, env)
        ws.active.get("complaint-router", "production")  # the cache is warm, as in a service

        def record(i: int) -> None:
            ws.record("complaint-router", INPUTS, OUTPUT, 41.5, model="sim-router-1",
                      user=f"user-{i % 50}", input_tokens=412, output_tokens=38,
                      cost_micro_usd=85)

        results["ws.record(...)"] = summary(timed(record, args.calls))
        recorded = args.calls + 1000

        def build(i: int) -> None:
            CallRecord(system="complaint-router", env="production", latency_ms=41.5,
                       release_id=release.id, source="record", model="sim-router-1",
                       user_id=f"user-{i % 50}", request=INPUTS, response=OUTPUT,
                       input_tokens=412, output_tokens=38, cost_micro_usd=85).to_line()

        results["  CallRecord(...).to_line() alone"] = summary(timed(build, args.calls))
        prepared = [CallRecord(system="complaint-router", env="production", latency_ms=41.5,
                               release_id=release.id, source="record", model="sim-router-1",
                               request=INPUTS, response=OUTPUT)
                    for _ in range(args.calls + 1000)]
        recorder, fresh = ws.recorder, iter(prepared)
        results["  Recorder.record(prepared) alone"] = summary(
            timed(lambda i: recorder.record(next(fresh)), args.calls))
        recorded += args.calls + 1000

        run_path = hasattr(ws, "system")
        if run_path:
            router = ws.system("complaint-router", "production")
            results["system.run(vars), simulated 0 ms"] = summary(
                timed(lambda i: router.run(INPUTS, user=f"user-{i % 50}"), args.calls))
            recorded += args.calls + 1000

        # The plain alternative: one JSON log line per call through `logging`.
        logger = logging.getLogger("bench.calls")
        logger.propagate = False
        handler = logging.FileHandler(root / "calls.log")
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)

        def log_call(i: int) -> None:
            logger.info(json.dumps({
                "system": "complaint-router", "env": "production", "latency_ms": 41.5,
                "model": "sim-router-1", "user": f"user-{i % 50}", "input_tokens": 412,
                "output_tokens": 38, "request": INPUTS, "response": OUTPUT,
                "time": time.time()}))

        results["peer: logging.info(json line) to a file"] = summary(timed(log_call, args.calls))
        handler.close()

        t0 = time.perf_counter()
        flushed = ws.flush(120)
        flush_s = time.perf_counter() - t0
        stats = ws.recorder.stats()
        from trimtab.store import calls as call_store

        with ws.store.read() as conn:
            stored = call_store.count(conn)
        ws.close()

    rows = [(name, r["median_us"], r["p90_us"], r["p99_us"], r["max_us"])
            for name, r in results.items()]
    report.show(
        f"SDK overhead per call (us; {args.calls:,} timed calls after 1,000 warm-up; "
        f"{'PostgreSQL' if args.database_url else 'SQLite'} store)",
        ["path", "median", "p90", "p99", "max"], rows,
        caption="goal: ws.record median <= 50 us",
    )
    complete = flushed and stored == recorded
    report.console.print(
        f"recorded {recorded:,}, in the store after flush: {stored:,} "
        f"({'all' if complete else 'MISSING'}; flush took {flush_s:.2f} s); recorder {stats}"
        + ("" if run_path else "; ws.system(...).run not available yet"))
    median = results["ws.record(...)"]["median_us"]
    report.write("sdk_overhead", {
        "calls": args.calls, "database": "postgresql" if args.database_url else "sqlite",
        "results": results, "recorded": recorded, "stored": stored, "flushed": flushed,
        "flush_seconds": flush_s, "recorder": stats, "goal_median_us": 50,
        "ok": median <= 50 and complete,
    }, args.out)
    return 0 if median <= 50 and complete else 1


if __name__ == "__main__":
    sys.exit(main())
