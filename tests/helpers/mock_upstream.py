"""A real HTTP/1.1 server on 127.0.0.1 that misbehaves on request.

Raw asyncio (no web framework): it speaks just enough HTTP for httpx,
keep-alive and chunked SSE included, so faults happen on a real socket:
a hang is a silent connection, a drop is a closed one mid-body.

It serves OpenAI Chat Completions at ``/v1/chat/completions`` and the
Anthropic Messages API at ``/v1/messages``. What each request gets is taken
from ``script`` first (one fault per request), else, for a ``fail_rate``
share of requests, drawn from ``fail_mix``, else a normal answer. The share
is dealt, not tossed: each run of ten requests holds exactly that many
faults in a shuffled order, so "30% of upstream calls fail" holds over the
few hundred calls a test makes, not only on average.

Faults: ``ok``, an HTTP status as int (``500``, ``429``, ``401``...),
``hang``, ``malformed`` (200 with broken JSON), ``drop`` (close before
answering), ``drop_mid_stream`` (close inside the SSE body),
``truncated_stream`` (a clean end without [DONE]/message_stop),
``bad_event`` (an SSE event that is not JSON), ``error_event`` (an error
event mid-stream), ``no_usage``.
"""

from __future__ import annotations

import asyncio
import collections
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
           429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
           503: "Service Unavailable", 529: "Overloaded"}


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class MockUpstream:
    reply: str | Callable[[dict], str] = "Hello from the mock upstream."
    model: str | None = None  # model name reported back; default: the one requested
    fail_rate: float = 0.0
    fail_mix: dict[Any, float] = field(default_factory=lambda: {500: 1.0})
    retry_after: str | None = None  # header sent with 429s
    usage: dict[str, Any] = field(default_factory=lambda: {"prompt_tokens": 12,
                                                          "completion_tokens": 7})
    tool_call: dict[str, Any] | None = None  # answer with this call when tools are offered
    answer_id: str = "chatcmpl-mock"  # the "id" of OpenAI answers and their chunks
    finish_reason: str = "stop"  # of an OpenAI answer that calls no tool
    seed: int = 0
    script: collections.deque = field(default_factory=collections.deque)
    requests: list[Received] = field(default_factory=list)
    served: collections.Counter = field(default_factory=collections.Counter)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self._deck: list[bool] = []  # the rest of the current run of ten: fail or not
        self._deck_rate = 0.0
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task] = set()
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> MockUpstream:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()  # idle keep-alive handlers see EOF and return
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2)
        await self._server.wait_closed()

    def plan(self, *faults: Any) -> MockUpstream:
        self.script.extend(faults)
        return self

    def _next_fault(self) -> Any:
        if self.script:
            return self.script.popleft()
        if self.fail_rate and self._deal():
            kinds, weights = zip(*self.fail_mix.items(), strict=True)
            return self.rng.choices(kinds, weights)[0]
        return "ok"

    def _deal(self) -> bool:
        if not self._deck or self._deck_rate != self.fail_rate:
            failing = self.fail_rate * 10
            assert failing == int(failing), f"fail_rate is dealt in tenths, not {self.fail_rate}"
            failing = int(failing)
            self._deck = [True] * failing + [False] * (10 - failing)
            self.rng.shuffle(self._deck)
            self._deck_rate = self.fail_rate
        return self._deck.pop()

    # --- HTTP ---------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                raw = await reader.readexactly(int(headers.get("content-length", "0")))
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw
                self.requests.append(Received(method, path, headers, body))
                if not await self._respond(reader, writer, path, headers, body):
                    return
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            return
        finally:
            self._writers.discard(writer)
            self._tasks.discard(task)
            writer.close()

    async def _respond(self, reader, writer, path, headers, body) -> bool:
        """Answer one request; False closes the connection."""
        fault = self._next_fault()
        self.served[fault] += 1
        anthropic = path.endswith("/messages")
        stream = isinstance(body, dict) and body.get("stream") is True
        if fault == "hang":
            await reader.read()  # until the client gives up and closes
            return False
        if fault == "drop":
            return False
        if isinstance(fault, int):
            await self._status(writer, fault, headers, anthropic)
            return True
        if fault == "malformed":
            await self._send(writer, 200, b'{"id": "x", "choices": [', "application/json")
            return True
        if stream:
            return await self._stream(writer, body, fault, anthropic)
        answer = (self._anthropic_body if anthropic else self._openai_body)(body, fault)
        await self._send(writer, 200, json.dumps(answer).encode(), "application/json")
        return True

    async def _send(self, writer, status: int, payload: bytes, content_type: str,
                    extra: dict[str, str] | None = None) -> None:
        head = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}",
                f"Content-Type: {content_type}", f"Content-Length: {len(payload)}"]
        head += [f"{k}: {v}" for k, v in (extra or {}).items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
        await writer.drain()

    async def _status(self, writer, status: int, headers: dict[str, str], anthropic: bool):
        extra = {}
        if status == 429 and self.retry_after is not None:
            extra["Retry-After"] = self.retry_after
        if status == 401:  # like a real upstream, quote the key back (the client must scrub it)
            key = headers.get("x-api-key") or headers.get("authorization", "").removeprefix(
                "Bearer ")
            message = f"Incorrect API key provided: {key}. Authorization: Bearer {key}"
        else:
            message = f"upstream says {status}"
        error = {"type": "error", "error": {"type": "api_error", "message": message}} \
            if anthropic else {"error": {"message": message, "type": "server_error"}}
        await self._send(writer, status, json.dumps(error).encode(), "application/json", extra)

    # --- answers ------------------------------------------------------------------

    def _text(self, body: dict) -> str:
        return self.reply(body) if callable(self.reply) else self.reply

    def _openai_body(self, body: dict, fault: Any) -> dict:
        message: dict[str, Any] = {"role": "assistant", "content": self._text(body)}
        finish = self.finish_reason
        if self.tool_call and body.get("tools"):
            message = {"role": "assistant", "content": None, "tool_calls": [self.tool_call]}
            finish = "tool_calls"
        out = {"id": self.answer_id, "object": "chat.completion", "created": 1,
               "model": self.model or body.get("model"),
               "choices": [{"index": 0, "message": message, "finish_reason": finish}]}
        if fault != "no_usage" and self.usage is not None:
            out["usage"] = {**self.usage, "total_tokens": self.usage["prompt_tokens"]
                            + self.usage["completion_tokens"]}
        return out

    def _anthropic_body(self, body: dict, fault: Any) -> dict:
        out = {"id": "msg_mock", "type": "message", "role": "assistant",
               "model": self.model or body.get("model"),
               "content": [{"type": "text", "text": self._text(body)}],
               "stop_reason": "end_turn"}
        if self.tool_call and body.get("tools"):
            function = self.tool_call["function"]
            out["content"] = [{"type": "text", "text": "Let me check."},
                              {"type": "tool_use", "id": self.tool_call["id"],
                               "name": function["name"],
                               "input": json.loads(function["arguments"])}]
            out["stop_reason"] = "tool_use"
        if fault != "no_usage":
            out["usage"] = {"input_tokens": self.usage["prompt_tokens"],
                            "output_tokens": self.usage["completion_tokens"],
                            **{k: v for k, v in self.usage.items() if k.startswith("cache_")}}
        return out

    def _openai_events(self, body: dict, fault: Any) -> list[str]:
        model = self.model or body.get("model")

        def chunk(delta: dict, finish: str | None = None) -> str:
            return json.dumps({"id": self.answer_id, "object": "chat.completion.chunk",
                               "created": 1, "model": model, "choices": [
                                   {"index": 0, "delta": delta, "finish_reason": finish}]})

        events = [chunk({"role": "assistant", "content": ""})]
        events += [chunk({"content": piece})
                   for piece in re.findall(r"\S+\s*", self._text(body))]
        events.append(chunk({}, self.finish_reason))
        wants_usage = (body.get("stream_options") or {}).get("include_usage")
        if wants_usage and fault != "no_usage":
            usage = {**self.usage, "total_tokens": self.usage["prompt_tokens"]
                     + self.usage["completion_tokens"]}
            events.append(json.dumps({"id": self.answer_id, "object": "chat.completion.chunk",
                                      "created": 1, "model": model, "choices": [],
                                      "usage": usage}))
        events.append("[DONE]")
        return [f"data: {e}\n\n" for e in events]

    def _anthropic_events(self, body: dict, fault: Any) -> list[str]:
        model = self.model or body.get("model")
        start_usage = {"input_tokens": self.usage["prompt_tokens"], "output_tokens": 1,
                       **{k: v for k, v in self.usage.items() if k.startswith("cache_")}}
        events = [("message_start", {"type": "message_start", "message": {
            "id": "msg_mock", "type": "message", "role": "assistant", "model": model,
            "content": [], "usage": start_usage}}),
            ("content_block_start", {"type": "content_block_start", "index": 0,
                                     "content_block": {"type": "text", "text": ""}}),
            ("ping", {"type": "ping"})]
        events += [("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {
            "type": "text_delta", "text": piece}}) for piece in re.findall(r"\S+\s*",
                                                                             self._text(body))]
        events.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
        stop = "end_turn"
        if self.tool_call and body.get("tools"):
            function = self.tool_call["function"]
            args = function["arguments"]
            events += [
                ("content_block_start", {"type": "content_block_start", "index": 1,
                                         "content_block": {"type": "tool_use",
                                                           "id": self.tool_call["id"],
                                                           "name": function["name"],
                                                           "input": {}}}),
                ("content_block_delta", {"type": "content_block_delta", "index": 1, "delta": {
                    "type": "input_json_delta", "partial_json": args[:5]}}),
                ("content_block_delta", {"type": "content_block_delta", "index": 1, "delta": {
                    "type": "input_json_delta", "partial_json": args[5:]}}),
                ("content_block_stop", {"type": "content_block_stop", "index": 1})]
            stop = "tool_use"
        delta_usage = {"output_tokens": self.usage["completion_tokens"]}
        events.append(("message_delta", {"type": "message_delta", "delta": {
            "stop_reason": stop}, **({"usage": delta_usage} if fault != "no_usage" else {})}))
        events.append(("message_stop", {"type": "message_stop"}))
        return [f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events]

    async def _stream(self, writer, body: dict, fault: Any, anthropic: bool) -> bool:
        events = (self._anthropic_events if anthropic else self._openai_events)(body, fault)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        cut = len(events) // 2
        if fault in ("drop_mid_stream", "truncated_stream"):
            events = events[:cut]
        if fault == "bad_event":
            events = events[:cut] + ["data: {not json\n\n"] + events[cut:]
        if fault == "error_event":
            error = {"type": "overloaded_error", "message": "Overloaded"}
            events = events[:cut] + [
                f"event: error\ndata: {json.dumps({'type': 'error', 'error': error})}\n\n"
                if anthropic else f"data: {json.dumps({'error': error})}\n\n"]
        for event in events:
            data = event.encode()
            writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            await writer.drain()
        if fault == "drop_mid_stream":
            return False  # close inside the chunked body: no terminating chunk
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True
