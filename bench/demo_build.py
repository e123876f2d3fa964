"""`trimtab demo` at full size: seconds per step and in all (goal: under 60 s).

    .venv/bin/python bench/demo_build.py                  # full size, SQLite
    .venv/bin/python bench/demo_build.py --postgres       # also on PostgreSQL
    .venv/bin/python bench/demo_build.py --scale 0.2      # a quick run

The tests build the demo at a reduced traffic scale (tests/demo); this builds
the size the README's first command builds, through the same code
(trimtab.demo.build), and checks what the tests check at small size: four
systems at four different stages. Writes bench/results/demo_build.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import databases
import report

GOAL_S = 60


def run(kind: str, url: str, folder: Path, scale: float) -> dict:
    from trimtab.demo import build, write_files
    from trimtab.workspace import connect

    write_files(folder)
    steps: list[tuple[str, float]] = []
    last = [time.perf_counter()]

    def step(what: str, share: float) -> None:
        now = time.perf_counter()
        if steps and steps[-1][0] == what:
            steps[-1] = (what, steps[-1][1] + now - last[0])
        else:
            steps.append((what, now - last[0]))
        last[0] = now

    t0 = time.perf_counter()
    with connect(folder, database_url=url) as ws:
        story = build(ws, scale=scale, progress=step)
    total = time.perf_counter() - t0
    # step(what) marks the start of `what`: each duration belongs to the step before
    named = [(steps[i][0], steps[i + 1][1]) for i in range(len(steps) - 1)]
    return {"store": kind, "scale": scale, "seconds": round(total, 1),
            "calls": sum(story.calls.values()), "labels": story.labels,
            "stages": {s: list(v) for s, v in story.stages.items()},
            "distinct_stages": len({v[0] for v in story.stages.values()}) == 4,
            "steps": [{"step": w, "seconds": round(s, 2)} for w, s in named],
            "ok": total < GOAL_S}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--postgres", nargs="?", const=databases.DEFAULT_POSTGRES,
                        help="also build on PostgreSQL (a scratch database, recreated)")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="trimtab-demo-bench-") as tmp:
        folder = Path(tmp) / "sqlite"
        folder.mkdir()
        results.append(run("sqlite", databases.fresh_sqlite(folder), folder, args.scale))
        if args.postgres:
            folder = Path(tmp) / "postgres"
            folder.mkdir()
            results.append(run("postgresql", databases.fresh_postgres(args.postgres), folder,
                               args.scale))
    for r in results:
        report.show(f"trimtab demo on {r['store']}: {r['calls']:,} calls, {r['labels']:,} "
                    f"labels in {r['seconds']} s (goal < {GOAL_S} s)", ["step", "seconds"],
                    [(s["step"], s["seconds"]) for s in r["steps"]],
                    caption="stages: " + ", ".join(f"{k} {v[0]}/{v[1]}"
                                                   for k, v in r["stages"].items()))
    report.write("demo_build", {"goal_s": GOAL_S, "results": results})
    return 0 if all(r["ok"] and r["distinct_stages"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
