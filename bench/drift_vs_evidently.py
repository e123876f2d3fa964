"""Drift detection: trimtab vs Evidently's DataDriftPreset on the same data.

One command (from the repository root):

    .venv/bin/python bench/drift_vs_evidently.py            # 1M rows, both sides
    .venv/bin/python bench/drift_vs_evidently.py --rows 100000 --evidently-runs 2

It generates a deterministic synthetic reference and current window (fixed
seed; 20 numeric + 5 categorical columns, exactly two of them drifted), saves
them once, and runs each side in its own subprocess on the very same arrays,
so peak memory (``ru_maxrss``) is each side's own. Evidently runs from
``bench/.venv-evidently`` (created here with ``evidently`` and ``pandas<3`` if
missing); trimtab runs from the interpreter that runs this script.

trimtab's timed work is everything a monitor does: profile the reference and
serialise it (the stored baseline), then load that JSON and check the raw
current window against it. Evidently's timed work is ``Report.run``. Prints a
per-column table (verdicts side by side, disagreements flagged) and writes
``bench/results/drift_vs_evidently.json``. Exits 1 if any verdict disagrees.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EV_VENV = ROOT / "bench" / ".venv-evidently"
EV_PYTHON = EV_VENV / "bin" / "python"
RESULT = ROOT / "bench" / "results" / "drift_vs_evidently.json"
SEED = 20_240_611
DRIFTED = {"num_07_latency", "cat_1_intent"}


# ------------------------------------------------------------------ the data

def generate(rows: int, out: Path) -> dict:
    """Write reference/current arrays as .npy; returns the column plan."""
    import numpy as np

    plan = {"numeric": [], "categorical": {}}
    for window, seed in (("ref", SEED), ("cur", SEED + 1)):
        rng = np.random.default_rng(seed)
        cur = window == "cur"
        numeric = {
            "num_00_normal": rng.normal(0, 1, rows),
            "num_01_normal_wide": rng.normal(50, 12, rows),
            "num_02_uniform": rng.uniform(-3, 3, rows),
            "num_03_exponential": rng.exponential(2.0, rows),
            "num_04_lognormal": rng.lognormal(0, 1, rows),
            "num_05_gamma": rng.gamma(2.0, 3.0, rows),
            "num_06_beta": rng.beta(2, 5, rows),
            # Drifted: latency shifts by 0.3 std (normed Wasserstein ~0.3 >= 0.1).
            "num_07_latency": rng.normal(400 + (36 if cur else 0), 120, rows),
            "num_08_student_t": rng.standard_t(3, rows),
            "num_09_bimodal": np.where(rng.random(rows) < 0.4, rng.normal(-2, 0.5, rows),
                                       rng.normal(3, 1, rows)),
            "num_10_cost": rng.gamma(1.5, 0.002, rows),
            "num_11_tokens": rng.poisson(350, rows).astype(np.float64),
            "num_12_rating": rng.choice([1, 2, 3, 4, 5], rows, p=[.05, .1, .2, .35, .3]) * 1.0,
            "num_13_with_nans": rng.normal(10, 2, rows),
            "num_14_zero_inflated": np.where(rng.random(rows) < 0.3, 0.0,
                                             rng.exponential(5, rows)),
            "num_15_laplace": rng.laplace(0, 2, rows),
            "num_16_weibull": rng.weibull(1.5, rows),
            "num_17_chisq": rng.chisquare(4, rows),
            "num_18_rounded": np.round(rng.normal(100, 15, rows), 1),
            "num_19_pareto": rng.pareto(3.0, rows),
        }
        numeric["num_13_with_nans"][rng.random(rows) < 0.05] = np.nan
        plan["numeric"] = list(numeric)
        for name, values in numeric.items():
            np.save(out / f"{window}.{name}.npy", values.astype(np.float32))
        categorical = {
            "cat_0_model": (["gpt-small", "gpt-large", "claude"], [.5, .3, .2]),
            # Drifted: the intent mix moves from support to sales (JS ~0.2 >= 0.1).
            "cat_1_intent": ([f"intent_{i:02d}" for i in range(12)],
                             [.25, .15, .1, .1, .08, .08, .06, .05, .05, .04, .02, .02] if not cur
                             else [.08, .15, .1, .1, .08, .08, .06, .05, .05, .04, .1, .11]),
            "cat_2_refusal": (["no", "yes"], [.97, .03]),
            "cat_3_customer": ([f"cust_{i:03d}" for i in range(50)],
                               list(np.arange(1, 51) ** -1.1 / (np.arange(1, 51) ** -1.1).sum())),
            "cat_4_language": (["en", "de", "fr", "es", "it", "nl", None],
                               [.6, .12, .1, .08, .05, .03, .02]),
        }
        for name, (labels, probs) in categorical.items():
            codes = rng.choice(len(labels), rows, p=np.asarray(probs) / np.sum(probs))
            np.save(out / f"{window}.{name}.npy", codes.astype(np.int8))
            plan["categorical"][name] = labels
    (out / "plan.json").write_text(json.dumps(plan))
    return plan


def load(data: Path, window: str) -> dict:
    """Numeric columns as float32 arrays, categorical as object arrays of str/None."""
    import numpy as np

    plan = json.loads((data / "plan.json").read_text())
    cols = {n: np.load(data / f"{window}.{n}.npy") for n in plan["numeric"]}
    for name, labels in plan["categorical"].items():
        codes = np.load(data / f"{window}.{name}.npy")
        cols[name] = np.array(labels, dtype=object)[codes]
    return cols


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


# ------------------------------------------------------------------ workers

def worker_trimtab(data: Path, runs: int) -> dict:
    from trimtab.observe import drift

    ref, cur = load(data, "ref"), load(data, "cur")
    loaded_mb = peak_mb()
    times, profile_times, check_times = [], [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        stored = drift.profile(ref).to_json()  # the baseline the store would keep
        t1 = time.perf_counter()
        report = drift.check_drift(drift.DatasetProfile.from_json(stored), cur)
        t2 = time.perf_counter()
        times.append(t2 - t0)
        profile_times.append(t1 - t0)
        check_times.append(t2 - t1)
    return {
        "seconds": times, "profile_seconds": profile_times, "check_seconds": check_times,
        "loaded_mb": loaded_mb, "peak_mb": peak_mb(), "profile_json_bytes": len(stored),
        "share": report.share, "dataset_drift": report.dataset_drift,
        "columns": {c.column: {"test": c.test_label, "score": c.score, "drifted": c.drifted,
                               "p_value": c.p_value, "threshold": c.threshold,
                               "error_bound": c.error_bound, "certain": c.certain,
                               "n_reference": c.n_reference, "n_current": c.n_current,
                               "status": c.status, "kind": c.kind}
                    for c in report.columns},
    }


def worker_evidently(data: Path, runs: int) -> dict:
    import warnings

    import evidently
    import pandas as pd
    from evidently import Report
    from evidently.presets import DataDriftPreset

    warnings.filterwarnings("ignore")
    ref, cur = pd.DataFrame(load(data, "ref")), pd.DataFrame(load(data, "cur"))
    loaded_mb = peak_mb()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        snapshot = Report([DataDriftPreset()], include_tests=True).run(cur, ref)
        times.append(time.perf_counter() - t0)
    result = snapshot.dict()
    columns, share = {}, None
    for metric in result["metrics"]:
        config = metric["config"]
        if config["type"].endswith("ValueDrift"):
            columns[config["column"]] = {"test": config["method"], "score": metric["value"],
                                         "threshold": config["threshold"]}
        elif config["type"].endswith("DriftedColumnsCount"):
            share = metric["value"]["share"]
    prefix = "Value Drift for column "
    for test in result["tests"]:
        if test["name"].startswith(prefix):
            columns[test["name"][len(prefix):]]["drifted"] = test["status"] == "FAIL"
    return {"seconds": times, "loaded_mb": loaded_mb, "peak_mb": peak_mb(), "share": share,
            "columns": columns, "version": evidently.__version__, "pandas": pd.__version__}


# ------------------------------------------------------------------ driver

def ensure_evidently() -> None:
    probe = [str(EV_PYTHON), "-c", "import evidently, pandas"]
    if EV_PYTHON.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return
    print(f"installing evidently into {EV_VENV} (one-off) ...", flush=True)
    venv.create(EV_VENV, with_pip=True)
    subprocess.run([str(EV_PYTHON), "-m", "pip", "install", "-q", "evidently", "pandas<3"],
                   check=True)


def run_worker(python: Path | str, side: str, data: Path, runs: int) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = Path(handle.name)
    cmd = [str(python), __file__, "--worker", side, "--data", str(data), "--runs", str(runs),
           "--worker-out", str(out)]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    subprocess.run(cmd, check=True, env=env)
    result = json.loads(out.read_text())
    out.unlink()
    return result


def compare(tt: dict, ev: dict | None) -> tuple[list[dict], int]:
    rows, disagreements = [], 0
    for name, t in tt["columns"].items():
        e = (ev or {"columns": {}})["columns"].get(name)
        agree = e is not None and e.get("drifted") == t["drifted"]
        disagreements += ev is not None and not agree
        rows.append({"column": name, "trimtab": t, "evidently": e, "agree": agree,
                     "really_drifted": name in DRIFTED})
    return rows, disagreements


def fmt(value) -> str:
    return "-" if value is None else f"{value:.4g}"


def print_table(rows: list[dict], tt: dict, ev: dict | None, args) -> None:
    head = (f"{'column':22} {'trimtab test':30} {'score':>10} {'drift':>6} | "
            f"{'Evidently test':30} {'score':>10} {'drift':>6}  agree")
    print(head)
    print("-" * len(head))
    for r in rows:
        t, e = r["trimtab"], r["evidently"] or {}
        mark = "yes" if r["agree"] else ("n/a" if ev is None else "NO  <<<")
        print(f"{r['column']:22} {str(t['test']):30} {fmt(t['score']):>10} "
              f"{str(t['drifted']):>6} | {str(e.get('test', '-')):30} {fmt(e.get('score')):>10} "
              f"{str(e.get('drifted', '-')):>6}  {mark}")
    print()
    med = statistics.median(tt["seconds"])
    print(f"rows per window: {args.rows:,}; trimtab runs: {args.runs} (median), "
          f"Evidently runs: {args.evidently_runs if ev else 0}")
    print(f"trimtab   : {med:8.2f} s  (profile+JSON {statistics.median(tt['profile_seconds']):.2f}"
          f" s, check {statistics.median(tt['check_seconds']):.2f} s)  peak RSS "
          f"{tt['peak_mb']:7.0f} MB (data loaded: {tt['loaded_mb']:.0f} MB)  "
          f"share drifted {tt['share']:.3f}  baseline JSON {tt['profile_json_bytes'] / 1e3:.0f} kB")
    if ev:
        emed = statistics.median(ev["seconds"])
        print(f"Evidently : {emed:8.2f} s  peak RSS {ev['peak_mb']:7.0f} MB (data loaded: "
              f"{ev['loaded_mb']:.0f} MB)  share drifted {ev['share']:.3f}  "
              f"(evidently {ev['version']}, pandas {ev['pandas']})")
        print(f"speed-up  : {emed / med:8.1f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5, help="trimtab repetitions (median)")
    parser.add_argument("--evidently-runs", type=int, default=1,
                        help="Evidently repetitions (~2 min each at 1M rows)")
    parser.add_argument("--skip-evidently", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULT)
    parser.add_argument("--worker", choices=["trimtab", "evidently"], help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--worker-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        work = worker_trimtab if args.worker == "trimtab" else worker_evidently
        args.worker_out.write_text(json.dumps(work(args.data, args.runs)))
        return 0

    if not args.skip_evidently:
        ensure_evidently()
    with tempfile.TemporaryDirectory(prefix="trimtab-drift-bench-") as tmp:
        data = Path(tmp)
        print(f"generating {args.rows:,} rows x 25 columns per window (seed {SEED}) ...",
              flush=True)
        generate(args.rows, data)
        print("running trimtab ...", flush=True)
        tt = run_worker(sys.executable, "trimtab", data, args.runs)
        ev = None
        if not args.skip_evidently:
            print("running Evidently DataDriftPreset (slow) ...", flush=True)
            ev = run_worker(EV_PYTHON, "evidently", data, args.evidently_runs)
    rows, disagreements = compare(tt, ev)
    print()
    print_table(rows, tt, ev, args)
    false_alarms = [r["column"] for r in rows
                    if r["trimtab"]["drifted"] and not r["really_drifted"]]
    missed = [r["column"] for r in rows if r["really_drifted"] and not r["trimtab"]["drifted"]]
    print(f"verdict disagreements: {disagreements if ev else 'n/a'}; false alarms: "
          f"{false_alarms or 'none'}; missed drifts: {missed or 'none'}")
    summary = {
        "rows": args.rows, "seed": SEED, "really_drifted": sorted(DRIFTED),
        "trimtab_runs": args.runs, "evidently_runs": args.evidently_runs if ev else 0,
        "trimtab_median_s": statistics.median(tt["seconds"]),
        "evidently_median_s": statistics.median(ev["seconds"]) if ev else None,
        "speedup": statistics.median(ev["seconds"]) / statistics.median(tt["seconds"])
        if ev else None,
        "disagreements": disagreements if ev else None,
        "false_alarms": false_alarms, "missed": missed,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "trimtab": tt, "evidently": ev, "table": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2, default=str))
    print(f"wrote {args.out}")
    return 1 if disagreements or false_alarms or missed else 0


if __name__ == "__main__":
    sys.exit(main())
