"""A mock OpenAI upstream for gateway benchmarks: raw asyncio, HTTP/1.1 keep-alive.

    .venv/bin/python bench/mock_upstream.py --port 9100 --delay-ms 10

Answers ``POST /v1/chat/completions`` (and ``/chat/completions``) after a fixed
delay with a Chat Completions body that carries ``usage``; with ``"stream":
true`` it sends SSE chunks (role, three content pieces, a usage chunk,
``[DONE]``), the first after the delay. ``GET /v1/models`` and ``GET /healthz``
answer at once; ``GET /stats`` says how many chat requests came, when the first
did (``time.time()``) and the most in flight at once (the eval benchmark's time
to first request and concurrency check). No framework and no JSON parsing on
the hot path (the body is only searched for ``"stream":true``), so that on a
2-core machine the upstream costs as little CPU as possible and what is
measured is the gateway. uvloop is used when installed. Prints ``ready <port>``
when listening; ``--port 0`` picks a free port. ``--openai-headers`` adds the
twenty-odd response headers OpenAI's API sends (request id, rate limits,
cookies), for measuring what header handling costs a client.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time

_STREAM = re.compile(rb'"stream"\s*:\s*true')
_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)

COMPLETION = json.dumps({
    "id": "chatcmpl-mock", "object": "chat.completion", "created": 1_700_000_000,
    "model": "mock-model", "system_fingerprint": "fp_mock",
    "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                 "message": {"role": "assistant", "content": "The charger is an electrical "
                             "defect: route it to the electrical team."}}],
    "usage": {"prompt_tokens": 52, "completion_tokens": 14, "total_tokens": 66},
}, separators=(",", ":")).encode()


def _chunk(delta: dict, finish: str | None = None, usage: dict | None = None) -> bytes:
    body = {"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1_700_000_000,
            "model": "mock-model",
            "choices": [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage:
        body["usage"] = usage
    data = b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"
    return b"%x\r\n%s\r\n" % (len(data), data)


STREAM_BODY = b"".join([
    _chunk({"role": "assistant", "content": ""}),
    _chunk({"content": "The charger is "}), _chunk({"content": "an electrical "}),
    _chunk({"content": "defect."}), _chunk({}, "stop"),
    _chunk({}, usage={"prompt_tokens": 52, "completion_tokens": 14, "total_tokens": 66}),
    b"%x\r\n%s\r\n" % (len(b"data: [DONE]\n\n"), b"data: [DONE]\n\n"), b"0\r\n\r\n",
])
JSON_RESPONSE = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
                 b"connection: keep-alive\r\n\r\n" % len(COMPLETION)) + COMPLETION
STREAM_RESPONSE = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                   b"transfer-encoding: chunked\r\nconnection: keep-alive\r\n\r\n") + STREAM_BODY
MODELS = json.dumps({"object": "list", "data": [
    {"id": "mock-model", "object": "model", "created": 1_700_000_000, "owned_by": "mock"}]}
).encode()
MODELS_RESPONSE = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d"
                   b"\r\n\r\n" % len(MODELS)) + MODELS
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"
#: What api.openai.com sends besides the framing (values shortened, same shapes).
OPENAI_HEADERS = (
    b"date: Tue, 02 Dec 2025 10:00:00 GMT\r\naccess-control-expose-headers: X-Request-ID\r\n"
    b"openai-organization: user-abc123\r\nopenai-processing-ms: 412\r\n"
    b"openai-project: proj_abc123\r\nopenai-version: 2020-10-01\r\n"
    b"x-envoy-upstream-service-time: 415\r\nx-ratelimit-limit-requests: 10000\r\n"
    b"x-ratelimit-limit-tokens: 10000000\r\nx-ratelimit-remaining-requests: 9999\r\n"
    b"x-ratelimit-remaining-tokens: 9999980\r\nx-ratelimit-reset-requests: 6ms\r\n"
    b"x-ratelimit-reset-tokens: 0s\r\nx-request-id: req_0123456789abcdef0123456789abcdef\r\n"
    b"strict-transport-security: max-age=31536000; includeSubDomains; preload\r\n"
    b"cf-cache-status: DYNAMIC\r\nset-cookie: __cf_bm=abcdefghijklmnop; path=/; "
    b"expires=Tue, 02-Dec-25 10:30:00 GMT; domain=.api.openai.com; HttpOnly; Secure\r\n"
    b"x-content-type-options: nosniff\r\nset-cookie: _cfuvid=abcdefghijklmnop; path=/; "
    b"domain=.api.openai.com; HttpOnly; Secure; SameSite=None\r\nserver: cloudflare\r\n"
    b"cf-ray: 8f00000000000000-FRA\r\nalt-svc: h3=\":443\"; ma=86400\r\n")


def with_openai_headers(response: bytes) -> bytes:
    """``response`` with OPENAI_HEADERS after its status line."""
    status, _, rest = response.partition(b"\r\n")
    return status + b"\r\n" + OPENAI_HEADERS + rest


class Upstream(asyncio.Protocol):
    """One connection: requests answered in order, each after the delay."""

    delay = 0.010
    served = 0
    chats = 0
    first_at: float | None = None
    last_answered_at: float | None = None
    in_flight = 0
    most_in_flight = 0

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.buffer = b""
        self.loop = asyncio.get_running_loop()
        self.queue: list[bytes] = []  # answers due, in request order
        self.due = 0

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end]
            match = _LENGTH.search(head)
            length = int(match.group(1)) if match else 0
            end = head_end + 4 + length
            if len(self.buffer) < end:
                return
            body = self.buffer[head_end + 4:end]
            self.buffer = self.buffer[end:]
            self._answer(head, body)

    def _answer(self, head: bytes, body: bytes) -> None:
        line = head[:head.find(b"\r\n")]
        if line.startswith(b"POST ") and b"/chat/completions" in line:
            answer = STREAM_RESPONSE if _STREAM.search(body) else JSON_RESPONSE
            if Upstream.first_at is None:
                Upstream.first_at = time.time()
            Upstream.chats += 1
            Upstream.in_flight += 1
            Upstream.most_in_flight = max(Upstream.most_in_flight, Upstream.in_flight)
            self.queue.append(answer)
            self.loop.call_later(self.delay, self._send_chat)
        elif line.startswith(b"GET ") and b"/stats" in line:
            stats = json.dumps({"chats": Upstream.chats, "first_at": Upstream.first_at,
                                "last_answered_at": Upstream.last_answered_at,
                                "most_in_flight": Upstream.most_in_flight}).encode()
            self.queue.append(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                              b"content-length: %d\r\n\r\n%s" % (len(stats), stats))
            self._send_next()
        elif line.startswith(b"GET ") and (b"/models" in line or b"/healthz" in line):
            self.queue.append(MODELS_RESPONSE)
            self._send_next()
        else:
            self.queue.append(NOT_FOUND)
            self._send_next()

    def _send_chat(self) -> None:
        Upstream.in_flight -= 1
        Upstream.last_answered_at = time.time()
        self._send_next()

    def _send_next(self) -> None:
        if self.queue and not self.transport.is_closing():
            self.transport.write(self.queue.pop(0))
            Upstream.served += 1


async def serve(host: str, port: int, delay_ms: float) -> None:
    Upstream.delay = delay_ms / 1000
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Upstream, host, port, backlog=4096, reuse_address=True)
    print(f"ready {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--delay-ms", type=float, default=10.0)
    parser.add_argument("--openai-headers", action="store_true",
                        help="send OpenAI's response headers with every answer")
    args = parser.parse_args()
    if args.openai_headers:
        global JSON_RESPONSE, STREAM_RESPONSE
        JSON_RESPONSE = with_openai_headers(JSON_RESPONSE)
        STREAM_RESPONSE = with_openai_headers(STREAM_RESPONSE)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    try:
        asyncio.run(serve(args.host, args.port, args.delay_ms))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
