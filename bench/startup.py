"""Start-up time: `import trimtab`, `trimtab --help`, and LiteLLM's for comparison.

    .venv/bin/python bench/startup.py              # 20 runs each (median)
    .venv/bin/python bench/startup.py --runs 50

Times whole processes, the way a user meets them: hyperfine (``-N``, no shell,
3 warm-up runs so the files are in the page cache) when it is installed
(``apt-get install hyperfine``), else ``subprocess`` timed with
``perf_counter``. The interpreter's own start (``python -c pass``) is shown so
the rest reads as what trimtab adds. When ``bench/.venv-litellm`` exists
(``gateway_vs_litellm.py`` creates it) LiteLLM's import and ``--help`` are
timed too. Goals: ``import trimtab`` <= 150 ms, ``trimtab --help`` <= 400 ms.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import report

ROOT = report.ROOT
PY = str(ROOT / ".venv" / "bin" / "python")
TRIMTAB = str(ROOT / ".venv" / "bin" / "trimtab")
LITELLM_VENV = ROOT / "bench" / ".venv-litellm" / "bin"
GOALS_MS = {"import trimtab": 150, "trimtab --help": 400}


def cases() -> list[tuple[str, list[str]]]:
    found = [
        ("python -c pass (interpreter floor)", [PY, "-c", "pass"]),
        ("import trimtab", [PY, "-c", "import trimtab"]),
        ("trimtab --help", [TRIMTAB, "--help"]),
        ("import trimtab.workspace (all of the SDK)", [PY, "-c", "import trimtab.workspace"]),
    ]
    if (LITELLM_VENV / "python").exists():
        found += [
            ("import litellm (peer)", [str(LITELLM_VENV / "python"), "-c", "import litellm"]),
            ("litellm --help (peer)", [str(LITELLM_VENV / "litellm"), "--help"]),
        ]
    return found


def with_hyperfine(argv: list[str], runs: int) -> list[float]:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run(
            ["hyperfine", "-N", "--warmup", "3", "--runs", str(runs), "--export-json", out.name,
             "--output", "null", "--style", "none", subprocess.list2cmdline(argv)],
            check=True, capture_output=True,
        )
        return [t * 1000 for t in json.loads(Path(out.name).read_text())["results"][0]["times"]]


def with_subprocess(argv: list[str], runs: int) -> list[float]:
    times = []
    for i in range(runs + 3):
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if i >= 3:
            times.append((time.perf_counter() - t0) * 1000)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    tool = "hyperfine" if shutil.which("hyperfine") else "subprocess"
    measure = with_hyperfine if tool == "hyperfine" else with_subprocess
    results, rows, failed = {}, [], False
    for name, argv in cases():
        times = measure(argv, args.runs)
        med = report.median(times)
        goal = GOALS_MS.get(name)
        ok = None if goal is None else med <= goal
        failed |= ok is False
        results[name] = {"argv": argv, "runs_ms": times, "median_ms": med,
                         "min_ms": min(times), "max_ms": max(times), "goal_ms": goal, "ok": ok}
        rows.append((name, med, min(times), max(times),
                     "-" if goal is None else f"<= {goal}", ok))
    report.show(
        f"Start-up (median of {args.runs} runs, {tool})",
        ["command", "median ms", "min ms", "max ms", "goal ms", "met"], rows,
    )
    report.write("startup", {"tool": tool, "runs": args.runs, "results": results},
                 args.out)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
