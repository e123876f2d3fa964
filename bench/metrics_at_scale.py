"""Metrics at scale: p50/p95/p99 and cost by model, 30 days over 10,000,000 calls.

    .venv/bin/python bench/metrics_at_scale.py                # both DBs, 10M calls
    .venv/bin/python bench/metrics_at_scale.py --calls 1000000 --skip-postgres
    .venv/bin/python bench/metrics_at_scale.py --rebuild      # regenerate the data

Recording 10M calls through the recorder would take the better part of an
hour, and the query never reads calls anyway: metrics come from rollups. So
this writes the rollup rows the writer would have produced for 10M calls over
the 30 days before now, with the store's own bulk writer (``store/bulk.py``),
and then times the queries a dashboard makes.

The traffic: 5 systems with uneven shares and a daily cycle (busy days, quiet
nights), each with its own model, 3% of calls on a fallback model, a canary
release taking 10-20% on two systems, a 2% error rate, latency drawn per
system from a log-normal; 1,000 end users (200 per system, every call
attributed) and a team tag; two recorder processes (gateway replicas) each
writing its own rows, as in production. Every minute, hour and day row of the
plain grain exists, plus user and tag rows per hour and day: about 3.3
million rows. Sketches are drawn (multinomial over the sketch's buckets) so
each row has the bucket spread its call count would give. The data is built
once per database and reused while ``--calls``/``--days``/``--seed`` match.

Timed (median of ``--runs``, after one warm-up run): ``ws.metrics(window=30d,
by=("model",))`` (percentiles and cost per model) and ``ws.metrics(window=30d)``
(overall percentiles), then for information ``by=("system",)``, a 24-hour
window, and ``by=("user",)``. Goal: the first two < 200 ms on each database.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import databases
import report

GOAL_MS = 200
CACHE = report.RESULTS / "cache"
# name, share, primary model, fallback model, canary share, latency median ms, sigma, team
SYSTEMS = [
    ("complaint-router", 0.40, "gpt-4o-mini", "gpt-4.1-nano", 0.10, 420, 0.45, "quality"),
    ("invoice-extractor", 0.25, "claude-3-5-haiku", "gpt-4o-mini", 0.0, 900, 0.5, "finance"),
    ("support-drafter", 0.15, "gpt-4o", "gpt-4o-mini", 0.20, 2400, 0.6, "support"),
    ("churn-scorer", 0.12, "sklearn-gbm", None, 0.0, 8, 0.3, "growth"),
    ("doc-summariser", 0.08, "mistral-small", "gpt-4o-mini", 0.0, 1500, 0.55, "legal"),
]
USERS_PER_SYSTEM = 200
WRITERS = ("replica-a", "replica-b")
PRICE_PER_CALL_MICRO = {"gpt-4o-mini": 180, "gpt-4.1-nano": 90, "claude-3-5-haiku": 1100,
                        "gpt-4o": 4200, "sklearn-gbm": 0, "mistral-small": 300}


# ------------------------------------------------------------------ the data

def bucket_probabilities(median_ms: float, sigma: float):
    """P(latency falls in sketch bucket i) for a log-normal, over the buckets that matter."""
    import numpy as np

    from trimtab.store.latency_sketch import _LOG_GAMMA

    mu = math.log(median_ms)
    lo = math.floor((mu - 5 * sigma) / _LOG_GAMMA)
    hi = math.ceil((mu + 5 * sigma) / _LOG_GAMMA)
    edges = np.arange(lo - 1, hi + 1) * _LOG_GAMMA  # bucket i holds (g^(i-1), g^i]
    cdf = 0.5 * (1 + np.vectorize(math.erf)((edges - mu) / (sigma * math.sqrt(2))))
    probs = np.diff(cdf)
    probs /= probs.sum()
    return np.arange(lo, hi + 1), probs


class SketchMaker:
    """Sketch JSON for a row of n calls: bucket counts drawn from the system's latency."""

    def __init__(self, rng, median_ms: float, sigma: float):
        from trimtab.store.latency_sketch import GAMMA

        self.rng = rng
        self.index, self.probs = bucket_probabilities(median_ms, sigma)
        self.labels = [str(i) for i in self.index]
        self.values = [2 * GAMMA**i / (GAMMA + 1) for i in self.index]

    def many(self, counts) -> list[str]:
        import numpy as np

        drawn = self.rng.multinomial(np.asarray(counts), self.probs)
        out = []
        labels, values = self.labels, self.values
        for n, row in zip(counts, drawn, strict=True):
            hit = np.flatnonzero(row)
            buckets = ",".join(f'"{labels[i]}":{row[i]}' for i in hit)
            total = sum(values[i] * row[i] for i in hit)
            out.append(f'{{"b":{{{buckets}}},"n":{int(n)},"s":{round(float(total), 6)},'
                       f'"m":{round(values[hit[-1]], 3)}}}')
        return out


def grains(system: tuple) -> list[tuple[str, str, str, float]]:
    """(release, model, outcome, share of the system's calls) for one system."""
    name, _, model, fallback, canary, *_ = system
    out = []
    for release, r_share in ((f"{name}-r1", 1 - canary), (f"{name}-r2", canary)):
        for mdl, m_share in ((model, 0.97 if fallback else 1.0), (fallback, 0.03)):
            for outcome, o_share in (("ok", 0.98), ("error", 0.02)):
                share = r_share * m_share * o_share
                if share > 0 and mdl:
                    out.append((release.ljust(64, "0"), mdl, outcome, share))
    return out


def generate(store, calls: int, days: int, seed: int, end: datetime) -> dict:
    """Write the rollup rows; returns what they add up to."""
    import numpy as np

    from trimtab.store import bulk
    from trimtab.store.rollups import KEY, VALUES
    from trimtab.store.schema.call_log import rollups

    rng = np.random.default_rng(seed)
    start = (end - timedelta(days=days)).replace(second=0, microsecond=0)
    minutes = days * 1440
    moments = [start + timedelta(minutes=i) for i in range(minutes)]
    hour_of = np.array([(m.hour + m.minute / 60) for m in moments])
    daily = 0.35 + 0.65 * np.clip(np.sin((hour_of - 6) / 14 * math.pi), 0, None)  # busy days
    per_minute = daily / daily.sum() * calls
    totals = {"calls": 0, "cost_micro_usd": 0, "rows": 0}
    pending: list[tuple] = []

    def flush(force: bool = False) -> None:
        if pending and (force or len(pending) >= 50_000):
            with store.ingest() as conn:
                bulk.upsert(conn, rollups, pending, key=(*KEY, "writer"), update=VALUES)
            totals["rows"] += len(pending)
            pending.clear()

    def row(resolution, bucket, system, release, model, outcome, dimension, value, writer, n,
            tokens_in, tokens_out, cost, sketch):
        pending.append((resolution, bucket, system, "production", release, model, outcome,
                        dimension, value, writer, n, tokens_in, tokens_out, cost, 0, sketch))

    for system in SYSTEMS:
        name, share, *_, median, sigma, team = system
        maker = SketchMaker(rng, median, sigma)
        users = [f"{name}-user-{i}" for i in range(USERS_PER_SYSTEM)]
        for writer in WRITERS:
            # Per-minute calls of this system on this replica, split over its grains.
            lam = per_minute * share / len(WRITERS)
            system_minutes = rng.poisson(lam)
            user_hours: dict[tuple, int] = {}
            for release, model, outcome, g_share in grains(system):
                n = rng.binomial(system_minutes, g_share)
                present = np.flatnonzero(n)
                sketches = maker.many(n[present])
                price = PRICE_PER_CALL_MICRO[model] if outcome == "ok" else 0
                hours: dict[datetime, list[int]] = {}
                for i, sketch in zip(present, sketches, strict=True):
                    count = int(n[i])
                    bucket = moments[i]
                    row("m", bucket, name, release, model, outcome, "", "", writer, count,
                        count * 450, count * 120 if outcome == "ok" else 0, count * price, sketch)
                    hours.setdefault(bucket.replace(minute=0), []).append(count)
                    totals["calls"] += count
                    totals["cost_micro_usd"] += count * price
                    flush()
                days_: dict[datetime, int] = {}
                hour_list = list(hours.items())
                hour_sketches = maker.many([sum(c) for _, c in hour_list])
                for (hour, counts), sketch in zip(hour_list, hour_sketches, strict=True):
                    count = sum(counts)
                    for dimension, value in (("", ""), ("tag:team", team)):
                        row("h", hour, name, release, model, outcome, dimension, value, writer,
                            count, count * 450, count * 120 if outcome == "ok" else 0,
                            count * price, sketch)
                    days_[hour.replace(hour=0)] = days_.get(hour.replace(hour=0), 0) + count
                    user_hours[(hour, release, model, outcome)] = count
                    flush()
                day_list = list(days_.items())
                for (day, count), sketch in zip(day_list, maker.many([c for _, c in day_list]),
                                                strict=True):
                    for dimension, value in (("", ""), ("tag:team", team)):
                        row("d", day, name, release, model, outcome, dimension, value, writer,
                            count, count * 450, count * 120 if outcome == "ok" else 0,
                            count * price, sketch)
            # Users: every call names one of the system's users; rows per user and hour.
            user_days: dict[tuple, int] = {}
            keys = list(user_hours)
            per_user = rng.multinomial([user_hours[k] for k in keys],
                                       np.full(len(users), 1 / len(users)))
            flat = [(k, u, int(c)) for k, row_counts in zip(keys, per_user, strict=True)
                    for u, c in zip(users, row_counts, strict=True) if c]
            sketches = maker.many([c for *_, c in flat])
            for ((hour, release, model, outcome), user, count), sketch in zip(
                    flat, sketches, strict=True):
                price = PRICE_PER_CALL_MICRO[model] if outcome == "ok" else 0
                row("h", hour, name, release, model, outcome, "user", user, writer, count,
                    count * 450, count * 120 if outcome == "ok" else 0, count * price, sketch)
                day_key = (hour.replace(hour=0), release, model, outcome, user)
                user_days[day_key] = user_days.get(day_key, 0) + count
                flush()
            day_list = list(user_days.items())
            for ((day, release, model, outcome, user), count), sketch in zip(
                    day_list, maker.many([c for _, c in day_list]), strict=True):
                price = PRICE_PER_CALL_MICRO[model] if outcome == "ok" else 0
                row("d", day, name, release, model, outcome, "user", user, writer, count,
                    count * 450, count * 120 if outcome == "ok" else 0, count * price, sketch)
                flush()
        report.console.print(f"  {name}: {totals['calls']:,} calls so far, "
                             f"{totals['rows'] + len(pending):,} rows")
    flush(force=True)
    return totals


# ------------------------------------------------------------------ the queries

def timed_queries(ws, runs: int, end: datetime) -> dict:
    queries = {
        "30d p50/p95/p99 + cost by model": dict(window=timedelta(days=30), by=("model",)),
        "30d p50/p95/p99 overall": dict(window=timedelta(days=30)),
        "30d by system (info)": dict(window=timedelta(days=30), by=("system",)),
        "24h by model (info)": dict(window=timedelta(hours=24), by=("model",)),
        "30d by user (info)": dict(window=timedelta(days=30), by=("user",)),
    }
    out = {}
    for name, kwargs in queries.items():
        times, rows = [], None
        for i in range(runs + 1):
            t0 = time.perf_counter()
            rows = ws.metrics(**kwargs, end=end)
            if i:  # the first run warms the page cache and the connection pool
                times.append((time.perf_counter() - t0) * 1000)
        out[name] = {"kwargs": {k: str(v) for k, v in kwargs.items()}, "runs_ms": times,
                     "median_ms": report.median(times), "groups": len(rows),
                     "calls": sum(r.calls for r in rows),
                     "goal_ms": GOAL_MS if "(info)" not in name else None,
                     "sample": [r.to_dict() for r in rows[:3]]}
    return out


def prepare(url_kind: str, url: str | None, args, end: datetime, folder: Path) -> tuple[str, dict]:
    """A store holding the data: reused when built with the same parameters."""
    from trimtab.store import Store

    stamp = {"calls": args.calls, "days": args.days, "seed": args.seed, "format": 1}
    if url_kind == "sqlite":
        CACHE.mkdir(parents=True, exist_ok=True)
        path = CACHE / f"metrics-{args.calls}-{args.days}-{args.seed}.db"
        meta = path.with_suffix(".json")
        url = f"sqlite:///{path}"
        if not args.rebuild and meta.exists() and json.loads(meta.read_text())["stamp"] == stamp:
            return url, json.loads(meta.read_text())
        url = databases.fresh_sqlite(CACHE, path.name)
    else:
        meta = CACHE / f"metrics-postgres-{args.calls}-{args.days}-{args.seed}.json"
        from trimtab.errors import TrimtabError

        try:
            store = Store(url)
        except TrimtabError:  # the scratch database does not exist yet
            store = None
        if store is not None and not args.rebuild and meta.exists():
            from trimtab.store.rollups import rollups

            with store.read() as conn:
                from sqlalchemy import func, select

                count = conn.execute(select(func.count()).select_from(rollups)).scalar_one()
            saved = json.loads(meta.read_text())
            store.dispose()
            if saved["stamp"] == stamp and count == saved["rows"]:
                return url, saved
        if store is not None:
            store.dispose()
        url = databases.fresh_postgres(url)
    store = Store(url)
    report.console.print(f"building {args.calls:,} calls over {args.days} days in {url_kind} ...")
    t0 = time.perf_counter()
    made = generate(store, args.calls, args.days, args.seed, end)
    if url_kind == "postgresql":
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE rollups")
    else:
        with store.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
    store.dispose()
    saved = {"stamp": stamp, "end": end.isoformat(), "build_seconds": time.perf_counter() - t0,
             **made}
    CACHE.mkdir(parents=True, exist_ok=True)
    meta.write_text(json.dumps(saved))
    return url, saved


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--postgres", help="scratch database, dropped and created "
                        f"(default {databases.DEFAULT_POSTGRES.rsplit('/', 1)[0]}/"
                        "trimtab_bench_metrics)")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    import trimtab

    targets = [("sqlite", None)]
    if not args.skip_postgres:
        url = args.postgres or databases.postgres_url().rsplit("/", 1)[0] + "/trimtab_bench_metrics"
        why = databases.postgres_reachable(url)
        if why:
            report.console.print(f"[yellow]PostgreSQL skipped[/]: {why}")
        else:
            targets.append(("postgresql", url))
    results, rows, ok = {}, [], True
    with tempfile.TemporaryDirectory(prefix="trimtab-metrics-") as tmp:
        for kind, url in targets:
            end = datetime.now(UTC).replace(second=0, microsecond=0)
            store_url, built = prepare(kind, url, args, end, Path(tmp))
            # Query the window the data covers (it may have been built earlier).
            end = datetime.fromisoformat(built["end"])
            ws = trimtab.connect(database_url=store_url)
            measured = timed_queries(ws, args.runs, end)
            ws.close()
            results[kind] = {"built": built, "queries": measured}
            for name, m in measured.items():
                met = None if m["goal_ms"] is None else m["median_ms"] < m["goal_ms"]
                ok &= met is not False
                rows.append((kind, name, m["median_ms"], min(m["runs_ms"]), max(m["runs_ms"]),
                             m["groups"], m["calls"], met))
            exact = measured["30d p50/p95/p99 overall"]["calls"] == built["calls"]
            ok &= exact
            report.console.print(f"{kind}: {built['rows']:,} rollup rows for {built['calls']:,} "
                                 f"calls (built in {built['build_seconds'] or 0:.0f} s); 30-day "
                                 f"total {'matches' if exact else 'DOES NOT match'}")
    report.show(
        f"Metrics over 30 days of {args.calls:,} calls (ms, median of {args.runs})",
        ["db", "query", "median", "min", "max", "groups", "calls", f"< {GOAL_MS} ms"], rows,
    )
    report.write("metrics_at_scale", {"calls": args.calls, "days": args.days, "runs": args.runs,
                                      "goal_ms": GOAL_MS, "results": results, "ok": ok}, args.out)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
