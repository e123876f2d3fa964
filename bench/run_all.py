"""Run every benchmark, one after another, and print one summary table.

    .venv/bin/python bench/run_all.py              # everything (~45 min on 2 cores)
    .venv/bin/python bench/run_all.py --quick      # smaller sizes (~10 min)
    .venv/bin/python bench/run_all.py --only startup sdk_overhead

One at a time on purpose: on a 2-core machine two benchmarks running together
would measure each other. Each script keeps its own table and JSON under
``bench/results/``; this prints the headline of each and writes
``bench/results/summary.json``. Exits 1 if any benchmark missed its goal.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import report

ROOT = report.ROOT
PY = str(ROOT / ".venv" / "bin" / "python")

# name -> (full arguments, --quick arguments)
BENCHES = {
    "startup": ([], ["--runs", "10"]),
    "sdk_overhead": ([], ["--calls", "5000"]),
    "telemetry_overhead": ([], ["--calls", "5000"]),
    "recorder_ingest": ([], ["--records", "50000"]),
    "metrics_at_scale": ([], ["--calls", "1000000", "--runs", "3"]),
    "evidence_export": ([], ["--calls", "50000"]),
    "dashboard_pages": ([], ["--calls", "200000", "--runs", "3"]),
    "demo_build": ([], ["--scale", "0.2"]),
    "call_search": ([], ["--calls", "50000"]),
    "sampled_scoring": ([], ["--calls", "20000"]),
    "gateway_vs_litellm": ([], ["--duration", "5", "--memory-requests", "20000",
                                "--profile", "10"]),
    "drift_vs_evidently": ([], ["--rows", "100000", "--evidently-runs", "1"]),
    "db_copy": ([], ["--calls", "20000"]),
    "drift_files_vs_evidently": ([], ["--reference-rows", "50000", "--current-rows", "40000",
                                      "--runs", "1"]),
    "evals_vs_promptfoo": ([], ["--big", "0"]),
}


def headline(name: str) -> list[tuple[str, str]]:
    """(what, value) lines from a benchmark's JSON result."""
    path = report.RESULTS / f"{name}.json"
    if not path.exists():
        return [("result", "missing")]
    data = json.loads(path.read_text())
    out: list[tuple[str, str]] = []
    if name == "startup":
        for what, r in data["results"].items():
            out.append((what, f"{r['median_ms']:.0f} ms"))
    elif name in ("sdk_overhead", "telemetry_overhead"):
        for what, r in data["results"].items():
            if "median_us" in r:
                out.append((what.strip(),
                            f"median {r['median_us']:.1f} us, p99 {r['p99_us']:.1f} us"))
    elif name == "recorder_ingest":
        for what, r in data["results"].items():
            out.append((what, f"{r['rate']:,.0f} records/s, totals exact: {r['ok']}"))
    elif name == "evidence_export":
        for r in data["results"]:
            out.append((r["database"], f"{r['rows_per_cpu_s']:,.0f} calls per CPU s, "
                        f"RSS +{r['rss_growth_mb']:.0f} MB, verifies: {r['verifies']}"))
    elif name == "call_search":
        for r in data["results"]:
            if r["default_bound"]:
                out.append((f"{r['database']}: {r['term']}", f"{r['ms']:.0f} ms"))
    elif name == "sampled_scoring":
        for r in data["results"]:
            out.append((r["database"], f"slowest cycle {r['max_tick_ms']:.0f} ms, "
                        f"{r['calls_read_per_s']:,.0f} calls read/s, scored once: {r['once']}"))
    elif name == "dashboard_pages":
        for r in data["results"]:
            slowest = max(r["pages"], key=lambda p: p["median_ms"])
            out.append((f"{r['store']}: slowest page of {r['calls']:,} calls",
                        f"{slowest['page']} {slowest['median_ms']:.0f} ms"))
    elif name == "demo_build":
        for r in data["results"]:
            out.append((f"demo on {r['store']}", f"{r['seconds']:.0f} s, {r['calls']:,} calls"))
    elif name == "metrics_at_scale":
        for db, r in data["results"].items():
            for what, q in r["queries"].items():
                out.append((f"{db}: {what}", f"{q['median_ms']:.0f} ms"))
    elif name == "gateway_vs_litellm":
        direct = data["targets"]["direct"]["runs"]
        for target, r in data["targets"].items():
            if target == "direct":
                continue
            for c in ("1", "64"):
                run = r["runs"][c]
                added_p50 = run["p50_ms"] - direct[c]["p50_ms"]
                added_p99 = run["p99_ms"] - direct[c]["p99_ms"]
                out.append((f"{target} c={c}",
                            f"added p50 {added_p50:.1f} ms, added p99 {added_p99:.1f} ms"))
            out.append((f"{target} max req/s (<1% errors)", f"{r['max_sustained_rps']:,.0f}"))
            out.append((f"{target} start-up", f"{r.get('startup_s', 0):.2f} s"))
            if r.get("memory"):
                m = r["memory"]
                out.append((f"{target} RSS after {m['requests']:,} requests",
                            f"{m['rss_end_mb']:.0f} MB, +{m['growth_second_half_percent']:.1f}%"
                            " over the second half"))
            if "all_recorded" in r:
                out.append((f"{target} every call recorded", str(r["all_recorded"])))
    elif name == "evals_vs_promptfoo":
        for what, r in data["results"].items():
            out.append((what, f"{r['wall_s']:.2f} s (ideal {r['ideal_s']:.2f} s), first "
                        f"request {r['first_request_s'] or 0:.2f} s, {r['peak_rss_mb']:.0f} MB"))
    elif name == "drift_vs_evidently":
        out.append(("speed-up vs Evidently", f"{data.get('speedup') or 0:.1f}x"))
    elif name == "db_copy":
        for r in data["results"]:
            out.append((r["direction"], f"{r['seconds']:.1f} s, {r['rows_per_s']:,.0f} rows/s, "
                        f"identical: {r['identical_and_chain_verifies']}"))
    elif name == "drift_files_vs_evidently":
        out.append(("from files: share of Evidently's time",
                    f"1/{data.get('ratio') or 0:.1f} ({data['trimtab_median_s']:.2f} s vs "
                    f"{data['evidently_median_s']:.2f} s)"))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="+", choices=list(BENCHES))
    args = parser.parse_args()
    codes, seconds, rows = {}, {}, []
    for name in args.only or BENCHES:
        full, quick = BENCHES[name]
        report.console.rule(f"bench/{name}.py")
        t0 = time.perf_counter()
        codes[name] = subprocess.run([PY, str(ROOT / "bench" / f"{name}.py"),
                                      *(quick if args.quick else full)]).returncode
        seconds[name] = time.perf_counter() - t0
    for name in codes:
        for what, value in headline(name):
            rows.append((name, what, value))
        rows.append((name, "goal met (exit code 0)", "yes" if codes[name] == 0 else "NO"))
    report.show("All benchmarks", ["bench", "measure", "value"], rows)
    report.write("summary", {"quick": args.quick, "exit_codes": codes, "seconds": seconds,
                             "rows": rows})
    return 0 if not any(codes.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
