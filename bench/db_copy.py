"""`trimtab db copy`: a store with 100,000 calls, SQLite → PostgreSQL and back.

One command (from the repository root):

    .venv/bin/python bench/db_copy.py                  # 100,000 calls
    .venv/bin/python bench/db_copy.py --calls 20000 --postgres postgresql://postgres@127.0.0.1:5432/scratch

Builds a trial's SQLite store (`trimtab init` project: a release promoted to
production, an API key, three recorded calls with their rollups, then
``--calls`` calls bulk-inserted), copies it into a fresh PostgreSQL database
(``trimtab_bench_copy`` by default: dropped and created) and back into a fresh
SQLite file with ``trimtab.store.copy.copy_store`` (what ``trimtab db copy``
runs), checks that every table holds the same rows and that the audit chain
verifies on both copies, and prints seconds, rows per second and peak RSS per
direction. Writes ``bench/results/db_copy.json``; exits 1 if a check fails.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import databases  # noqa: E402
import report  # noqa: E402


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fill(ws, n_calls: int) -> None:
    from sqlalchemy import insert, select

    from trimtab.store.schema.call_log import calls

    release, _ = ws.release("complaint-router")
    for env in ("dev", "staging", "production"):
        ws.promote("complaint-router", release.id, env)
    ws.create_key("ci", env="production")
    for i in range(3):
        ws.record("complaint-router", {"text": f"ticket {i}"}, {"team": "billing"}, 5.0 + i,
                  env="production")
    ws.flush(30)
    with ws.store.read() as conn:
        model = dict(conn.execute(select(calls).limit(1)).one()._mapping)
    with ws.store.ingest() as conn:
        for start in range(0, n_calls, 10_000):
            conn.execute(insert(calls), [
                {**model, "id": f"bulk{i:012d}", "time": model["time"] - timedelta(seconds=i),
                 "latency_ms": float(i % 500)}
                for i in range(start, min(n_calls, start + 10_000))])


def same(a_url: str, b_url: str) -> bool:
    from sqlalchemy import create_engine, select

    from trimtab.store import Store
    from trimtab.store.copy import tables

    def rows(url):
        engine = create_engine(Store(url, migrate=False).url)
        with engine.connect() as conn:
            out = {t.name: conn.execute(select(t).order_by(*t.primary_key.columns)).all()
                   for t in tables()}
        engine.dispose()
        return out

    return rows(a_url) == rows(b_url)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/"
                        "trimtab_bench_copy", help="a scratch database: dropped and created")
    args = parser.parse_args()
    import trimtab
    from trimtab.store import Store
    from trimtab.store.copy import copy_store

    why = databases.postgres_reachable(args.postgres)
    if why:
        print(f"PostgreSQL unreachable ({why}); nothing to measure")
        return 1
    with tempfile.TemporaryDirectory(prefix="trimtab-db-copy-") as tmp:
        folder = Path(tmp)
        project = folder / "project"
        subprocess.run([str(Path(sys.executable).parent / "trimtab"), "init", str(project)],
                       check=True, capture_output=True)
        sqlite_url = databases.fresh_sqlite(folder, "trial.db")
        print(f"filling a SQLite store with {args.calls:,} calls ...", flush=True)
        with trimtab.connect(project, database_url=sqlite_url) as ws:
            fill(ws, args.calls)
            head = ws.verify_audit().head_hash
        pg_url = databases.fresh_postgres(args.postgres)
        back_url = databases.fresh_sqlite(folder, "back.db")
        results = []
        for name, src, dst in (("SQLite → PostgreSQL", sqlite_url, pg_url),
                               ("PostgreSQL → SQLite", pg_url, back_url)):
            source, target = Store(src), Store(dst)
            t0 = time.perf_counter()
            copied = copy_store(source, target)
            seconds = time.perf_counter() - t0
            with trimtab.connect(project, database_url=dst) as ws:
                chain = ws.verify_audit()
            ok = chain.ok and chain.head_hash == head and same(src, dst)
            results.append({"direction": name, "rows": copied.total,
                            "calls": copied.rows["calls"], "seconds": seconds,
                            "rows_per_s": copied.total / seconds, "peak_rss_mb": peak_mb(),
                            "identical_and_chain_verifies": ok})
            source.engine.dispose()
            target.engine.dispose()
    report.show(f"trimtab db copy: a store with {args.calls:,} calls",
                ["direction", "rows", "seconds", "rows/s", "peak RSS MB", "identical, chain ok"],
                [(r["direction"], f"{r['rows']:,}", f"{r['seconds']:.1f}",
                  f"{r['rows_per_s']:,.0f}", f"{r['peak_rss_mb']:.0f}",
                  str(r["identical_and_chain_verifies"])) for r in results])
    path = report.write("db_copy", {"calls": args.calls, "results": results,
                                    "machine": report.machine()})
    print(f"wrote {path}")
    return 0 if all(r["identical_and_chain_verifies"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
