"""`trimtab serve` vs `trimtab gateway`: does mounting the dashboard slow the fast path?

    .venv/bin/python bench/serve_vs_gateway.py                 # 8 rounds of 4 s
    .venv/bin/python bench/serve_vs_gateway.py --rounds 12 --duration 3

Both servers run at the same time, each on its own fresh project and SQLite
store in front of one mock upstream (``mock_upstream.py``, 10 ms), set up as
``gateway_vs_litellm.py`` sets up trimtab. Each round measures the upstream
directly at concurrency 1, then each server at concurrency 1 and 64, the
order alternating from round to round, so that whatever else loads the
machine falls on both alike (measuring one server after the other, as
``gateway_vs_litellm.py --serve`` does, lets a load that comes and goes pick a
winner). Reported per server, as medians over the rounds: the added p50 at
concurrency 1 (its p50 minus the upstream's in the same round), req/s at 64,
and the server's CPU milliseconds per request at 64 (its process tree, from
/proc), the figure least moved by other processes taking the cores.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from statistics import median

import report
from gateway_vs_litellm import (
    PY,
    ROOT,
    cpu_per_request,
    lua_script,
    make_trimtab_project,
    start_trimtab,
    stop,
    wait_served,
    wrk,
)

COMMANDS = ("gateway", "serve")
BODY = {"model": "trimtab/bench-router", "messages": [{"role": "user", "content": "hi"}]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--duration", type=float, default=4, help="seconds per wrk run")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        report.console.print("[red]wrk is not installed[/]: apt-get install -y wrk")
        return 2
    runs: dict[str, list[dict]] = {c: [] for c in COMMANDS}
    with tempfile.TemporaryDirectory(prefix="trimtab-serve-bench-") as tmp:
        folder = Path(tmp)
        mock = subprocess.Popen([str(PY), str(ROOT / "bench" / "mock_upstream.py"), "--port",
                                 "0", "--delay-ms", "10"], stdout=subprocess.PIPE, text=True)
        processes = [mock]
        try:
            mock_port = int(mock.stdout.readline().split()[1])
            direct_url = f"http://127.0.0.1:{mock_port}/v1/chat/completions"
            direct = lua_script(folder, "direct", "mock-model", None)
            servers = {}
            for command in COMMANDS:
                sub = folder / command
                sub.mkdir()
                key = make_trimtab_project(sub, mock_port)
                process, port = start_trimtab(sub, command)
                processes.append(process)
                url = f"http://127.0.0.1:{port}/v1/chat/completions"
                wait_served(url, BODY, key, process, 120)
                servers[command] = (url, lua_script(sub, "trimtab", "trimtab/bench-router", key),
                                    process.pid)
                wrk(url, servers[command][1], 16, 2)  # warm-up
            for round_ in range(args.rounds):
                base = wrk(direct_url, direct, 1, args.duration)["p50_ms"]
                for command in COMMANDS if round_ % 2 == 0 else reversed(COMMANDS):
                    url, script, pid = servers[command]
                    one = wrk(url, script, 1, args.duration)
                    many = wrk(url, script, 64, args.duration, pid)
                    row = {"round": round_ + 1, "added_p50_c1_ms": one["p50_ms"] - base,
                           "rps_c64": many["rps"], "cpu_ms_per_request_c64":
                           cpu_per_request(many), "errors_c64": many["error_rate"]}
                    runs[command].append(row)
                    report.console.print(
                        f"round {round_ + 1:>2} {command:<8} added p50 c=1 "
                        f"{row['added_p50_c1_ms']:6.2f} ms  c=64 {row['rps_c64']:7.0f} req/s  "
                        f"CPU {row['cpu_ms_per_request_c64']:.3f} ms/request")
        finally:
            for process in reversed(processes):
                stop(process, 10)
    medians = {c: {k: median(r[k] for r in rows) for k in
                   ("added_p50_c1_ms", "rps_c64", "cpu_ms_per_request_c64")}
               for c, rows in runs.items()}
    ratio = {"rps_c64": medians["serve"]["rps_c64"] / medians["gateway"]["rps_c64"],
             "cpu_ms_per_request_c64": medians["serve"]["cpu_ms_per_request_c64"]
             / medians["gateway"]["cpu_ms_per_request_c64"],
             "added_p50_c1_ms": medians["serve"]["added_p50_c1_ms"]
             - medians["gateway"]["added_p50_c1_ms"]}
    report.show(f"`trimtab serve` vs `trimtab gateway`, interleaved (medians of {args.rounds})",
                ["command", "added p50 c=1 (ms)", "req/s c=64", "server CPU ms/request c=64"],
                [(c, m["added_p50_c1_ms"], m["rps_c64"], m["cpu_ms_per_request_c64"])
                 for c, m in medians.items()])
    report.console.print(f"serve / gateway: req/s at c=64 x{ratio['rps_c64']:.3f}, CPU per "
                         f"request x{ratio['cpu_ms_per_request_c64']:.3f}, added p50 at c=1 "
                         f"{ratio['added_p50_c1_ms']:+.3f} ms")
    report.write("serve_vs_gateway", {"duration_s": args.duration, "rounds": args.rounds,
                                      "runs": runs, "medians": medians, "ratio": ratio},
                 args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
