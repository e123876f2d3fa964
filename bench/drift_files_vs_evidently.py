"""Drift from files: trimtab vs Evidently on the same CSV (or Parquet) pair.

One command (from the repository root):

    .venv/bin/python bench/drift_files_vs_evidently.py            # 200,000 / 150,000 rows
    .venv/bin/python bench/drift_files_vs_evidently.py --format parquet

A team's check of its own tables: generate a reference and a current table
(``drift_vs_evidently.py``'s columns: 20 numeric + 5 categorical, two really
drifted), write them once as files, then each side, in its own subprocess,
goes from the files to the verdicts:

- **trimtab**: ``ws.drift(system, reference=FILE, current=FILE, save=False)``
  on a fresh ``trimtab init`` project (SQLite), i.e. what
  ``trimtab drift check SYSTEM --reference ref.csv --current cur.csv`` does.
- **Evidently** (``bench/.venv-evidently``, installed here if missing):
  ``pandas.read_csv`` (or ``read_parquet``) of both files, then
  ``Report([DataDriftPreset()]).run(current, reference)``.

Peak memory is each subprocess's ``ru_maxrss``. Goal: trimtab takes at most a
fifth of Evidently's time. Prints a table and writes
``bench/results/drift_files_vs_evidently.json``; exits 1 when the goal is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import report  # noqa: E402
from drift_vs_evidently import EV_PYTHON, ensure_evidently, generate, load  # noqa: E402

RESULT = report.RESULTS / "drift_files_vs_evidently.json"
GOAL = 5.0  # Evidently's time / trimtab's


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def write_files(rows_ref: int, rows_cur: int, fmt: str, out: Path) -> tuple[Path, Path]:
    """The generated windows as files, with their labels as text."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    paths = []
    for window, rows in (("ref", rows_ref), ("cur", rows_cur)):
        data = out / window
        data.mkdir()
        generate(rows, data)
        columns = load(data, window)
        table = pa.table({name: pa.array(values.tolist() if values.dtype == object
                                         else values.astype("float64"))
                          for name, values in columns.items()})
        path = out / f"{window}.{fmt}"
        if fmt == "csv":
            pa_csv.write_csv(table, path)
        else:
            pq.write_table(table, path)
        paths.append(path)
    return paths[0], paths[1]


def worker_trimtab(ref: Path, cur: Path, runs: int, project: Path) -> dict:
    import trimtab

    times = []
    with trimtab.connect(project, database_url=f"sqlite:///{project}/bench.db") as ws:
        for _ in range(runs):
            t0 = time.perf_counter()
            result = ws.drift("complaint-router", reference=ref, current=cur, save=False)
            times.append(time.perf_counter() - t0)
    return {"seconds": times, "peak_mb": peak_mb(), "share": result.report.share,
            "drifted": sorted(c.column.removeprefix("input.")
                              for c in result.report.columns if c.drifted)}


def worker_evidently(ref: Path, cur: Path, runs: int, project: Path) -> dict:
    import warnings

    import evidently
    import pandas as pd
    from evidently import Report
    from evidently.presets import DataDriftPreset

    warnings.filterwarnings("ignore")
    read = pd.read_csv if ref.suffix == ".csv" else pd.read_parquet
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        reference, current = read(ref), read(cur)
        snapshot = Report([DataDriftPreset()], include_tests=True).run(current, reference)
        times.append(time.perf_counter() - t0)
    result = snapshot.dict()
    prefix = "Value Drift for column "
    drifted = sorted(t["name"][len(prefix):] for t in result["tests"]
                     if t["name"].startswith(prefix) and t["status"] == "FAIL")
    share = next(m["value"]["share"] for m in result["metrics"]
                 if m["config"]["type"].endswith("DriftedColumnsCount"))
    return {"seconds": times, "peak_mb": peak_mb(), "share": share, "drifted": drifted,
            "version": evidently.__version__, "pandas": pd.__version__}


def run_worker(python: Path | str, side: str, args, ref: Path, cur: Path, runs: int,
               project: Path) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = Path(handle.name)
    cmd = [str(python), __file__, "--worker", side, "--ref", str(ref), "--cur", str(cur),
           "--runs", str(runs), "--project", str(project), "--worker-out", str(out)]
    subprocess.run(cmd, check=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    result = json.loads(out.read_text())
    out.unlink()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-rows", type=int, default=200_000)
    parser.add_argument("--current-rows", type=int, default=150_000)
    parser.add_argument("--format", choices=["csv", "parquet"], default="csv")
    parser.add_argument("--runs", type=int, default=3, help="repetitions per side (median)")
    parser.add_argument("--out", type=Path, default=RESULT)
    parser.add_argument("--worker", choices=["trimtab", "evidently"], help=argparse.SUPPRESS)
    parser.add_argument("--ref", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--cur", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--project", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--worker-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        work = worker_trimtab if args.worker == "trimtab" else worker_evidently
        args.worker_out.write_text(json.dumps(work(args.ref, args.cur, args.runs,
                                                   args.project)))
        return 0

    ensure_evidently()
    with tempfile.TemporaryDirectory(prefix="trimtab-drift-files-") as tmp:
        tmp_path = Path(tmp)
        print(f"writing {args.reference_rows:,} / {args.current_rows:,} rows x 25 columns "
              f"as {args.format} ...", flush=True)
        ref, cur = write_files(args.reference_rows, args.current_rows, args.format, tmp_path)
        project = tmp_path / "project"
        subprocess.run([str(Path(sys.executable).parent / "trimtab"), "init", str(project)],
                       check=True, capture_output=True)
        sizes = {"reference_mb": ref.stat().st_size / 1e6, "current_mb": cur.stat().st_size / 1e6}
        print("running trimtab ...", flush=True)
        tt = run_worker(sys.executable, "trimtab", args, ref, cur, args.runs, project)
        print("running Evidently ...", flush=True)
        ev = run_worker(EV_PYTHON, "evidently", args, ref, cur, args.runs, project)
    t_med, e_med = statistics.median(tt["seconds"]), statistics.median(ev["seconds"])
    ratio = e_med / t_med
    report.show(
        f"Drift from {args.format} files: {args.reference_rows:,} / {args.current_rows:,} rows "
        f"x 25 columns (median of {args.runs})",
        ["side", "seconds", "peak RSS MB", "share drifted", "drifted columns"],
        [("trimtab", f"{t_med:.2f}", f"{tt['peak_mb']:.0f}", f"{tt['share']:.3f}",
          ", ".join(tt["drifted"])),
         (f"Evidently {ev['version']}", f"{e_med:.2f}", f"{ev['peak_mb']:.0f}",
          f"{ev['share']:.3f}", ", ".join(ev["drifted"]))],
        caption=f"trimtab takes 1/{ratio:.1f} of Evidently's time (goal: at most 1/{GOAL:.0f})",
    )
    summary = {"format": args.format, "reference_rows": args.reference_rows,
               "current_rows": args.current_rows, "runs": args.runs, **sizes,
               "trimtab_median_s": t_med, "evidently_median_s": e_med, "ratio": ratio,
               "goal_ratio": GOAL, "trimtab": tt, "evidently": ev,
               "machine": report.machine()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2))
    print(f"wrote {args.out}")
    return 0 if ratio >= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
