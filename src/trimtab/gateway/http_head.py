"""Bounds on a request's head (its request line and headers), in size and in time.

uvicorn's httptools protocol bounds neither: a client can send one header for
ever (httptools buffers a header until its end) or open a connection and send
its head a byte a minute, holding memory and a connection each. uvicorn's h11
protocol bounds the size (16 KiB) but not the time, and parses slower; so the
gateway keeps httptools and adds both bounds here, as nginx
(``large_client_header_buffers``, ``client_header_timeout``) and Node.js
(``maxHeaderSize``, ``headersTimeout``) do. The body has its own limits once the
head is in (``app.py``: 32 MiB within 30 s).

Size is counted in raw bytes: while a head is incomplete, every byte received
(httptools keeps an unfinished header to itself, so an endless head is refused
while it arrives); and once it is complete, up to its blank line in the read
that ended it, which may carry the body too. Where a pipelined head began inside
an earlier request's read its start is not known, and the parts httptools hands
over (the URL and the headers, without the whitespace it drops) count instead.
Time runs from a connection's opening (a connection that never sends a byte is
closed too) and from the first byte of each later request on it; between
requests uvicorn's keep-alive timeout applies.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

#: Request line plus headers; nginx allows 32 KiB, Node.js 16 KiB.
MAX_HEAD = 64 << 10
#: From the connection's opening, or a later request's first byte, to the head's end.
HEAD_SECONDS = 30.0


class HeadTooLarge(Exception):
    """Raised inside a parser callback to stop parsing; answered with 431."""


class BoundedHead(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing a head over ``max_head`` bytes (431) or
    one that takes over ``head_seconds`` to arrive (408); both close the connection."""

    max_head = MAX_HEAD
    head_seconds = HEAD_SECONDS

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_timer: asyncio.TimerHandle | None = None
        self._next_head()
        self._head_started: float | None = self.loop.time()
        self._arm_head_timer(self.head_seconds)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            if self._head_started is None:
                self._head_started = self.loop.time()
                if self._head_timer is None:
                    self._arm_head_timer(self.head_seconds)
            self._head_received += len(data)
            self._read = data
        super().data_received(data)
        self._read = b""
        if self._in_head:
            self._tail = (self._tail + data)[-3:]
            if self._head_received > self.max_head and not self.transport.is_closing():
                self._refuse_large_head()

    # Parser callbacks

    def on_headers_complete(self) -> None:
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if self._read:
            # The parts leave out what the parser drops (whitespace around values): where
            # the head ends in this read, its raw size is known too. The search starts
            # with the last read's tail, where a CRLF CRLF split between reads begins.
            end = (self._tail + self._read).find(b"\r\n\r\n")
            if end >= 0:
                before = self._head_received - len(self._read)  # this head's earlier reads
                size = max(size, before + end - len(self._tail) + 4)
        if size > self.max_head:
            self._too_large = True
            raise HeadTooLarge  # parsing stops; uvicorn answers through send_400_response
        self._in_head = False
        self._head_started = None  # the timer stays armed: it looks again when it fires
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._next_head()

    def send_400_response(self, msg: str) -> None:
        # A callback's HeadTooLarge reaches uvicorn as a parser error, which it answers
        # with 400 through here; the client should learn what was wrong instead.
        if self._too_large:
            self._refuse_large_head()
        else:
            super().send_400_response(msg)

    # The bounds

    def _next_head(self) -> None:
        self._in_head = True
        self._head_started = None  # set by the next request's first byte
        self._too_large = False
        self._head_received = 0
        self._read = b""  # the read being parsed, while a head is under way
        self._tail = b""  # the last 3 bytes of this head's earlier reads

    def _arm_head_timer(self, seconds: float) -> None:
        self._head_timer = self.loop.call_later(seconds, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        """One timer a connection, not one a request: when it fires it looks at the head
        now arriving, if any, and sleeps again until that head's deadline (a first version,
        arming a timer per request and checking the size per header, cost 1 us a
        request more: bench/http_head_cost.py)."""
        self._head_timer = None
        started = self._head_started
        if not self._in_head or started is None or self.transport.is_closing():
            return  # no head under way: the next one's first byte arms the timer
        left = started + self.head_seconds - self.loop.time()
        if left > 0:
            self._arm_head_timer(left)
            return
        if self.cycle is not None and not self.cycle.response_complete:
            # A pipelined request's head waits behind a response still being sent: the
            # response's time is not the head's, so the head gets a fresh period.
            self._head_started = self.loop.time()
            self._arm_head_timer(self.head_seconds)
            return
        if self._head_received:
            self._close_with(408, "Request Timeout",
                             f"the request's head did not arrive within {self.head_seconds:g} s")
        else:
            self.transport.close()  # opened, and nothing sent: nothing to answer

    def _refuse_large_head(self) -> None:
        self._close_with(431, "Request Header Fields Too Large",
                         f"the request line and headers are over {self.max_head:,} bytes")

    def _close_with(self, status: int, reason: str, message: str) -> None:
        body = message.encode()
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s"
            % (status, reason.encode(), len(body), body))
        self.transport.close()
        self._cancel_head_timer()
