"""Gateway overhead: trimtab gateway vs LiteLLM's proxy in front of one mock upstream.

    .venv/bin/python bench/gateway_vs_litellm.py                    # everything, ~15 min
    .venv/bin/python bench/gateway_vs_litellm.py --duration 5 --memory-requests 20000
    .venv/bin/python bench/gateway_vs_litellm.py --skip-litellm --profile 20

One harness, one upstream, one load generator, all on this machine:

- **upstream**: ``bench/mock_upstream.py`` (raw asyncio, HTTP/1.1 keep-alive)
  answers Chat Completions after 10 ms, with usage.
- **load**: wrk (C; ``apt-get install wrk``), one thread, keep-alive, a Lua
  script for the POST body (and the bearer key), ``--latency`` for the
  percentiles, ``--timeout 10s``.
- **direct**: wrk -> mock. **LiteLLM** 1.106.2 (``bench/.venv-litellm``,
  created here; it refuses to start without ``LITELLM_MASTER_KEY``), one
  worker, the mock as an ``openai/`` model. **trimtab**: ``trimtab gateway``
  in a fresh project whose system ``bench-router`` has a release on an
  ``openai``-kind provider pointing at the mock; clients send
  ``model: "trimtab/bench-router"`` with a virtual key; every call is
  recorded (SQLite store, the default).

Per target, after a warm-up: concurrency 1, 16 and 64 for ``--duration``
seconds each; added latency = the target's percentile minus direct's at the
same concurrency in this run. The highest sustained rate is a closed-loop
concurrency sweep (1, 16, 64, 128, 256): the best throughput among runs
whose errors (non-2xx, socket errors, timeouts) stay under 1%; the server's
CPU use (its process tree, from /proc) is shown per run. Start-up is the time
from spawning the server to its first answered chat completion. Memory (trimtab
only by default; LiteLLM serves ~50 requests/s here, so 200,000 would take an
hour): RSS after ``--memory-requests`` requests at concurrency 16, and its
growth over the second half. Then the gateway is stopped (SIGINT: it flushes)
and the calls in its store are counted against the 2xx answers wrk received.
With ``--profile N``, py-spy samples the gateway for N seconds at
concurrency 64 and the hottest frames are printed (flame graph SVG saved).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import venv
from collections import Counter
from pathlib import Path

import report

ROOT = report.ROOT
PY = ROOT / ".venv" / "bin" / "python"
TRIMTAB = ROOT / ".venv" / "bin" / "trimtab"
LITELLM_VENV = ROOT / "bench" / ".venv-litellm"
LITELLM_VERSION = "1.106.2"
MASTER_KEY = "sk-bench-master-key"
PROMPT = "The charger sparks when plugged in and smells of smoke."
CONCURRENCY = (1, 16, 64)
SWEEP = (128, 256)

LUA = """
wrk.method = "POST"
wrk.body = '{body}'
wrk.headers["Content-Type"] = "application/json"
{auth}
"""


# ------------------------------------------------------------------ processes

def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tree(pid: int) -> list[int]:
    """pid and all its descendants (LiteLLM and uvicorn may fork)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += parents.get(current, [])
    return found


def cpu_seconds(pid: int) -> float:
    total = 0
    for p in tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    total = 0
    for p in tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def post(url: str, body: dict, key: str | None, timeout: float = 5) -> int:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {key}"} if key
                                                 else {})})
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        answer.read()
        return answer.status


def wait_served(url: str, body: dict, key: str | None, process, limit: float) -> float:
    """Seconds until the first chat completion is answered."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            if post(url, body, key, timeout=2) == 200:
                return time.perf_counter() - t0
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"no answer from {url} within {limit:.0f} s")


def stop(process, timeout: float = 30) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# ------------------------------------------------------------------ wrk

def lua_script(folder: Path, name: str, model: str, key: str | None) -> Path:
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": PROMPT}]})
    auth = f'wrk.headers["Authorization"] = "Bearer {key}"' if key else ""
    path = folder / f"{name}.lua"
    path.write_text(LUA.format(body=body, auth=auth))
    return path


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


def wrk(url: str, script: Path, connections: int, seconds: float,
        pid: int | None = None) -> dict:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency",
           "--timeout", "10s", "-s", str(script), url]
    cpu0, t0 = (cpu_seconds(pid) if pid else 0.0), time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    wall = time.perf_counter() - t0
    cpu = (cpu_seconds(pid) - cpu0) if pid else None
    result = {"connections": connections, "seconds": seconds, "raw": out,
              "cpu_percent": None if cpu is None else 100 * cpu / wall}
    for q in ("50", "75", "90", "99"):
        match = re.search(rf"^\s+{q}%\s+(\S+)", out, re.M)
        result[f"p{q}_ms"] = _ms(match.group(1)) if match else None
    match = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    result["requests"] = int(match.group(1))
    result["rps"] = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    result["non2xx"] = int(non2xx.group(1)) if non2xx else 0
    result["socket_errors"] = sum(map(int, socket_errors.groups())) if socket_errors else 0
    attempts = result["requests"] + result["socket_errors"]
    result["error_rate"] = (result["non2xx"] + result["socket_errors"]) / max(attempts, 1)
    result["ok"] = result["requests"] - result["non2xx"]
    return result


# ------------------------------------------------------------------ the targets

def ensure_litellm() -> None:
    probe = [str(LITELLM_VENV / "bin" / "python"), "-c", "import litellm.proxy.proxy_server"]
    if (LITELLM_VENV / "bin" / "litellm").exists() and \
            subprocess.run(probe, capture_output=True).returncode == 0:
        return
    report.console.print(f"installing litellm[proxy]=={LITELLM_VERSION} into {LITELLM_VENV} ...")
    venv.create(LITELLM_VENV, with_pip=True)
    subprocess.run([str(LITELLM_VENV / "bin" / "pip"), "install", "-q",
                    f"litellm[proxy]=={LITELLM_VERSION}"], check=True)


def start_litellm(folder: Path, mock_port: int) -> tuple[subprocess.Popen, int]:
    port = free_port()
    config = folder / "litellm.yaml"
    config.write_text(
        "model_list:\n"
        "  - model_name: mock-model\n"
        "    litellm_params:\n"
        "      model: openai/mock-model\n"
        f"      api_base: http://127.0.0.1:{mock_port}/v1\n"
        "      api_key: sk-mock\n"
        "general_settings:\n"
        f"  master_key: {MASTER_KEY}\n"
        "litellm_settings:\n"
        "  telemetry: false\n"
    )
    env = {**os.environ, "LITELLM_MASTER_KEY": MASTER_KEY, "LITELLM_LOG": "ERROR",
           "LITELLM_TELEMETRY": "False", "DISABLE_SCHEMA_UPDATE": "True"}
    process = subprocess.Popen(
        [str(LITELLM_VENV / "bin" / "litellm"), "--config", str(config), "--host", "127.0.0.1",
         "--port", str(port), "--num_workers", "1"],
        env=env, cwd=folder, stdout=open(folder / "litellm.log", "w"), stderr=subprocess.STDOUT)
    return process, port


PROJECT = """\
version: 1
project: gateway-bench
environments: [production]
providers:
  upstream:
    kind: openai
    base_url: http://127.0.0.1:{mock_port}/v1
    api_key_env: BENCH_UPSTREAM_KEY
    prices:  # every call is priced, as it would be on a real provider
      mock-model: {{input_mtok: 0.15, output_mtok: 0.6}}
systems:
  bench-router:
    description: Routes complaints; the gateway benchmark's system.
    owner: bench@example.com
    tier: 1
    risk: minimal
    logging: full
    release:
      provider: upstream
      model: mock-model
      params: {{temperature: 0, max_tokens: 64}}
      prompts:
        system: prompts/system.md
"""


def make_trimtab_project(folder: Path, mock_port: int) -> str:
    """A project with one released, promoted system and one API key; returns the key."""
    project = folder / "trimtab-project"
    (project / "prompts").mkdir(parents=True)
    (project / "trimtab.yaml").write_text(PROJECT.format(mock_port=mock_port))
    (project / "prompts" / "system.md").write_text(
        "You route customer complaints to the team that owns the defect.\n")
    script = ("import trimtab, sys\n"
              "ws = trimtab.connect(sys.argv[1])\n"
              "made, _ = ws.release('bench-router')\n"
              "ws.promote('bench-router', made.id, 'production')\n"
              "_, secret = ws.create_key('bench', env='production')\n"
              "print(secret)\n")
    done = subprocess.run([str(PY), "-c", script, str(project)], capture_output=True, text=True,
                          check=True)
    return done.stdout.strip().splitlines()[-1]


def start_trimtab(folder: Path, command: str = "gateway") -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {**os.environ, "BENCH_UPSTREAM_KEY": "sk-mock"}
    env.pop("TRIMTAB_DATABASE_URL", None)
    process = subprocess.Popen(
        [str(TRIMTAB), command, "--host", "127.0.0.1", "--port", str(port)],
        cwd=folder / "trimtab-project", env=env, stdout=open(folder / "trimtab.log", "w"),
        stderr=subprocess.STDOUT)
    return process, port


def count_recorded(folder: Path) -> dict:
    script = ("import trimtab, sys, json\n"
              "from trimtab.store import calls\n"
              "ws = trimtab.connect(sys.argv[1])\n"
              "with ws.store.read() as conn:\n"
              "    from sqlalchemy import func, select\n"
              "    from trimtab.store.schema.call_log import calls as t\n"
              "    rows = conn.execute(select(t.c.status, func.count()).group_by(t.c.status))\n"
              "    print(json.dumps(dict(rows.all())))\n")
    done = subprocess.run([str(PY), "-c", script, str(folder / "trimtab-project")],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ profiling

def profile(pid: int, seconds: int, url: str, script: Path, out: Path) -> dict:
    spy = shutil.which("py-spy") or str(ROOT / ".venv" / "bin" / "py-spy")
    if not Path(spy).exists():
        return {"error": "py-spy not installed (.venv/bin/pip install py-spy)"}
    raw = out.with_suffix(".txt")
    sampler = subprocess.Popen([spy, "record", "--pid", str(pid), "--duration", str(seconds),
                                "--rate", "200", "--format", "raw", "--output", str(raw)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1)
    load = wrk(url, script, 64, seconds)
    sampler.wait(seconds + 30)
    subprocess.run([spy, "record", "--pid", str(pid), "--duration", "1", "--format",
                    "flamegraph", "--output", str(out)], capture_output=True)
    return {**summarize_profile(raw), "ok": load["ok"]}


def summarize_profile(raw: Path) -> dict:
    """Share of samples per frame (self) and per top-level area (inclusive)."""
    self_time, areas, total = Counter(), Counter(), 0
    # Threads blocked in a read: py-spy cannot always tell they are idle.
    waiting = ("_ProcessWriter._read (trimtab/recorder.py", "_worker (concurrent/futures/thread.py")
    area_of = (("trimtab/recorder", "recorder (spool append)"),
               ("trimtab/gateway", "gateway request handling"),
               ("trimtab/calling", "calling (release, render, record)"),
               ("trimtab/runtime", "runtime (provider client, resilience, cost)"),
               ("trimtab/prometheus", "prometheus observer"),
               ("trimtab/records", "call record -> spool line"),
               ("trimtab/runtime/http1", "provider HTTP client (upstream call)"),
               ("uvicorn", "uvicorn (HTTP server)"), ("uvloop", "event loop"),
               ("asyncio", "event loop"), ("sqlalchemy", "SQLAlchemy"))
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        if frames[-1].startswith(waiting):
            continue
        total += n
        self_time[frames[-1]] += n
        for needle, area in area_of:
            if any(needle in f for f in frames):
                areas[area] += n
    return {"samples": total,
            "top_self": [(f, round(100 * n / total, 1)) for f, n in self_time.most_common(15)],
            "areas": [(a, round(100 * n / total, 1)) for a, n in areas.most_common()]}


# ------------------------------------------------------------------ driver

def run_target(name: str, url: str, script: Path, pid: int | None, args, sweep: bool) -> dict:
    report.console.print(f"[bold]{name}[/]: warm-up, then concurrency "
                         f"{', '.join(map(str, CONCURRENCY + (SWEEP if sweep else ())))}")
    warmup = wrk(url, script, 16, min(3, args.duration), pid)
    runs = {}
    for c in CONCURRENCY + (SWEEP if sweep else ()):
        runs[c] = wrk(url, script, c, args.duration, pid)
        r = runs[c]
        report.console.print(f"  c={c:<3} {r['rps']:8.0f} req/s  p50 {r['p50_ms']:.2f} ms  "
                             f"p99 {r['p99_ms']:.2f} ms  errors {r['error_rate']:.2%}  "
                             f"server CPU {r['cpu_percent'] or 0:.0f}%")
    sustained = [r["rps"] for r in runs.values() if r["error_rate"] < 0.01]
    return {"runs": runs, "max_sustained_rps": max(sustained) if sustained else 0.0,
            "warmup_ok": warmup["ok"]}


def send(url: str, script: Path, pid: int, total: int, rate: float) -> dict:
    """At least ``total`` requests at concurrency 16, in wrk runs of at most 30 s."""
    done = ok = 0
    while done < total:
        seconds = max(1, min(30, math.ceil((total - done) / max(rate, 1.0))))
        run = wrk(url, script, 16, seconds, pid)
        done, ok = done + run["requests"], ok + run["ok"]
        rate = run["rps"] or rate
    return {"requests": done, "ok": ok, "rps": rate}


def memory_phase(url: str, script: Path, pid: int, total: int, rate: float) -> dict:
    report.console.print(f"memory: {total:,} requests at concurrency 16 ...")
    before = rss_mb(pid)
    first = send(url, script, pid, total // 2, rate)
    middle = rss_mb(pid)
    second = send(url, script, pid, total // 2, first["rps"])
    after = rss_mb(pid)
    report.console.print(f"  RSS {before:.0f} MB at start, {middle:.0f} MB after "
                         f"{first['requests']:,}, {after:.0f} MB after "
                         f"{first['requests'] + second['requests']:,}")
    return {"requests": first["requests"] + second["requests"],
            "ok": first["ok"] + second["ok"], "rss_start_mb": before,
            "rss_half_mb": middle, "rss_end_mb": after,
            "growth_second_half_percent": 100 * (after - middle) / middle,
            "rps": second["rps"]}


def target_name(command: str, round_: int, rounds: int, both: bool) -> str:
    """``trimtab`` alone; ``trimtab gateway``/``trimtab serve`` when both are
    measured; ``#N`` per round when they alternate."""
    name = f"trimtab {command}" if both else "trimtab"
    return f"{name} #{round_}" if rounds > 1 else name


def measure_trimtab(folder: Path, mock_port: int, command: str, args,
                    processes: list) -> dict:
    """One fresh project and store, ``trimtab COMMAND`` on it, measured, stopped,
    and its store's calls counted against wrk's 2xx answers."""
    folder.mkdir(parents=True)
    key = make_trimtab_project(folder, mock_port)
    process, port = start_trimtab(folder, command)
    processes.append(process)
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    body = {"model": "trimtab/bench-router", "messages": [{"role": "user", "content": "hi"}]}
    startup = wait_served(url, body, key, process, 60)
    script = lua_script(folder, "trimtab", "trimtab/bench-router", key)
    result = run_target(f"trimtab {command}", url, script, process.pid, args, sweep=True)
    result["command"] = command
    result["startup_s"] = startup
    if args.memory_requests:
        result["memory"] = memory_phase(url, script, process.pid, args.memory_requests,
                                        result["runs"][16]["rps"])
    if args.profile:
        report.console.print(f"profiling `trimtab {command}` for {args.profile} s at c=64 ...")
        svg = report.RESULTS / f"gateway_profile_{command}.svg"
        svg.parent.mkdir(parents=True, exist_ok=True)
        result["profile"] = profile(process.pid, args.profile, url, script, svg)
        result["profile"]["flamegraph"] = str(svg)
    stop(process)
    # wrk counts the answers it read; the ones in flight when a run ends
    # were answered and recorded too, so the store may hold a few more.
    served = 1 + result["warmup_ok"] + sum(r["ok"] for r in result["runs"].values()) \
        + result.get("memory", {}).get("ok", 0) + result.get("profile", {}).get("ok", 0)
    in_flight = 16 + sum(CONCURRENCY + SWEEP) + 16 * 20 + 64
    recorded = count_recorded(folder)
    result["served_2xx_counted_by_wrk"] = served
    result["recorded"] = recorded
    result["all_recorded"] = served <= recorded.get("ok", 0) <= served + in_flight
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10, help="seconds per wrk run")
    parser.add_argument("--memory-requests", type=int, default=200_000,
                        help="trimtab memory phase (0: skip)")
    parser.add_argument("--litellm-memory-requests", type=int, default=0)
    parser.add_argument("--profile", type=int, default=15, help="py-spy seconds (0: skip)")
    parser.add_argument("--skip-litellm", action="store_true")
    parser.add_argument("--skip-trimtab", action="store_true")
    parser.add_argument("--delay-ms", type=float, default=10)
    parser.add_argument("--serve", action="store_true",
                        help="measure `trimtab serve` (the gateway behind the router, with "
                        "the dashboard, the API and the alert monitor) as well as "
                        "`trimtab gateway`, each on its own fresh store, in the same run")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure trimtab this many times (alternating gateway and "
                        "serve with --serve); medians are printed")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        report.console.print("[red]wrk is not installed[/]: apt-get install -y wrk")
        return 2
    if not args.skip_litellm:
        ensure_litellm()

    summary: dict = {"duration_s": args.duration, "delay_ms": args.delay_ms, "targets": {}}
    with tempfile.TemporaryDirectory(prefix="trimtab-gateway-bench-") as tmp:
        folder = Path(tmp)
        mock = subprocess.Popen([str(PY), str(ROOT / "bench" / "mock_upstream.py"), "--port", "0",
                                 "--delay-ms", str(args.delay_ms)], stdout=subprocess.PIPE,
                                text=True)
        mock_port = int(mock.stdout.readline().split()[1])
        processes = [mock]
        try:
            direct_url = f"http://127.0.0.1:{mock_port}/v1/chat/completions"
            script = lua_script(folder, "direct", "mock-model", None)
            summary["targets"]["direct"] = run_target("direct", direct_url, script, mock.pid,
                                                      args, sweep=False)
            if not args.skip_litellm:
                process, port = start_litellm(folder, mock_port)
                processes.append(process)
                url = f"http://127.0.0.1:{port}/v1/chat/completions"
                body = {"model": "mock-model", "messages": [{"role": "user", "content": "hi"}]}
                startup = wait_served(url, body, MASTER_KEY, process, 120)
                script = lua_script(folder, "litellm", "mock-model", MASTER_KEY)
                result = run_target("LiteLLM", url, script, process.pid, args, sweep=True)
                result["startup_s"] = startup
                if args.litellm_memory_requests:
                    result["memory"] = memory_phase(url, script, process.pid,
                                                    args.litellm_memory_requests,
                                                    result["runs"][16]["rps"])
                result["version"] = LITELLM_VERSION
                summary["targets"]["litellm"] = result
                stop(process)
            if not args.skip_trimtab:
                commands = ("gateway", "serve") if args.serve else ("gateway",)
                for round_ in range(1, args.rounds + 1):
                    for command in commands:
                        name = target_name(command, round_, args.rounds, args.serve)
                        summary["targets"][name] = measure_trimtab(
                            folder / name, mock_port, command, args, processes)
        finally:
            for process in reversed(processes):
                stop(process, 10)
    print_summary(summary)
    report.write("gateway_vs_litellm", summary, args.out)
    return 0


def print_summary(summary: dict) -> None:
    targets = summary["targets"]
    direct = targets["direct"]["runs"]
    rows = []
    for name, result in targets.items():
        for c, r in result["runs"].items():
            d = direct.get(c)
            rows.append((name, c, r["rps"], r["p50_ms"], r["p90_ms"], r["p99_ms"],
                         f"{r['error_rate']:.2%}",
                         None if d is None or name == "direct" else r["p50_ms"] - d["p50_ms"],
                         None if d is None or name == "direct" else r["p99_ms"] - d["p99_ms"],
                         r["cpu_percent"]))
    report.show("Through the gateway vs direct (ms; wrk, one machine)",
                ["target", "conc.", "req/s", "p50", "p90", "p99", "errors", "added p50",
                 "added p99", "server CPU %"], rows)
    rows = []
    for name, result in targets.items():
        if name == "direct":
            continue
        memory = result.get("memory") or {}
        rows.append((name, result["max_sustained_rps"], result.get("startup_s"),
                     memory.get("requests"), memory.get("rss_end_mb"),
                     memory.get("growth_second_half_percent"),
                     result.get("all_recorded")))
    report.show("Capacity, start-up, memory, recording",
                ["target", "max req/s (<1% errors)", "start-up s", "memory requests",
                 "RSS MB after", "RSS growth % (2nd half)", "every call recorded"], rows)
    for name, result in targets.items():
        if result.get("recorded") is not None:
            report.console.print(f"{name}: wrk got {result['served_2xx_counted_by_wrk']:,} 2xx "
                                 f"answers; the store holds {result['recorded']}")
        if result.get("profile", {}).get("areas"):
            report.show(f"Where {name}'s time goes (py-spy, share of samples, inclusive)",
                        ["area", "%"], result["profile"]["areas"])
            report.show("Hottest frames (self time)", ["frame", "%"], result["profile"]["top_self"])
    compared = compare_commands(targets)
    if compared:
        summary["serve_vs_gateway"] = compared
        report.show("`trimtab serve` vs `trimtab gateway` (medians over the rounds)",
                    ["command", "runs", "added p50 c=1 (ms)", "req/s c=64",
                     "max req/s (<1% errors)", "server CPU ms/request c=64"],
                    [(c, v["runs"], v["added_p50_c1_ms"], v["rps_c64"], v["max_sustained_rps"],
                      v["cpu_ms_per_request_c64"])
                     for c, v in compared.items() if c != "ratio"])
        ratio = compared["ratio"]
        report.console.print(f"serve / gateway: req/s at c=64 x{ratio['rps_c64']:.3f}, "
                             f"server CPU per request x{ratio['cpu_ms_per_request_c64']:.3f}, "
                             f"added p50 at c=1 {ratio['added_p50_c1_ms']:+.3f} ms")


def cpu_per_request(run: dict) -> float:
    """Milliseconds of the server's CPU (its process tree) per request wrk counted."""
    return 10 * (run["cpu_percent"] or 0) / max(run["rps"], 1e-9)


def compare_commands(targets: dict) -> dict:
    """Medians per command (gateway, serve) of the figures the no-regression
    goal names; empty unless both were measured."""
    from statistics import median

    direct = targets["direct"]["runs"]
    per: dict[str, list[dict]] = {}
    for result in targets.values():
        if result.get("command"):
            per.setdefault(result["command"], []).append(result)
    if set(per) != {"gateway", "serve"}:
        return {}
    out: dict = {}
    for command, results in per.items():
        out[command] = {
            "runs": len(results),
            "added_p50_c1_ms": median(r["runs"][1]["p50_ms"] - direct[1]["p50_ms"]
                                      for r in results),
            "rps_c64": median(r["runs"][64]["rps"] for r in results),
            "max_sustained_rps": median(r["max_sustained_rps"] for r in results),
            # Server CPU per answered request: what capacity is made of, and far less
            # sensitive than req/s to other processes taking the machine's cores.
            "cpu_ms_per_request_c64": median(cpu_per_request(r["runs"][64]) for r in results)}
    out["ratio"] = {"rps_c64": out["serve"]["rps_c64"] / out["gateway"]["rps_c64"],
                    "cpu_ms_per_request_c64": out["serve"]["cpu_ms_per_request_c64"]
                    / out["gateway"]["cpu_ms_per_request_c64"],
                    "added_p50_c1_ms": out["serve"]["added_p50_c1_ms"]
                    - out["gateway"]["added_p50_c1_ms"]}
    return out

if __name__ == "__main__":
    sys.exit(main())
