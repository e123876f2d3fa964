"""CPU per provider call of trimtab's HTTP/1.1 client (``runtime/http1.py``).

    .venv/bin/python bench/http1_client.py                  # ~1 min
    .venv/bin/python bench/http1_client.py --requests 5000 --rounds 9
    PYTHONPATH=/path/to/other/checkout/src .venv/bin/python bench/http1_client.py

Serves ``bench/mock_upstream.py`` (no delay, its own process, so its CPU is
not counted) and, on uvloop as the gateway runs, makes keep-alive calls
from this process one after another (and 16 at a time), timing this
process's CPU (``time.process_time``) per call:

- ``client``: ``Client.request`` + ``Response.read`` of a Chat Completions
  answer, with the mock's three headers and with OpenAI's twenty-odd;
- ``complete``: ``OpenAIProvider.complete`` (request body, JSON, parsing);
- ``stream``: ``OpenAIProvider.stream`` read to its end (SSE, six events).

Each row is the median over ``--rounds`` rounds of ``--requests`` calls.
Run it twice, once with ``PYTHONPATH`` pointing at another checkout's
``src``, to compare two versions of the client on one machine.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time

import report

ROOT = report.ROOT


def start_upstream(openai_headers: bool) -> tuple[subprocess.Popen, int]:
    args = [sys.executable, str(ROOT / "bench" / "mock_upstream.py"), "--port", "0",
            "--delay-ms", "0"]
    if openai_headers:
        args.append("--openai-headers")
    process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    return process, int(process.stdout.readline().split()[1])


async def cpu_per_call(call, requests: int, concurrency: int) -> float:
    """Microseconds of this process's CPU per call."""
    for _ in range(200):  # warm: connections open, caches filled
        await call()

    async def worker(n: int) -> None:
        for _ in range(n):
            await call()

    share = requests // concurrency
    started = time.process_time()
    await asyncio.gather(*(worker(share) for _ in range(concurrency)))
    return (time.process_time() - started) / (share * concurrency) * 1e6


async def scenarios(ports: dict[str, int], requests: int, rounds: int,
                    only: str | None = None) -> dict[str, dict]:
    from trimtab.runtime import ChatRequest, http1, make_provider

    body = (b'{"model":"mock-model","messages":[{"role":"user","content":'
            b'"The charger sparks when plugged in."}]}')
    headers = {"Content-Type": "application/json", "Authorization": "Bearer sk-bench"}
    clients = {name: http1.Client(connect_timeout=5, read_timeout=30) for name in ports}

    def raw(name: str):
        url = f"http://127.0.0.1:{ports[name]}/v1/chat/completions"

        async def call() -> None:
            response = await clients[name].request("POST", url, headers, body)
            await response.read()
        return call

    provider = make_provider({"name": "bench", "kind": "openai",
                              "base_url": f"http://127.0.0.1:{ports['openai']}/v1",
                              "api_key_env": "BENCH_KEY"}, env={"BENCH_KEY": "sk-bench"})
    request = ChatRequest([{"role": "user", "content": "The charger sparks when plugged in."}],
                          model="mock-model")

    async def complete() -> None:
        await provider.complete(request)

    async def stream() -> None:
        async for _ in provider.stream(request):
            pass

    plan = {"client, 3 headers": (raw("plain"), 1),
            "client, OpenAI's 23 headers": (raw("openai"), 1),
            "complete (provider, JSON)": (complete, 1),
            "complete, 16 at a time": (complete, 16),
            "stream (provider, SSE)": (stream, 1)}
    results: dict[str, dict] = {}
    for name, (call, concurrency) in plan.items():
        if only and only not in name:
            continue
        samples = [await cpu_per_call(call, requests, concurrency) for _ in range(rounds)]
        results[name] = {"median_us": report.median(samples), "min_us": min(samples),
                         "max_us": max(samples), "rounds": rounds, "requests": requests,
                         "concurrency": concurrency}
    for client in clients.values():
        await client.aclose()
    await provider.aclose()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="calls per round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--only", help="run the calls whose name contains this")
    parser.add_argument("--out", type=str)
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        uvloop = None
    import trimtab

    plain, plain_port = start_upstream(False)
    openai, openai_port = start_upstream(True)
    try:
        ports = {"plain": plain_port, "openai": openai_port}
        runner = uvloop.run if uvloop is not None else asyncio.run
        results = runner(scenarios(ports, args.requests, args.rounds, args.only))
    finally:
        for process in (plain, openai):
            process.terminate()
            process.wait(5)
    source = str(trimtab.__file__).rsplit("/trimtab/", 1)[0]
    report.show(f"CPU per call, µs (median of {args.rounds} rounds of {args.requests}; "
                f"trimtab from {source})", ["call", "median", "min", "max"],
                [(name, r["median_us"], r["min_us"], r["max_us"])
                 for name, r in results.items()])
    report.write("http1_client", {"source": source, "results": results},
                 out=None if args.out is None else __import__("pathlib").Path(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
