"""Sampled scoring of real outputs: what one monitor cycle costs, and whether every
release gets its share.

    .venv/bin/python bench/sampled_scoring.py                   # 100,000 calls, both DBs
    .venv/bin/python bench/sampled_scoring.py --calls 20000 --skip-postgres

Writes N answered calls of the example system into a fresh store, 90% from a
stable release and 10% from a canary, then runs ``trimtab.quality.sampling.tick``
(what `trimtab serve`/`monitor` do each cycle) until the cursor reaches the newest
call, at a 5% share with ``per_tick: 100`` and two scorers that need no model
(``json`` and ``regex``), so the numbers are trimtab's own work (the read, the
draw, the write), not a judge's latency. Reports the median and the slowest
cycle, calls read per second over the whole pass, and each release's draw
against its share. Goals: the slowest cycle under 1 s (a cycle is bounded,
however long the log), every release within one call of its share, and no call
scored twice. Exits 1 when a goal is missed.
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

SYSTEM = "complaint-router"
RATE = 0.05
PER_TICK = 100
GOAL_MS = 1000
SCORING = f"""\
    scoring:
      sample: {RATE:.0%}
      per_tick: {PER_TICK}
      settle: "0"
      scorers:
        - {{type: json}}
        - {{type: regex, field: team, pattern: '^(electrical|packaging|mechanical|other)$'}}
    evals:
"""


def project(folder: Path):
    from typer.testing import CliRunner

    from trimtab.cli import app
    from trimtab.project.loader import load_project

    result = CliRunner().invoke(app, ["init", str(folder)])
    if result.exit_code != 0:
        raise SystemExit(result.output)
    path = folder / "trimtab.yaml"
    path.write_text(path.read_text().replace("    evals:\n", SCORING, 1))
    return load_project(path)


def fill(store, calls: int) -> dict[str, int]:
    from trimtab.store import calls as call_store
    from trimtab.store.call_columns import CALL_COLUMNS
    from trimtab.store.ids import new_call_id

    start = datetime.now(UTC) - timedelta(hours=2)
    step = timedelta(hours=1) / calls
    base = {name: None for name in CALL_COLUMNS}
    per_release = {"s" * 64: 0, "c" * 64: 0}
    batch = []
    for i in range(calls):
        release = "c" * 64 if i % 10 == 3 else "s" * 64
        per_release[release] += 1
        row = dict(base, id=new_call_id(), time=start + step * i, system=SYSTEM,
                   env="production", release_id=release, source="sdk", route="primary",
                   provider="simulated", model="sim-router-1", status="ok", latency_ms=40.0,
                   input_tokens=120, output_tokens=30, cost_micro_usd=20, attempt_count=1,
                   fallback_used=False, logging_mode="redacted",
                   request=json.dumps({"messages": [{"role": "user", "content":
                                                     f"Complaint {i}: the seal leaks."}]}),
                   response='{"team": "packaging", "severity": "medium", "reason": "leak"}')
        batch.append([row[name] for name in CALL_COLUMNS])
        if len(batch) == 5000:
            with store.ingest() as conn:
                call_store.insert_many(conn, batch)
            batch = []
    if batch:
        with store.ingest() as conn:
            call_store.insert_many(conn, batch)
    return per_release


def run(label: str, url: str, calls: int, proj) -> dict:
    from trimtab.quality import sampling
    from trimtab.store import Store
    from trimtab.store import sampling as sampling_store

    store = Store(url)
    per_release = fill(store, calls)
    ticks_ms, read, drawn = [], 0, 0
    began = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        tick = sampling.tick(store, proj, SYSTEM)
        ticks_ms.append((time.perf_counter() - t0) * 1000)
        read += tick.read
        drawn += tick.drawn
        if not tick.read:
            break
    wall = time.perf_counter() - began
    with store.read() as conn:
        counted = sampling_store.counts(conn, SYSTEM)
        scored = sampling_store.by_release(conn, system=SYSTEM, start=datetime(2000, 1, 1,
                                                                               tzinfo=UTC),
                                           end=datetime.now(UTC) + timedelta(days=1))
    store.dispose()
    shares = {}
    for release, (seen, taken) in counted.items():
        due = int(seen * RATE)
        shares[release[:1]] = {"seen": seen, "drawn": taken, "share": taken / seen,
                               "within_one": due <= taken <= due + 1}
    json_scores = sum(q.scores for q in scored if q.name == "json")
    return {"database": label, "calls": calls, "ticks": len(ticks_ms),
            "median_tick_ms": report.median(ticks_ms), "max_tick_ms": max(ticks_ms),
            "read": read, "drawn": drawn, "calls_read_per_s": read / wall,
            "releases": shares, "once": json_scores == drawn,
            "seen_all": read == calls and per_release == {
                r: counted[r][0] for r in per_release}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--postgres", default=None)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        proj = project(Path(tmp) / "project")
        results.append(run("sqlite", databases.fresh_sqlite(Path(tmp)), args.calls, proj))
        if not args.skip_postgres:
            url = databases.postgres_url(args.postgres)
            why = databases.postgres_reachable(url)
            if why:
                report.console.print(f"PostgreSQL skipped: {why}")
            else:
                results.append(run("postgresql", databases.fresh_postgres(url), args.calls,
                                   proj))
    report.show(
        f"sampled scoring over {args.calls:,} calls ({RATE:.0%}, per_tick {PER_TICK})",
        ["database", "cycles", "median cycle ms", "slowest cycle ms", "calls read/s",
         "drawn", "stable share", "canary share", "scored once"],
        [[r["database"], r["ticks"], r["median_tick_ms"], r["max_tick_ms"],
          r["calls_read_per_s"], r["drawn"],
          f"{r['releases']['s']['drawn']}/{r['releases']['s']['seen']}",
          f"{r['releases']['c']['drawn']}/{r['releases']['c']['seen']}", r["once"]]
         for r in results],
        caption=f"goals: slowest cycle < {GOAL_MS} ms; each release within one call of "
                f"{RATE:.0%}; no call scored twice")
    ok = all(r["max_tick_ms"] < GOAL_MS and r["once"] and r["seen_all"]
             and all(s["within_one"] for s in r["releases"].values()) for r in results)
    report.write("sampled_scoring", {"calls": args.calls, "rate": RATE, "per_tick": PER_TICK,
                                     "results": results, "goals_met": ok})
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
