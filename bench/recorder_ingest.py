"""Recorder ingest: records per second from the spool into SQLite and PostgreSQL.

    .venv/bin/python bench/recorder_ingest.py                  # 200,000 records, both DBs
    .venv/bin/python bench/recorder_ingest.py --records 50000 --skip-postgres

Two ways, each on a fresh database:

- **backlog**: N records are already in a spool segment (as after an outage,
  or a process killed under load); a new ``Recorder`` adopts the segment and
  the clock runs until ``flush()`` returns. This is the writer alone: read the
  spool, parse, insert calls, fold the rollups, checkpoint.
- **live**: one thread calls ``recorder.record()`` N times as fast as it can
  while the writer drains; the clock runs from the first record to
  ``flush()`` returning.

Each with both writers: ``thread`` (the SDK's default: the writer shares this
process's GIL) and ``process`` (the gateway's: a child process drains the
spool on the other core).

The records look like a team's traffic: 5 systems with uneven shares, each
with its own model (3% of calls served by a fallback model, 10-20% by a canary
release on two of them), 200 end users per system (1,000 in all), a team tag,
a 2% error rate, a 1% unknown cost, redacted prompt/response text of a few
hundred bytes, times spread over the last hour. Every call names a user, so
each batch also writes per-user hour and day rollup rows. Then it checks nothing was
lost or doubled: the calls table holds exactly N rows, and the minute, hour
and day rollups each add up to N calls and to the exact token and cost totals
written; the user rollups add up to N too. Goal: >= 20,000 records/s into
each database. Exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import databases
import report

GOAL = 20_000
# name, share of traffic, primary model, fallback model, canary share, team
SYSTEMS = [
    ("complaint-router", 0.40, "gpt-4o-mini", "gpt-4.1-nano", 0.10, "quality"),
    ("invoice-extractor", 0.25, "claude-3-5-haiku", "gpt-4o-mini", 0.0, "finance"),
    ("support-drafter", 0.15, "gpt-4o", "gpt-4o-mini", 0.20, "support"),
    ("churn-scorer", 0.12, "sklearn-gbm", None, 0.0, "growth"),
    ("doc-summariser", 0.08, "mistral-small", "gpt-4o-mini", 0.0, "legal"),
]
USERS_PER_SYSTEM = 200  # 1,000 end users, each using one system


def make_records(n: int, seed: int = 7):
    """Traffic shaped like a real team's: see the module docstring."""
    from trimtab.recorder.records import CallRecord

    rng = random.Random(seed)
    now = datetime.now(UTC)
    start = now - timedelta(hours=1)
    step = timedelta(hours=1) / n
    weights = [s[1] for s in SYSTEMS]
    out = []
    for i in range(n):
        system, _, model, fallback, canary, team = rng.choices(SYSTEMS, weights)[0]
        error = rng.random() < 0.02
        if fallback and rng.random() < 0.03:
            model = fallback
        on_canary = rng.random() < canary
        release = f"{system}-r{2 if on_canary else 1}".ljust(64, "0")
        tokens_in, tokens_out = rng.randint(200, 900), 0 if error else rng.randint(10, 300)
        out.append(CallRecord(
            system=system, env="production", latency_ms=round(rng.lognormvariate(6, 0.5), 3),
            status="error" if error else "ok", time=start + step * i,
            release_id=release, source="gateway", provider="openai", model=model,
            route="canary" if on_canary else "primary",
            error_kind="timeout" if error else None, http_status=504 if error else 200,
            input_tokens=tokens_in, output_tokens=tokens_out,
            cost_micro_usd=None if i % 97 == 0 else tokens_in * 15 // 100 + tokens_out * 60 // 100,
            price_version="2025-01", user_id=f"{system}-user-{rng.randrange(USERS_PER_SYSTEM)}",
            tags={"team": team}, logging_mode="redacted",
            request={"messages": [{"role": "user", "content": "Complaint from [EMAIL] about "
                                   f"KX-{i % 500}: the charger sparks when plugged in."}]},
            response=None if error else {"team": "electrical", "severity": "high",
                                         "reason": "Mentions 'spark'."},
            error="upstream timed out after 30 s" if error else None,
        ))
    return out


def expected_totals(records) -> dict[str, int]:
    return {"calls": len(records),
            "input_tokens": sum(r.input_tokens or 0 for r in records),
            "output_tokens": sum(r.output_tokens or 0 for r in records),
            "cost_micro_usd": sum(r.cost_micro_usd or 0 for r in records),
            "cost_unknown": sum(r.cost_micro_usd is None for r in records)}


def check(store, expected: dict[str, int]) -> dict:
    from sqlalchemy import func, select

    from trimtab.store import calls as call_store
    from trimtab.store.schema.call_log import rollups

    found = {}
    with store.read() as conn:
        found["calls rows"] = call_store.count(conn)
        for resolution, dimension in (("m", ""), ("h", ""), ("d", ""), ("d", "user")):
            row = conn.execute(
                select(*(func.sum(rollups.c[c]) for c in (
                    "calls", "input_tokens", "output_tokens", "cost_micro_usd", "cost_unknown")))
                .where(rollups.c.resolution == resolution, rollups.c.dimension == dimension)
            ).one()
            found[f"rollups {resolution}{'/' + dimension if dimension else ''}"] = dict(zip(
                ("calls", "input_tokens", "output_tokens", "cost_micro_usd", "cost_unknown"),
                (int(v or 0) for v in row), strict=True))
    ok = found["calls rows"] == expected["calls"] and all(
        v == expected for k, v in found.items() if k.startswith("rollups"))
    return {"ok": ok, "found": found, "expected": expected}


def run_backlog(url: str, records, folder: Path, options: dict) -> dict:
    """The writer alone: see the module docstring."""
    from trimtab.recorder.recorder import Recorder
    from trimtab.store import Store

    spool = folder / "spool-backlog"
    spool.mkdir()
    with open(spool / "left-by-a-dead-process.jsonl", "wb") as handle:
        for record in records:
            handle.write(record.to_line())
    store = Store(url)
    t0 = time.perf_counter()
    recorder = Recorder(store, spool, **options)  # adopts the segment and starts draining
    return finish(store, recorder, records, t0)


def run_live(url: str, records, folder: Path, options: dict) -> dict:
    from trimtab.recorder.recorder import Recorder
    from trimtab.store import Store

    store = Store(url)
    recorder = Recorder(store, folder / "spool-live", **options)
    t0 = time.perf_counter()
    for record in records:
        recorder.record(record)
    produced = time.perf_counter() - t0
    return {**finish(store, recorder, records, t0), "produce_seconds": produced}


def finish(store, recorder, records, t0: float) -> dict:
    """Wait for the writer, stop the clock, close, and check nothing was lost or doubled."""
    flushed = recorder.flush(timeout=600)
    elapsed = time.perf_counter() - t0
    stats = recorder.stats()
    recorder.close()
    result = check(store, expected_totals(records))
    store.dispose()
    return {"seconds": elapsed, "rate": len(records) / elapsed, "flushed": flushed,
            "recorder": stats, **result}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--postgres", help="scratch database, dropped and created "
                        f"(default {databases.DEFAULT_POSTGRES})")
    parser.add_argument("--batch-size", type=int, help="Recorder batch_size (default: its own)")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--writers", nargs="+", choices=("thread", "process"),
                        default=["thread", "process"], help="Recorder writers to measure")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    report.console.print(f"making {args.records:,} records ...")
    records = make_records(args.records)
    targets = [("SQLite", None)]
    if not args.skip_postgres:
        url = databases.postgres_url(args.postgres)
        why = databases.postgres_reachable(url)
        if why:
            report.console.print(f"[yellow]PostgreSQL skipped[/]: {why}")
        else:
            targets.append(("PostgreSQL", url))
    options = {"batch_size": args.batch_size} if args.batch_size else {}
    results, rows, ok = {}, [], True
    for name, pg_url in targets:
        for writer in args.writers:
            for mode, run in (("backlog", run_backlog), ("live", run_live)):
                with tempfile.TemporaryDirectory(prefix="trimtab-ingest-") as tmp:
                    folder = Path(tmp)
                    url = (databases.fresh_postgres(pg_url) if pg_url
                           else databases.fresh_sqlite(folder))
                    report.console.print(f"{name} {mode}, writer {writer} ...")
                    result = run(url, records, folder, {**options, "writer": writer})
                results[f"{name} {mode} {writer}"] = result
                ok &= result["ok"] and result["rate"] >= GOAL
                rows.append((name, mode, writer, result["rate"], result["seconds"],
                             result["found"]["calls rows"], result["recorder"]["duplicates"],
                             result["ok"], result["rate"] >= GOAL))
    report.show(
        f"Recorder ingest, {args.records:,} records (records/s; higher is better)",
        ["database", "mode", "writer", "records/s", "seconds", "rows stored", "dups skipped",
         "totals exact", f">= {GOAL:,}/s"], rows,
    )
    report.write("recorder_ingest", {"records": args.records, "goal_per_s": GOAL,
                                     "results": results, "ok": ok}, args.out)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
