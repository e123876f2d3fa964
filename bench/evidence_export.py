"""Evidence export at scale: a bundle of N calls written and verified, bounded memory.

    .venv/bin/python bench/evidence_export.py                    # 200,000 calls, both DBs
    .venv/bin/python bench/evidence_export.py --calls 50000 --skip-postgres

Writes N calls of one system (a few hundred bytes of redacted prompt and answer
each, times over the last day) straight into a fresh store with the store's own
bulk insert, then times ``trimtab.govern.evidence.export`` (every table as JSON
and CSV, streamed in batches, the manifest with each file's sha256; documents
left out: they do not grow with the call log) and ``verify`` (every file hashed
again). Reports rows/s (wall clock, and per CPU second: on a shared 2-core
machine the wall clock measures the neighbours), the bundle's size, and the
process's peak RSS growth during the export, which must stay flat as N grows
(rows are streamed, never held). Checks that the bundle holds exactly N calls
and verifies. Goals: >= 10,000 calls exported per CPU second, peak RSS growth
< 200 MB. Exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import databases
import report

GOAL_ROWS_PER_S = 10_000
GOAL_RSS_MB = 200
SYSTEM = "complaint-router"


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fill(store, calls: int) -> None:
    from trimtab.store import calls as call_store
    from trimtab.store.call_columns import CALL_COLUMNS
    from trimtab.store.ids import new_call_id

    start = datetime.now(UTC) - timedelta(days=1)
    step = timedelta(days=1) / calls
    base = {name: None for name in CALL_COLUMNS}
    batch = []
    for i in range(calls):
        row = dict(base, id=new_call_id(), time=start + step * i, system=SYSTEM,
                   env="production", release_id="r" * 64, source="sdk", route="primary",
                   provider="openai", model="gpt-4o-mini", status="ok", latency_ms=420.0 + i % 97,
                   input_tokens=180, output_tokens=40, cost_micro_usd=180, attempt_count=1,
                   fallback_used=False, user_id=f"u-{i % 1000}", tags='{"team":"quality"}',
                   logging_mode="redacted",
                   request=json.dumps({"text": f"Complaint {i}: the charger [EMAIL] sparks "
                                       "when plugged in and smells of smoke." * 3}),
                   response='{"team":"electrical","severity":"high","reason":"spark"}')
        batch.append([row[name] for name in CALL_COLUMNS])
        if len(batch) == 5000:
            with store.ingest() as conn:
                call_store.insert_many(conn, batch)
            batch = []
    if batch:
        with store.ingest() as conn:
            call_store.insert_many(conn, batch)


def run(label: str, url: str, calls: int, folder: Path) -> dict:
    from trimtab.govern import evidence
    from trimtab.store import Store

    store = Store(url)
    t0 = time.perf_counter()
    fill(store, calls)
    filled = time.perf_counter() - t0
    out = folder / f"bundle-{label}"
    before = rss_mb()
    t0, c0 = time.perf_counter(), time.process_time()
    bundle = evidence.export(store, SYSTEM, since=datetime.now(UTC) - timedelta(days=2),
                             out=out, actor="bench")
    exported, cpu = time.perf_counter() - t0, time.process_time() - c0
    growth = rss_mb() - before
    t0 = time.perf_counter()
    verdict = evidence.verify(out, expect=bundle.manifest_sha256)
    verified = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    store.dispose()
    return {"database": label, "calls": calls, "fill_s": filled, "export_s": exported,
            "rows_per_s": calls / exported, "cpu_s": cpu,
            "rows_per_cpu_s": calls / cpu, "verify_s": verified, "bundle_mb": size / 1e6,
            "rss_growth_mb": growth, "rows_in_bundle": bundle.rows["calls"],
            "verifies": verdict.ok}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--postgres", default=None)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        results.append(run("sqlite", databases.fresh_sqlite(folder), args.calls, folder))
        if not args.skip_postgres:
            url = databases.postgres_url(args.postgres)
            why = databases.postgres_reachable(url)
            if why:
                report.console.print(f"PostgreSQL skipped: {why}")
            else:
                results.append(run("postgresql", databases.fresh_postgres(url), args.calls,
                                   folder))
    report.show(f"evidence export of {args.calls:,} calls",
                ["database", "export s", "calls/s", "CPU s", "calls/CPU s", "verify s",
                 "bundle MB", "RSS growth MB", "complete", "verifies"],
                [[r["database"], r["export_s"], r["rows_per_s"], r["cpu_s"],
                  r["rows_per_cpu_s"], r["verify_s"], r["bundle_mb"],
                  r["rss_growth_mb"], r["rows_in_bundle"] == r["calls"], r["verifies"]]
                 for r in results],
                caption=f"goals: >= {GOAL_ROWS_PER_S:,} calls per CPU second, "
                        f"RSS growth < {GOAL_RSS_MB} MB")
    ok = all(r["rows_in_bundle"] == r["calls"] and r["verifies"]
             and r["rows_per_cpu_s"] >= GOAL_ROWS_PER_S and r["rss_growth_mb"] < GOAL_RSS_MB
             for r in results)
    report.write("evidence_export", {"results": results, "goals_met": ok})
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
