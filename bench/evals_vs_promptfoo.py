"""Eval throughput: `trimtab eval` against promptfoo on the same suite and mock upstream.

    .venv/bin/python bench/evals_vs_promptfoo.py                    # 1,000 + 10,000 cases
    .venv/bin/python bench/evals_vs_promptfoo.py --skip-promptfoo --big 0
    .venv/bin/python bench/evals_vs_promptfoo.py --profile          # py-spy the 1,000 run

The suite: N cases, one variable each, one `contains` check (the answer names
the electrical team), no cache, concurrency 32, against ``mock_upstream.py``
answering every chat request after 100 ms. With 32 in flight the ideal is
N / 32 x 100 ms: 3.1 s for 1,000 cases. Each tool runs as a whole process the
way a user starts it (``trimtab eval ...``; ``promptfoo eval ...``), with a
fresh mock each, and is measured from launch: wall time to exit, time to the
mock's first chat request, the most requests the mock saw in flight, and the
peak resident memory of the process tree (``wait4``'s ``ru_maxrss``: the
largest single process). A run of ``--big`` cases (10,000) shows whether
trimtab's time grows linearly with the cases.

promptfoo is installed by this script with npm into ``bench/.node-promptfoo``
(gitignored) on first use; node and npm must be on PATH. Its config dir points
into a scratch folder, so its results database does not touch ``~/.promptfoo``.
Goals for trimtab (issue 14): wall time within 15% of the ideal, first request
under 0.5 s after launch.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path

import report

ROOT = report.ROOT
TRIMTAB = str(ROOT / ".venv" / "bin" / "trimtab")
PY = str(ROOT / ".venv" / "bin" / "python")
NODE_DIR = ROOT / "bench" / ".node-promptfoo"
PROMPTFOO = NODE_DIR / "node_modules" / ".bin" / "promptfoo"
#: promptfoo 0.123 needs Node >= 22.22; an older system node gets one from npm (``node@22``).
NODE_RUNTIME = ROOT / "bench" / ".node-runtime"
TEXT = "The charger sparks when plugged in (case {i})."


def start_mock(delay_ms: float) -> tuple[subprocess.Popen, int]:
    mock = subprocess.Popen([PY, str(ROOT / "bench" / "mock_upstream.py"), "--port", "0",
                             "--delay-ms", str(delay_ms)], stdout=subprocess.PIPE, text=True)
    line = mock.stdout.readline() if mock.stdout else ""
    if not line.startswith("ready "):
        mock.kill()
        raise SystemExit(f"the mock upstream did not start: {line!r}")
    return mock, int(line.split()[1])


def mock_stats(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=5) as answer:
        return json.loads(answer.read())


def measure(argv: list[str], env: dict[str, str], cwd: Path, port: int,
            log: Path) -> dict:
    """Run ``argv`` to its end; wall time, time to first request, peak RSS."""
    with open(log, "wb") as out:
        launched = time.time()
        process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.time() - launched
    process.returncode = os.waitstatus_to_exitcode(status)
    stats = mock_stats(port)
    first = stats["first_at"] - launched if stats["first_at"] else None
    last = stats.get("last_answered_at")
    # CPU seconds of the process (and its waited-for children): on a shared machine the
    # wall time moves with the load, this much less.
    return {"wall_s": wall, "first_request_s": first, "peak_rss_mb": usage.ru_maxrss / 1024,
            "cpu_s": usage.ru_utime + usage.ru_stime,
            # From the mock's last answer to the process's exit: storing, summary, close.
            "tail_s": launched + wall - last if last else None,
            "requests": stats["chats"], "most_in_flight": stats["most_in_flight"],
            "exit_code": process.returncode,
            "log_tail": log.read_text(errors="replace")[-1500:]}


# --- trimtab --------------------------------------------------------------------


def trimtab_project(folder: Path, port: int, sizes: list[int], concurrency: int) -> None:
    (folder / "prompts").mkdir(parents=True, exist_ok=True)
    (folder / "evals").mkdir(exist_ok=True)
    (folder / "prompts" / "router.user.md").write_text("Route this complaint: {{text}}\n")
    suites = ""
    for n in sizes:
        with open(folder / "evals" / f"cases-{n}.jsonl", "w") as f:
            for i in range(n):
                f.write(json.dumps({"id": f"c{i}", "variables": {"text": TEXT.format(i=i)},
                                    "expected": "electrical"}) + "\n")
        suites += textwrap.indent(textwrap.dedent(f"""\
            cases-{n}:
              dataset: evals/cases-{n}.jsonl
              concurrency: {concurrency}
              scorers:
                - {{type: contains, value: electrical}}
            """), " " * 6)
    (folder / "trimtab.yaml").write_text(textwrap.dedent(f"""\
        version: 1
        project: eval-bench
        environments: [dev, staging, production]
        providers:
          mock:
            kind: openai
            base_url: http://127.0.0.1:{port}/v1
            api_key_env: MOCK_API_KEY
            prices_from: openai
            retries: {{max_retries: 0}}
        systems:
          router:
            description: Routes complaints (benchmark).
            owner: bench@example.com
            tier: 1
            risk: minimal
            logging: full
            release:
              provider: mock
              model: gpt-4o-mini
              params: {{temperature: 0}}
              prompts:
                user: prompts/router.user.md
            evals:
        """) + suites)


def compile_sources() -> None:
    """Byte-compile trimtab's own modules first, as ``pip install`` does: an editable
    checkout run with PYTHONDONTWRITEBYTECODE=1 (as this machine's shells set it)
    would otherwise compile all of them from source on every launch, which no
    installed trimtab does, and count that as start-up."""
    subprocess.run([PY, "-m", "compileall", "-q", str(ROOT / "src" / "trimtab")], check=True,
                   stdout=subprocess.DEVNULL)


def run_trimtab(n: int, args, scratch: Path, profile: bool) -> dict:
    compile_sources()
    mock, port = start_mock(args.delay_ms)
    try:
        folder = scratch / f"trimtab-{n}"
        trimtab_project(folder, port, [n], args.concurrency)
        env = {**os.environ, "MOCK_API_KEY": "sk-mock", "TRIMTAB_PROJECT": str(folder),
               "TRIMTAB_DATABASE_URL": f"sqlite:///{folder / 'store.db'}",
               "TRIMTAB_USER": "bench"}
        subprocess.run([TRIMTAB, "sync"], env=env, cwd=folder, check=True,
                       capture_output=True)
        argv = [TRIMTAB, "eval", "router", "--suite", f"cases-{n}", "--concurrency",
                str(args.concurrency)]
        if profile:
            out = ROOT / "bench" / "results" / f"evals-profile-{n}.svg"
            out.parent.mkdir(parents=True, exist_ok=True)
            argv = ["py-spy", "record", "-o", str(out), "--subprocesses", "--", *argv]
        result = measure(argv, env, folder, port, scratch / f"trimtab-{n}.log")
    finally:
        mock.kill()
        mock.wait()
    return result


# --- promptfoo ------------------------------------------------------------------


def npm_install(folder: Path, package: str) -> None:
    if not shutil.which("npm"):
        raise SystemExit("promptfoo needs node and npm on PATH (or pass --skip-promptfoo)")
    folder.mkdir(parents=True, exist_ok=True)
    report.console.print(f"installing {package} into {folder} (npm) ...")
    subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", package],
                   cwd=folder, check=True)


def node_path() -> str:
    """PATH for promptfoo: the system node if it is 22 or newer, else npm's node@22."""
    found = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout \
        if shutil.which("node") else ""
    if found.startswith("v") and int(found[1:].split(".")[0]) >= 22:
        return os.environ["PATH"]
    runtime = NODE_RUNTIME / "node_modules" / ".bin"
    if not (runtime / "node").exists():
        npm_install(NODE_RUNTIME, "node@22")
    return f"{runtime}{os.pathsep}{os.environ['PATH']}"


def install_promptfoo(version: str) -> tuple[str, str]:
    """(promptfoo's version, the node version that runs it)."""
    if not PROMPTFOO.exists():
        npm_install(NODE_DIR, f"promptfoo@{version}")
    meta = json.loads((NODE_DIR / "node_modules" / "promptfoo" / "package.json").read_text())
    node = subprocess.run(["node", "--version"], capture_output=True, text=True,
                          env={**os.environ, "PATH": node_path()}).stdout.strip()
    return meta["version"], node


def run_promptfoo(n: int, args, scratch: Path) -> dict:
    mock, port = start_mock(args.delay_ms)
    try:
        folder = scratch / f"promptfoo-{n}"
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "cases.csv", "w") as f:
            f.write("text\n" + "".join(f'"{TEXT.format(i=i)}"\n' for i in range(n)))
        (folder / "promptfooconfig.yaml").write_text(textwrap.dedent(f"""\
            description: eval bench
            prompts:
              - "Route this complaint: {{{{text}}}}"
            providers:
              - id: openai:chat:gpt-4o-mini
                config:
                  apiBaseUrl: http://127.0.0.1:{port}/v1
                  apiKey: sk-mock
                  temperature: 0
            defaultTest:
              assert:
                - type: contains
                  value: electrical
            tests: file://cases.csv
            """))
        env = {**os.environ, "PATH": node_path(),
               "PROMPTFOO_CONFIG_DIR": str(folder / ".promptfoo"),
               "PROMPTFOO_DISABLE_TELEMETRY": "1", "PROMPTFOO_DISABLE_UPDATE": "1",
               "PROMPTFOO_DISABLE_SHARING": "1", "OPENAI_API_KEY": "sk-mock"}
        argv = [str(PROMPTFOO), "eval", "-c", "promptfooconfig.yaml", "--no-cache",
                "--max-concurrency", str(args.concurrency), "--no-progress-bar", "--no-table",
                "-o", "results.json"]
        result = measure(argv, env, folder, port, scratch / f"promptfoo-{n}.log")
    finally:
        mock.kill()
        mock.wait()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--big", type=int, default=10_000, help="trimtab only; 0 skips it")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--delay-ms", type=float, default=100.0)
    parser.add_argument("--skip-promptfoo", action="store_true")
    parser.add_argument("--promptfoo-version", default="latest")
    parser.add_argument("--profile", action="store_true",
                        help="run trimtab's 1,000 under py-spy (flame graph in bench/results/)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    ideal = lambda n: n / args.concurrency * args.delay_ms / 1000  # noqa: E731
    rows, results = [], {}
    promptfoo_version = node_version = None
    with tempfile.TemporaryDirectory(prefix="trimtab-evalbench-") as tmp:
        scratch = Path(tmp)
        runs = [("trimtab", args.cases)]
        if not args.skip_promptfoo:
            promptfoo_version, node_version = install_promptfoo(args.promptfoo_version)
            runs.append((f"promptfoo {promptfoo_version}", args.cases))
        if args.big:
            runs.append(("trimtab", args.big))
        for tool, n in runs:
            report.console.print(f"running {tool} on {n:,} cases ...")
            if tool == "trimtab":
                got = run_trimtab(n, args, scratch, args.profile and n == args.cases)
            else:
                got = run_promptfoo(n, args, scratch)
            got["cases"], got["ideal_s"] = n, ideal(n)
            got["over_ideal"] = got["wall_s"] / got["ideal_s"] - 1
            # After the first request: the calls, scoring and storing, without start-up.
            got["after_first_request_s"] = (got["wall_s"] - got["first_request_s"]
                                            if got["first_request_s"] is not None else None)
            results[f"{tool} {n}"] = got
            if got["exit_code"] != 0 or got["requests"] != n:
                report.console.print(f"[red]{tool} {n}: exit {got['exit_code']}, "
                                     f"{got['requests']} requests[/]\n{got['log_tail']}")
            rows.append([f"{tool}, {n:,} cases", got["wall_s"], got["ideal_s"],
                         f"{got['over_ideal']:+.1%}", got["first_request_s"],
                         got["after_first_request_s"], got["tail_s"],
                         got["peak_rss_mb"], got["cpu_s"], got["requests"], got["most_in_flight"],
                         got["exit_code"]])
    report.show(f"eval of N cases, contains-check, mock at {args.delay_ms:g} ms, "
                f"concurrency {args.concurrency}",
                ["run", "wall s", "ideal s", "over ideal", "first request s",
                 "after it s", "tail s", "peak RSS MB", "CPU s",
                 "requests", "most in flight", "exit"], rows)
    small = results[f"trimtab {args.cases}"]
    goals = {"within 15% of ideal": small["over_ideal"] <= 0.15,
             "first request under 0.5 s": (small["first_request_s"] or 99) < 0.5,
             "every case requested": small["requests"] == args.cases}
    if args.big:
        big = results[f"trimtab {args.big}"]
        per_case_small = small["wall_s"] / args.cases
        per_case_big = big["wall_s"] / args.big
        goals["linear (per-case time at N x10 within 15%)"] = per_case_big <= per_case_small * 1.15
        marginal = (big["wall_s"] - small["wall_s"]) / (args.big - args.cases)
        report.console.print(
            f"trimtab per case: {per_case_small * 1000:.2f} ms at {args.cases:,}, "
            f"{per_case_big * 1000:.2f} ms at {args.big:,}; each case past the first "
            f"{args.cases:,}: {marginal * 1000:.2f} ms (ideal "
            f"{args.delay_ms / args.concurrency:.2f} ms)")
    for goal, met in goals.items():
        report.console.print(f"{'met' if met else 'MISSED'}: {goal}")
    for item in results.values():
        item.pop("log_tail", None)
    report.write("evals_vs_promptfoo", {
        "cases": args.cases, "big": args.big, "concurrency": args.concurrency,
        "delay_ms": args.delay_ms, "promptfoo_version": promptfoo_version,
        "node": node_version,
        "results": results, "goals": goals}, args.out)
    return 0 if all(goals.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
