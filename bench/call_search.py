"""The call explorer's text search: a bounded LIKE scan, timed against the scan bound.

    .venv/bin/python bench/call_search.py                    # 200,000 calls, both DBs
    .venv/bin/python bench/call_search.py --calls 50000 --skip-postgres

Why a bounded scan rather than a full-text index (SQLite FTS5, PostgreSQL
tsvector): an index would be written on every recorded call (the hot path's
batched inserts), would need its own upkeep under retention and monthly
partitions, and FTS tokenisers miss the substrings people search a call log for
(an order id inside a JSON string, part of an error code). The explorer instead
searches the stored request, response and error of the newest
``trimtab.store.calls.SEARCH_SCAN`` calls that the other filters keep (system,
env, time range narrow it), with a case-insensitive LIKE.

This writes N calls of about 600 bytes of stored prompt and answer each over the
last day, then times ``Workspace.calls(text=...)`` for a term in every call (the
page fills at once), a term in none (the worst case: the whole bound is read)
and a term in one call in a thousand, at scan bounds from 5,000 up to every call.
The statistics are gathered first (ANALYZE, as autovacuum does after a bulk load;
without them PostgreSQL sorts the whole log). Reports the median of 5 runs in
milliseconds. Goal: the worst case at the
default bound under 1 s (a page's budget is 200 ms for everything else; a search
is asked for on purpose). Exits 1 when the goal is missed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import databases
import report
from sqlalchemy import text

SYSTEM = "complaint-router"
GOAL_MS = 1000
RUNS = 5


def fill(store, calls: int) -> None:
    from trimtab.store import calls as call_store
    from trimtab.store.call_columns import CALL_COLUMNS
    from trimtab.store.ids import new_call_id

    start = datetime.now(UTC) - timedelta(days=1)
    step = timedelta(days=1) / calls
    base = {name: None for name in CALL_COLUMNS}
    batch = []
    for i in range(calls):
        rare = " order ZX-4711" if i % 1000 == 0 else ""
        row = dict(base, id=new_call_id(), time=start + step * i, system=SYSTEM,
                   env="production", release_id="r" * 64, source="sdk", route="primary",
                   provider="openai", model="gpt-4o-mini", status="ok", latency_ms=420.0,
                   input_tokens=180, output_tokens=40, cost_micro_usd=180, attempt_count=1,
                   fallback_used=False, user_id=f"u-{i % 1000}", logging_mode="redacted",
                   request=json.dumps({"messages": [{"role": "user", "content": (
                       f"Complaint {i}: the charger [EMAIL] sparks when plugged in and "
                       f"smells of smoke.{rare} ") * 4}]}),
                   response='{"team":"electrical","severity":"high","reason":"spark"}')
        batch.append([row[name] for name in CALL_COLUMNS])
        if len(batch) == 5000:
            with store.ingest() as conn:
                call_store.insert_many(conn, batch)
            batch = []
    if batch:
        with store.ingest() as conn:
            call_store.insert_many(conn, batch)


def timed_ms(fn) -> float:
    samples = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return report.median(samples)


def run(label: str, url: str, calls: int) -> list[dict]:
    from trimtab.store import Store
    from trimtab.store import calls as call_store

    store = Store(url)
    fill(store, calls)
    with store.write() as conn:  # the statistics autovacuum gathers after a bulk load
        conn.execute(text("ANALYZE"))
    rows = []
    for scan in sorted({5_000, call_store.SEARCH_SCAN, 100_000, calls}):
        if scan > calls:
            continue
        for term, what in (("sparks", "in every call"), ("ZX-4711", "1 in 1,000"),
                           ("no-such-text", "in none")):
            found: list = []

            def search(scan=scan, term=term, found=found):
                with store.read() as conn:
                    found[:] = call_store.query(conn, system=SYSTEM, text=term, scan=scan,
                                                limit=100)
            ms = timed_ms(search)
            rows.append({"database": label, "scan": scan, "term": what, "ms": ms,
                         "found": len(found),
                         "default_bound": scan == call_store.SEARCH_SCAN})
    store.dispose()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--postgres", default=None)
    args = parser.parse_args()
    results: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        results += run("sqlite", databases.fresh_sqlite(Path(tmp)), args.calls)
        if not args.skip_postgres:
            url = databases.postgres_url(args.postgres)
            why = databases.postgres_reachable(url)
            if why:
                report.console.print(f"PostgreSQL skipped: {why}")
            else:
                results += run("postgresql", databases.fresh_postgres(url), args.calls)
    report.show(f"call search over {args.calls:,} calls (median of {RUNS}, ms)",
                ["database", "calls scanned at most", "term", "ms", "found (limit 100)"],
                [[r["database"], r["scan"], r["term"], r["ms"], r["found"]] for r in results],
                caption=f"goal: the worst case at the default bound under {GOAL_MS} ms")
    ok = all(r["ms"] < GOAL_MS for r in results if r["default_bound"])
    report.write("call_search", {"calls": args.calls, "results": results, "goals_met": ok})
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
