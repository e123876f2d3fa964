"""Dashboard page times on a store of millions of calls over 30 days, SQLite and PostgreSQL.

    .venv/bin/python bench/dashboard_pages.py                      # 10,000,000 calls
    .venv/bin/python bench/dashboard_pages.py --calls 1000000 --skip-postgres
    .venv/bin/python bench/dashboard_pages.py --keep /tmp/pages --build-only  # build once
    .venv/bin/python bench/dashboard_pages.py --existing /tmp/pages          # time again

The store: the demo workspace (``trimtab demo``'s four systems, their
releases, evals, reviews, incidents and approvals, at a small traffic scale),
then ``--calls`` production calls over the 30 days before now (from midnight
UTC 30 days back), written the way the recorder writes them, not through the
SDK. Each row is one of the demo's own production calls (call-column order)
with a new id, time, latency, user (2,000 of them) and channel tag; the random
values are drawn with numpy a day at a time, the rows built in Python. A
day's calls go in one transaction: inserted with ``calls.insert_many`` (the
recorder's insert, store/bulk.py: COPY on PostgreSQL, ``executemany`` on
SQLite), their rollups folded in by the store's own ``RollupWriter.apply``,
once for the whole day, so each minute, hour and day rollup row is written
once. Time of day follows a working week (heavier on weekdays and office
hours), laid so that the day of the build is a Tuesday, the busiest: the 24
hours the pages show are a weekday's even when the bench runs on a weekend.
Then, on PostgreSQL, ``ANALYZE``, as autovacuum would on a live store (SQLite
stores get none: trimtab never analyzes them). The time reported includes it.

Then ``trimtab serve`` runs against the store and every dashboard page is
fetched over loopback: one warm-up, then the median and max of ``--runs``.
``--keep FOLDER`` builds the stores in FOLDER and keeps them (a store.json per
store says what it holds and how long it took to write), ``--build-only``
stops there, and ``--existing FOLDER`` times the pages of stores built so,
without writing them again. Pages are always read at "now": a store timed
hours after it was built has that many hours without calls at the end.
Goal: every page under 200 ms (issue 17). The JSON goes to
bench/results/dashboard_pages.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import databases
import report
from sqlalchemy.engine import make_url

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
    """Write ``calls`` rows and their rollups a day per transaction; returns seconds.

    Random values come from numpy arrays drawn a day at a time; each row is still
    a demo call's row with five values replaced, inserted by ``insert_many`` (the
    recorder's insert) and folded into the rollups by ``RollupWriter.apply`` (the
    recorder's rollup path) once per day: a day's minute, hour and day rollup rows
    are each written once, not again at every batch boundary.
    """
    import numpy as np

    from trimtab.jsontext import dumps
    from trimtab.store.call_columns import COLUMN
    from trimtab.store.calls import insert_many
    from trimtab.store.rollups import RollupWriter
    from trimtab.workspace import connect

    rng = np.random.default_rng(seed)
    with connect(folder, database_url=url) as ws:
        templates = [c for c in _template_rows(ws) if c[COLUMN["env"]] == "production"]
        store = ws.store
        if store.dialect == "sqlite":
            # A bulk load's page cache: SQLite's default 2 MB makes every insert into
            # the big indexes a read and write through the OS. Only these connections.
            from sqlalchemy import event

            event.listen(store.engine, "connect", lambda dbapi, _: dbapi.execute(
                "PRAGMA cache_size = -262144"))
            store.engine.dispose()
        writer = RollupWriter("bench-bulk")
        end = datetime.now(UTC) - timedelta(minutes=1)
        # Whole UTC days, so that no rollup row spans two transactions.
        start = (end - timedelta(days=days)).replace(hour=0, minute=0, second=0,
                                                      microsecond=0)
        hours = int((end - start) / timedelta(hours=1))
        # The working week is laid so that the build day is a Tuesday, the busiest:
        # the pages' last 24 hours are a weekday's, whatever day the bench runs.
        shift = 1 - end.weekday()
        weights = np.array([WEEKDAY[((start + timedelta(hours=h)).weekday() + shift) % 7]
                            * HOURLY[(start + timedelta(hours=h)).hour] for h in range(hours)])
        per_hour = rng.multinomial(calls, weights / weights.sum())
        at_id, at_time, at_latency = COLUMN["id"], COLUMN["time"], COLUMN["latency_ms"]
        at_user, at_tags = COLUMN["user_id"], COLUMN["tags"]
        tags = [dumps({"channel": c}) for c in ("email", "chat", "web", "phone")]
        users = [f"user-{u:04d}" for u in range(2000)]
        base_us = int(start.timestamp()) * 1_000_000
        written, t0 = 0, time.perf_counter()
        for day in range(0, hours, 24):
            counts = per_hour[day:day + 24]
            n = int(counts.sum())
            if not n:
                continue
            offsets = np.sort(np.repeat(np.arange(day, day + len(counts)) * 3_600_000_000, counts)
                              + rng.integers(0, 3_600_000_000, n))
            offsets = np.minimum(offsets, int((end - start) / timedelta(microseconds=1)))
            micros = (offsets + base_us).tolist()
            picks = rng.integers(0, len(templates), n).tolist()
            latencies = np.round(rng.lognormal(5.7, 0.6, n), 1).tolist()
            user_of = rng.integers(0, len(users), n).tolist()
            tag_of = rng.integers(0, len(tags), n).tolist()
            high = rng.integers(0, 1 << 40, n).tolist()
            low = rng.integers(0, 1 << 32, n).tolist()
            rows = []
            for i in range(n):
                row = list(templates[picks[i]])
                us = micros[i]
                row[at_time] = start + timedelta(microseconds=us - base_us)
                row[at_id] = f"{us:014x}{high[i]:010x}{low[i]:08x}"
                row[at_latency] = latencies[i]
                row[at_user] = users[user_of[i]]
                row[at_tags] = tags[tag_of[i]]
                rows.append(row)
            with store.ingest() as conn:
                for lo in range(0, n, CHUNK):
                    insert_many(conn, rows[lo:lo + CHUNK])
                writer.apply(conn, rows)
            writer.committed()
            written += n
            rate = written / (time.perf_counter() - t0)
            print(f"  {written:,} calls ({rate:,.0f}/s)", end="\r", flush=True)
        # What autovacuum does for a live PostgreSQL store: without statistics
        # its planner guesses a million-row table is tiny. Not on SQLite: trimtab
        # never runs ANALYZE there, so a real SQLite store has no statistics.
        if store.dialect == "postgresql":
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


def build(kind: str, url: str, args, folder: Path) -> dict:
    """Build one store in ``folder``; its description is kept there as store.json,
    so that ``--existing`` can time its pages again later."""
    print(f"{kind}: building the demo workspace")
    build_demo(folder, url)
    print(f"{kind}: writing {args.calls:,} calls over {args.days} days")
    seconds = bulk_calls(url, folder, args.calls, args.days, args.seed)
    print(f"\n{kind}: {args.calls:,} calls written in {seconds:,.0f} s "
          f"({args.calls / seconds:,.0f} calls/s)")
    store = {"store": kind, "url": url, "calls": args.calls, "days": args.days,
             "write_seconds": round(seconds, 1),
             "calls_per_s": round(args.calls / seconds),
             "built_at": datetime.now(UTC).isoformat(timespec="seconds")}
    (folder / STORE_FILE).write_text(json.dumps(store, indent=1))
    return store


STORE_FILE = "store.json"


def existing(folder: Path, kind: str) -> dict | None:
    described = folder / kind / STORE_FILE
    if not described.is_file():
        return None
    store = json.loads(described.read_text())
    if kind == "sqlite":  # the file beside store.json, wherever the folder has moved
        database = folder / kind / Path(make_url(store["url"]).database).name
        if not database.is_file():
            raise SystemExit(f"{described} describes a store that is not there: {database}")
        store["url"] = f"sqlite:///{database.resolve()}"
    return store


def time_store(store: dict, folder: Path, runs: int) -> dict:
    print(f"{store['store']}: timing pages")
    load = os.getloadavg()[0]
    pages_timed = time_pages(folder, store["url"], runs)
    return {**store, "load_avg": [round(load, 2), round(os.getloadavg()[0], 2)],
            "pages": pages_timed}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--postgres", help=f"default {databases.DEFAULT_POSTGRES}")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--keep", type=Path, metavar="FOLDER",
                        help="build the stores in FOLDER (new or empty) and keep them "
                             "(PostgreSQL: the --postgres database is kept)")
    parser.add_argument("--build-only", action="store_true",
                        help="with --keep: build, do not time the pages")
    parser.add_argument("--existing", type=Path, metavar="FOLDER",
                        help="time the pages of stores an earlier --keep FOLDER built")
    args = parser.parse_args()
    if args.build_only and not args.keep:
        parser.error("--build-only needs --keep FOLDER (else the stores are thrown away)")
    if args.existing and args.keep:
        parser.error("--existing times stores already built; it cannot be used with --keep")
    kinds = [k for k, skip in (("sqlite", args.skip_sqlite),
                               ("postgresql", args.skip_postgres)) if not skip]
    results = []
    if args.existing:
        for kind in kinds:
            store = existing(args.existing, kind)
            if store is None:
                print(f"{kind}: no store in {args.existing / kind} (built with --keep?)")
                continue
            results.append(time_store(store, args.existing / kind, args.runs))
        if not results:
            raise SystemExit(f"no store to time in {args.existing}")
    else:
        if args.keep and args.keep.exists() and any(args.keep.iterdir()):
            parser.error(f"--keep {args.keep}: the folder is not empty")
        with contextlib.ExitStack() as stack:
            root = args.keep or Path(stack.enter_context(
                tempfile.TemporaryDirectory(prefix="trimtab-pages-")))
            for kind in kinds:
                folder = root / kind
                if kind == "sqlite":
                    folder.mkdir(parents=True)
                    url = databases.fresh_sqlite(folder)
                else:
                    url = databases.postgres_url(args.postgres)
                    problem = databases.postgres_reachable(url)
                    if problem:
                        print(f"postgresql skipped: {problem}")
                        continue
                    folder.mkdir(parents=True)
                    url = databases.fresh_postgres(url)
                store = build(kind, url, args, folder)
                if not args.build_only:
                    results.append(time_store(store, folder, args.runs))
    for result in results:
        report.show(f"dashboard pages, {result['store']}, {result['calls']:,} calls over "
                    f"{result['days']} days, built in {result['write_seconds']:,.0f} s "
                    f"({result['calls_per_s']:,} calls/s); load average "
                    f"{result['load_avg'][0]}-{result['load_avg'][1]} (goal < {GOAL_MS} ms)",
                    ["page", "status", "median ms", "max ms", "ok"],
                    [(p["page"], str(p["status"]), p["median_ms"], p["max_ms"], p["ok"])
                     for p in result["pages"]])
    if results:
        report.write("dashboard_pages", {"goal_ms": GOAL_MS, "results": results})
    return 0 if all(p["ok"] for r in results for p in r["pages"]) else 1


if __name__ == "__main__":
    sys.exit(main())
