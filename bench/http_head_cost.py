"""CPU per request of the gateway's bounded request head (``gateway/http_head.py``)
against uvicorn's httptools protocol it extends.

    .venv/bin/python bench/http_head_cost.py                    # ~10 s
    .venv/bin/python bench/http_head_cost.py --requests 50000 --rounds 9

Feeds each protocol a Chat Completions request as an OpenAI client sends it
(eight headers, a small body) on one kept-alive connection, with a bare ASGI app
answering at once and a transport that only counts writes, so what is timed is
the protocol: parsing, the request's task, the answer, and for ``BoundedHead``
its counting and its deadline. Time is this process's CPU
(``time.process_time``) per request, median over rounds, the two protocols
interleaved so that the machine's load falls on both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time

import report
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from trimtab.gateway.http_head import BoundedHead

REQUEST = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:4000\r\n"
           b"Authorization: Bearer sk-abcdefghijklmnop\r\nContent-Type: application/json\r\n"
           b"User-Agent: OpenAI/Python 1.99.0\r\nAccept: application/json\r\n"
           b"X-Stainless-Lang: python\r\nContent-Length: 2\r\n\r\n{}")


async def app(scope, receive, send):
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


class CountingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.closing = False

    def write(self, data) -> None:
        self.writes += 1

    def get_extra_info(self, name, default=None):
        return {"sockname": ("127.0.0.1", 4000), "peername": ("127.0.0.1", 50000)}.get(
            name, default)

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def per_request_us(protocol_class, requests: int) -> float:
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    config.load()
    protocol = protocol_class(config=config, server_state=ServerState(), app_state={})
    transport = CountingTransport()
    protocol.connection_made(transport)
    started = time.process_time()
    for _ in range(requests):
        protocol.data_received(REQUEST)
        await asyncio.sleep(0)  # the request's task starts
        await asyncio.sleep(0)  # and answers
    took = time.process_time() - started
    if transport.writes < requests or transport.closing:
        raise SystemExit(f"{protocol_class.__name__} answered {transport.writes} of {requests}")
    protocol.connection_lost(None)
    return took / requests * 1e6


async def measure(requests: int, rounds: int) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {"httptools": [], "bounded head": []}
    for _ in range(rounds):
        found["httptools"].append(await per_request_us(HttpToolsProtocol, requests))
        found["bounded head"].append(await per_request_us(BoundedHead, requests))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--out", type=report.Path, default=None)
    args = parser.parse_args()
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    found = runner(measure(args.requests, args.rounds))
    base = statistics.median(found["httptools"])
    rows, results = [], {}
    for name, values in found.items():
        median = statistics.median(values)
        results[name] = {"median_us": median, "runs_us": values}
        rows.append([name, median, min(values), max(values), f"{median / base:.3f}x"])
    report.show(f"CPU per request, {args.requests:,} requests x {args.rounds} rounds",
                ["protocol", "median us", "min us", "max us", "vs httptools"], rows)
    report.write("http_head_cost", {"requests": args.requests, "rounds": args.rounds,
                                    "results": results}, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
