"""Dashboard page times on a store of millions of calls over 30 days, SQLite and PostgreSQL.

    .venv/bin/python bench/dashboard_pages.py                      # 10,000,000 calls
    .venv/bin/python bench/dashboard_pages.py --calls 1000000 --skip-postgres

The store: the demo workspace (``trimtab demo``'s four systems, their
releases, evals, reviews, incidents and approvals, at a small traffic scale),
then ``--calls`` production calls over the 30 days before now written in bulk
the way the recorder writes them, not through the SDK: rows in call-column
order copied from the demo's own calls (new id, time, latency, user, tags),
inserted with ``store/bulk.py`` (COPY on PostgreSQL, ``executemany`` on SQLite)
with their rollups (``RollupWriter.apply``), 50,000 a transaction. Time of day
follows a working week (bench traffic is heavier on weekdays and office hours).

Then ``trimtab serve`` runs against the store and every dashboard page is
fetched over loopback: one warm-up, then the median and max of ``--runs``.
Goal: every page under 200 ms (issue 17). The JSON goes to
bench/results/dashboard_pages.json.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import databases
import report

GOAL_MS = 200
CHUNK = 50_000
WEEKDAY = (1.0, 1.08, 1.02, 0.97, 0.86, 0.28, 0.18)
HOURLY = (1, 1, 1, 1, 1, 2, 4, 8, 12, 13, 12, 10, 8, 10, 12, 11, 9, 6, 4, 3, 2, 2, 1, 1)


def build_demo(folder: Path, url: str) -> None:
    from trimtab.demo import build, write_files
    from trimtab.workspace import connect

    write_files(folder)
    with connect(folder, database_url=url) as ws:
        build(ws, scale=0.02)


def bulk_calls(url: str, folder: Path, calls: int, days: int, seed: int) -> float:
    """Write ``calls`` rows and their rollups; returns seconds taken."""
    from trimtab.jsontext import dumps
    from trimtab.store.call_columns import COLUMN
    from trimtab.store.calls import insert_many
    from trimtab.store.rollups import RollupWriter
    from trimtab.workspace import connect

    rng = random.Random(seed)
    with connect(folder, database_url=url) as ws:
        templates = [c for c in _template_rows(ws) if c[COLUMN["env"]] == "production"]
        store = ws.store
        writer = RollupWriter("bench-bulk")
        end = datetime.now(UTC) - timedelta(minutes=1)
        start = end - timedelta(days=days)
        weights = [WEEKDAY[(start + timedelta(hours=h)).weekday()]
                   * HOURLY[(start + timedelta(hours=h)).hour] for h in range(days * 24)]
        hours = sorted(rng.choices(range(days * 24), weights, k=calls))
        at_id, at_time, at_latency = COLUMN["id"], COLUMN["time"], COLUMN["latency_ms"]
        at_user, at_tags = COLUMN["user_id"], COLUMN["tags"]
        tags = [dumps({"channel": c}) for c in ("email", "chat", "web", "phone")]
        t0 = time.perf_counter()
        for lo in range(0, calls, CHUNK):
            rows = []
            for h in hours[lo:lo + CHUNK]:
                row = list(rng.choice(templates))
                t = start + timedelta(hours=h, seconds=rng.random() * 3600)
                row[at_time] = t
                row[at_id] = f"{int(t.timestamp() * 1e6):014x}{rng.getrandbits(72):018x}"
                row[at_latency] = round(rng.lognormvariate(5.7, 0.6), 1)
                row[at_user] = f"user-{rng.randrange(2000):04d}"
                row[at_tags] = rng.choice(tags)
                rows.append(row)
            rows.sort(key=lambda r: r[at_time])
            with store.ingest() as conn:
                insert_many(conn, rows)
                writer.apply(conn, rows)
            writer.committed()
            print(f"  {min(lo + CHUNK, calls):,} calls", end="\r", flush=True)
        # What autovacuum does for a live PostgreSQL store: without statistics
        # its planner guesses a million-row table is tiny (SQLite's plans here
        # do not depend on them).
        with store.write() as conn:
            conn.exec_driver_sql("ANALYZE")
        return time.perf_counter() - t0


def _template_rows(ws) -> list[list]:
    """The demo's calls, as calls-table rows (column order)."""
    from sqlalchemy import select

    from trimtab.store.schema.call_log import calls

    with ws.store.read() as conn:
        return [list(r) for r in conn.execute(select(calls).limit(5000))]


def pages(folder: Path, url: str) -> list[tuple[str, str]]:
    from trimtab.workspace import connect

    with connect(folder, database_url=url) as ws:
        call = ws.calls(limit=1)[0].id
        router = [r.id for r in ws.releases("complaint-router")]
    out = [("portfolio", "/"), ("calls", "/calls"),
           ("calls, one system", "/calls?system=customer-triage"),
           ("calls, text search", "/calls?q=parcel"), ("call detail", f"/calls/{call}"),
           ("release diff", f"/releases/{router[-1][:12]}/diff/{router[0][:12]}"),
           ("audit", "/audit"), ("reviews", "/reviews"),
           ("review queue", "/reviews/complaint-router"), ("approvals", "/approvals"),
           ("incidents", "/incidents")]
    for system in ("complaint-router", "compliance-assistant", "customer-triage",
                   "churn-model"):
        out.append((f"system {system}", f"/systems/{system}"))
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def time_pages(folder: Path, url: str, runs: int) -> list[dict]:
    import httpx

    port = free_port()
    env = {**os.environ, "TRIMTAB_DATABASE_URL": url, "TRIMTAB_PROJECT": str(folder)}
    log = open(folder / "serve.log", "wb")  # noqa: SIM115 - closed with the server
    server = subprocess.Popen([str(Path(sys.executable).parent / "trimtab"), "serve", "--port",
                               str(port), "--interval", "1h"], cwd=folder, env=env,
                              stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=120) as client:
            # A store an older trimtab wrote migrates first: an index over a big
            # rollups table takes minutes on a loaded machine.
            for _ in range(6000):
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    if server.poll() is not None:
                        raise SystemExit("trimtab serve exited:\n"
                                         + (folder / "serve.log").read_text()) from None
                    time.sleep(0.1)
            out = []
            for name, path in pages(folder, url):
                samples, status = [], None
                for i in range(runs + 1):
                    t0 = time.perf_counter()
                    response = client.get(path)
                    elapsed = (time.perf_counter() - t0) * 1000
                    status = response.status_code
                    if i:
                        samples.append(elapsed)
                out.append({"page": name, "path": path, "status": status,
                            "median_ms": report.median(samples), "max_ms": max(samples),
                            "ok": status == 200 and report.median(samples) < GOAL_MS})
            return out
    finally:
        server.terminate()
        server.wait(30)
        log.close()


def run(kind: str, url: str, args, folder: Path) -> dict:
    print(f"{kind}: building the demo workspace")
    build_demo(folder, url)
    print(f"{kind}: writing {args.calls:,} calls over {args.days} days")
    seconds = bulk_calls(url, folder, args.calls, args.days, args.seed)
    print(f"\n{kind}: {args.calls / seconds:,.0f} calls/s written; timing pages")
    return {"store": kind, "calls": args.calls, "days": args.days,
            "write_seconds": round(seconds, 1), "pages": time_pages(folder, url, args.runs)}


def time_existing(folder: Path, url: str, runs: int) -> None:
    """Time the pages of a store built before (``--existing FOLDER``, with --postgres)."""
    report.show("dashboard pages, existing store", ["page", "median ms", "max ms"],
                [(p["page"], p["median_ms"], p["max_ms"])
                 for p in time_pages(folder, url, runs)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--postgres", help=f"default {databases.DEFAULT_POSTGRES}")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="trimtab-pages-") as tmp:
        if not args.skip_sqlite:
            folder = Path(tmp) / "sqlite"
            folder.mkdir()
            results.append(run("sqlite", databases.fresh_sqlite(folder), args, folder))
        if not args.skip_postgres:
            url = databases.postgres_url(args.postgres)
            problem = databases.postgres_reachable(url)
            if problem:
                print(f"postgresql skipped: {problem}")
            else:
                folder = Path(tmp) / "postgres"
                folder.mkdir()
                results.append(run("postgresql", databases.fresh_postgres(url), args, folder))
    for result in results:
        report.show(f"dashboard pages, {result['store']}, {result['calls']:,} calls over "
                    f"{result['days']} days (goal < {GOAL_MS} ms)",
                    ["page", "status", "median ms", "max ms", "ok"],
                    [(p["page"], str(p["status"]), p["median_ms"], p["max_ms"], p["ok"])
                     for p in result["pages"]])
    report.write("dashboard_pages", {"goal_ms": GOAL_MS, "results": results})
    return 0 if all(p["ok"] for r in results for p in r["pages"]) else 1


if __name__ == "__main__":
    sys.exit(main())
