"""An upstream that is broken or hostile on purpose: raw asyncio on 127.0.0.1.

Each behaviour is what a real provider, proxy or attacker can send: ten
thousand headers, an endless 1xx run, a 200 MiB body, an SSE line that never
ends, a redirect with an answer-shaped body, a byte a second, gzip nobody
asked for. The server reads each request (head and body), keeps its head in
``requests`` and answers with the behaviour; ``closed`` counts connections
the client closed, so a test can see an abandoned call let go of its socket.

``async with HostileUpstream(behaviour)`` serves on the running loop (runtime
tests); ``running_hostile(behaviour)`` on a loop of its own in a thread
(gateway tests, whose clients block).
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
from collections.abc import Awaitable, Callable

from tests.helpers.gateway_server import in_own_loop

Behaviour = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

ANSWER = json.dumps({
    "id": "chatcmpl-hostile", "object": "chat.completion", "model": "hostile-model",
    "choices": [{"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": "an answer-shaped body"}}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 4}}).encode()
STREAM_HEAD = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
               b"transfer-encoding: chunked\r\n\r\n")


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def event(delta: dict) -> bytes:
    return chunk(b"data: " + json.dumps({
        "id": "c", "object": "chat.completion.chunk", "model": "hostile-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}).encode() + b"\n\n")


async def _write(writer: asyncio.StreamWriter, data: bytes) -> None:
    writer.write(data)
    await writer.drain()


# --- behaviours ---------------------------------------------------------------------------


def repeated_headers(count: int) -> Behaviour:
    """A 200 with ``count`` copies of one header (sent in 64 KiB writes)."""
    async def behave(reader, writer):
        await _write(writer, b"HTTP/1.1 200 OK\r\n")
        line = b"x-repeat: aaaaaaaaaaaaaaaa\r\n"
        per_write = 65536 // len(line)
        for start in range(0, count, per_write):
            await _write(writer, line * min(per_write, count - start))
        await _write(writer, b"content-length: %d\r\n\r\n%s" % (len(ANSWER), ANSWER))
    return behave


def one_huge_header(size: int) -> Behaviour:
    """A 200 whose single header value is ``size`` bytes."""
    async def behave(reader, writer):
        await _write(writer, b"HTTP/1.1 200 OK\r\nx-huge: ")
        for _ in range(size // 65536):
            await _write(writer, b"a" * 65536)
        await _write(writer, b"\r\ncontent-length: %d\r\n\r\n%s" % (len(ANSWER), ANSWER))
    return behave


def huge_body(size: int, *, declared: bool = True) -> Behaviour:
    """A 200 JSON answer of ``size`` bytes, with or without its Content-Length."""
    async def behave(reader, writer):
        framing = b"content-length: %d\r\n" % size if declared else b"connection: close\r\n"
        await _write(writer, b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n" + framing
                     + b"\r\n")
        block = b" " * 65536
        for _ in range(size // len(block)):
            await _write(writer, block)
    return behave


def endless_sse_line(size: int) -> Behaviour:
    """A stream whose first line is ``size`` bytes with no line break."""
    async def behave(reader, writer):
        await _write(writer, STREAM_HEAD + chunk(b"data: {\"x\": \""))
        block = chunk(b"a" * 65536)
        for _ in range(size // 65536):
            await _write(writer, block)
        await asyncio.sleep(30)
    return behave


def status(code: int, reason: bytes, extra: bytes = b"") -> Behaviour:
    """Any status with the answer-shaped JSON body (a 302 that looks like a 200)."""
    async def behave(reader, writer):
        await _write(writer, b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\n%s"
                     b"content-length: %d\r\n\r\n%s" % (code, reason, extra, len(ANSWER), ANSWER))
    return behave


def interim_flood(count: int) -> Behaviour:
    """``count`` 100 Continue answers, then (if the client is still there) a 200."""
    async def behave(reader, writer):
        for start in range(0, count, 1000):
            await _write(writer, b"HTTP/1.1 100 Continue\r\n\r\n" * min(1000, count - start))
        await status(200, b"OK")(reader, writer)
    return behave


def trickle(interval: float, *, stream: bool = False) -> Behaviour:
    """An answer one byte every ``interval`` seconds: never silent long enough to time out."""
    async def behave(reader, writer):
        if stream:
            await _write(writer, STREAM_HEAD)
            body = chunk(b"data: {\"never\": \"ends\"")
        else:
            await _write(writer, b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(ANSWER))
            body = ANSWER
        for byte in body:
            await _write(writer, bytes([byte]))
            await asyncio.sleep(interval)
        while True:
            await _write(writer, b" " if not stream else b"")
            await asyncio.sleep(interval)
    return behave


def gzipped() -> Behaviour:
    """The answer gzip-compressed although the request asked for identity."""
    async def behave(reader, writer):
        body = gzip.compress(ANSWER)
        await _write(writer, b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                     b"content-encoding: gzip\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
    return behave


def hang() -> Behaviour:
    """Reads the request and never answers."""
    async def behave(reader, writer):
        await asyncio.sleep(3600)
    return behave


def slow_stream(events: int, interval: float) -> Behaviour:
    """A well-formed stream of ``events`` chunks, one every ``interval`` seconds."""
    async def behave(reader, writer):
        await _write(writer, STREAM_HEAD)
        for i in range(events):
            await _write(writer, event({"content": f"part {i} "}))
            await asyncio.sleep(interval)
        await _write(writer, chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")
    return behave


# --- the server ---------------------------------------------------------------------------


class HostileUpstream:
    def __init__(self, behaviour: Behaviour):
        self.behaviour = behaviour
        self.requests: list[bytes] = []
        self.closed = 0  # connections the client closed (EOF while we were answering)
        self.port = 0
        self._tasks: set[asyncio.Task] = set()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def wait_closed(self, count: int = 1, timeout: float = 10.0) -> int:
        """``closed`` once it reaches ``count`` (the client's close takes a moment to
        arrive), or as it is after ``timeout``."""
        async with asyncio.timeout(timeout):
            while self.closed < count:
                await asyncio.sleep(0.01)
        return self.closed

    async def __aenter__(self) -> HostileUpstream:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc) -> None:
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._tasks.add(asyncio.current_task())
        try:
            while True:  # keep-alive: the next request on this connection gets the same
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                await reader.readexactly(length)
                self.requests.append(head)
                answering = asyncio.ensure_future(self.behaviour(reader, writer))
                gone = asyncio.ensure_future(_closed_by_client(reader))
                try:
                    done, _ = await asyncio.wait((answering, gone),
                                                 return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for task in (answering, gone):
                        task.cancel()
                    await asyncio.gather(answering, gone, return_exceptions=True)
                if gone in done or answering.cancelled() or answering.exception() is not None:
                    self.closed += 1
                    return
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError,
                asyncio.CancelledError):  # cancelled: the server is closing
            return
        finally:
            self._tasks.discard(asyncio.current_task())
            writer.close()


async def _closed_by_client(reader: asyncio.StreamReader) -> None:
    """Returns once the client has closed its side (nothing is read, so nothing is lost)."""
    while not reader.at_eof():
        await asyncio.sleep(0.01)


def running_hostile(behaviour: Behaviour) -> contextlib.AbstractContextManager[HostileUpstream]:
    """A HostileUpstream on a loop of its own in a thread, for blocking clients."""
    return in_own_loop(HostileUpstream(behaviour))
