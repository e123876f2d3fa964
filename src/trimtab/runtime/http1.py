"""A lean HTTP/1.1 client for calls to model providers.

Pooled keep-alive connections as asyncio protocols, answers parsed by
httptools (llhttp, the parser inside Node.js), so the framing (Content-Length,
chunked, keep-alive) is a C library's job. It does what a provider call
needs and nothing else: POST a body, read the answer whole or as it comes,
TLS, HTTP proxies (CONNECT tunnels for https), a connect timeout, a read
timeout (the longest silence between bytes) and a deadline per request that
the reader of a stream can push on.

A provider is trusted with the answer, not with the gateway: the head is
capped in bytes and headers (interim 1xx answers included), a body read whole
is capped, an encoded body is refused (``Accept-Encoding: identity`` is
asked for), and everything is handled in time linear in the bytes received.

Why not aiohttp (used before) or httpx: against a 10 ms upstream on 2 cores,
aiohttp's request and response machinery (request/response objects, payload
writers, timer contexts, a task per connection) added about 0.6 ms per call
at concurrency 1, most of the gateway's 1 ms budget; this client adds about
0.1 ms, and half the CPU at concurrency 64 (bench/gateway_vs_litellm.py).
"""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections import deque
from collections.abc import AsyncIterator, Mapping
from urllib.parse import unquote, urlsplit

import httptools

from trimtab.runtime.http1_request import Origin, request_head, split_url

KEEPALIVE_EXPIRY = 15.0  # seconds an idle connection is reused; servers keep theirs 5-120 s
MAX_IDLE = 256  # idle connections kept per origin
HIGH_WATER = 1 << 20  # unread streamed bytes at which the socket stops being read
MAX_HEADER_BYTES = 64 << 10  # an answer's head (status lines and headers, 1xx included)
MAX_HEADERS = 100  # header lines in an answer's head, 1xx included
MAX_INTERIM = 10  # 1xx answers before the real one (100 Continue, 103 Early Hints)


class TransportError(Exception):
    """No whole answer: no connection, a timeout, a cut, or not HTTP at all."""


class ConnectError(TransportError):
    """The connection (TCP, proxy tunnel or TLS handshake) could not be made."""


class ConnectTimeout(TransportError, TimeoutError):
    """The connection was not made within the connect timeout."""


class ReadTimeout(TransportError, TimeoutError):
    """The server went silent for longer than the read timeout."""


class Disconnected(TransportError):
    """The server closed the connection before its answer ended."""


class ProtocolError(TransportError):
    """The server's bytes are not an HTTP/1.1 answer."""


class Refused(ProtocolError):
    """An answer over a limit (head, body, interim answers) or in an encoding not asked for."""


class Deadline(TransportError, TimeoutError):
    """The request's deadline passed: ``what`` names the setting (``total``, ``idle``)."""

    def __init__(self, what: str, seconds: float):
        super().__init__(f"nothing complete within {seconds:g} s (timeouts.{what})")
        self.what = what


class _Connection(asyncio.Protocol):
    """One keep-alive connection and the answer being read on it."""

    def __init__(self, loop: asyncio.AbstractEventLoop, read_timeout: float | None,
                 max_header_bytes: int = MAX_HEADER_BYTES, max_headers: int = MAX_HEADERS):
        self.loop = loop
        self.read_timeout = read_timeout
        self.max_header_bytes = max_header_bytes
        self.max_headers = max_headers
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._tunnel: asyncio.Future | None = None
        self._tunnel_bytes = b""
        self.head: asyncio.Future | None = None
        self.complete = False
        self.keep_alive = False
        self.until_close = False  # the body ends when the connection does
        self.error: TransportError | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.status = 0
        self.headers: dict[str, str] = {}
        self._repeated: dict[str, list[str]] | None = None  # names sent more than once
        self.in_head = False  # the final status line and headers are still to come
        self._head_bytes = self._header_count = self._interim = 0
        self.body: deque[bytes] = deque()
        self.buffered = 0
        self.paused = False
        self._waiter: asyncio.Future | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._due = 0.0  # when the timer fires
        self._last = 0.0
        self.deadline: float | None = None  # loop time by which the answer must be whole
        self._deadline_error: tuple[str, float] = ("total", 0.0)

    def begin(self, timeout: float | None = None, what: str = "total") -> None:
        """Ready for the next request's answer (the previous one was read to its end)."""
        self.parser = httptools.HttpResponseParser(self)
        self.head = self.loop.create_future()
        self.complete, self.keep_alive, self.error = False, False, None
        self.until_close = False
        self.status, self.headers, self._repeated = 0, {}, None
        self.in_head = True
        self._head_bytes = self._header_count = self._interim = 0
        self.body.clear()
        self.buffered = 0
        self._last = now = self.loop.time()
        if timeout is None:
            self.deadline = None
        else:
            self.deadline = now + timeout
            self._deadline_error = (what, timeout)
        self._arm()

    def extend(self, what: str, seconds: float) -> None:
        """The answer's deadline is now ``seconds`` from now (a stream's reader, per event)."""
        self.deadline = deadline = self.loop.time() + seconds
        if self._deadline_error[0] != what:
            self._deadline_error = (what, seconds)
        if self._timer is None or self._due > deadline:
            if self.complete or self.error is not None:
                return
            if self._timer is not None:
                self._timer.cancel()
            self._arm()

    # --- asyncio protocol ---------------------------------------------------------

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self._tunnel is not None:
            return self._tunnel_data(data)
        if self.complete or self.head is None:  # nothing asked: a server out of step
            self.keep_alive = False
            self.close()
            return
        self._last = self.loop.time()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            refused = exc.__context__
            self.fail(refused if isinstance(refused, TransportError)
                      else ProtocolError(f"the answer is not HTTP/1.1 ({exc})"))
            return
        if self.in_head:  # all of ``data`` was head: count it (linear, bounded)
            self._head_bytes += len(data)
            if self._header_count + len(self.headers) > self.max_headers:
                self.fail(self._too_many())
            elif self._head_bytes > self.max_header_bytes:
                self.fail(Refused(f"the answer's head is over {self.max_header_bytes} bytes"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._tunnel is not None and not self._tunnel.done():
            self._tunnel.set_exception(ConnectError("the proxy closed the connection"))
        if self.head is None or self.complete:
            return
        if self.until_close and exc is None:
            self._finish()  # the end of the connection is the end of this answer
        else:
            self.fail(Disconnected("the server closed the connection before the answer ended"))

    # --- httptools callbacks --------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.complete:  # a second answer in the same read: not ours to take
            self.keep_alive = False
            return
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        if key in self.headers:  # joined once the head is in: linear, however many repeats
            if self._repeated is None:
                self._repeated = {}
            self._repeated.setdefault(key, [self.headers[key]]).append(text)
            self._header_count += 1  # the distinct ones are counted by len(self.headers)
        else:
            self.headers[key] = text

    def _too_many(self) -> Refused:
        return Refused(f"the answer has over {self.max_headers} header lines")

    def on_headers_complete(self) -> None:
        if self.complete:
            return
        headers = self.headers
        if self._header_count + len(headers) > self.max_headers:  # checked per read too
            raise self._too_many()
        if self._repeated is not None:
            for key, values in self._repeated.items():
                headers[key] = ", ".join(values)
            self._repeated = None
        self.status = self.parser.get_status_code()
        if self.status >= 200 and self.head is not None and not self.head.done():
            self.in_head = False
            encoding = headers.get("content-encoding")
            if encoding is not None and encoding.strip().lower() not in ("", "identity"):
                raise Refused(f"the answer is encoded ({encoding[:40]}), though the request "
                              "asked for identity")
            self.until_close = self.status not in (204, 304) and \
                "content-length" not in headers and \
                "chunked" not in headers.get("transfer-encoding", "").lower()
            self.head.set_result(None)

    def on_body(self, data: bytes) -> None:
        if self.complete:
            self.keep_alive = False
            return
        self.body.append(data)
        self.buffered += len(data)
        if self.buffered > HIGH_WATER and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self.complete:
            self.keep_alive = False
            return
        if self.status < 200:  # 1xx (e.g. 103 Early Hints): the real answer follows
            self._interim += 1
            if self._interim > MAX_INTERIM:
                raise Refused(f"over {MAX_INTERIM} interim (1xx) answers before the real one")
            self._header_count += len(self.headers)
            self.headers = {}
            return
        self.keep_alive = self.parser.should_keep_alive()  # only known in this callback
        self._finish()

    # --- the answer -------------------------------------------------------------------

    def _finish(self) -> None:
        self.complete = True
        self._stop_timer()
        self._wake()

    def fail(self, error: TransportError) -> None:
        if not self.complete and self.error is None:
            self.error = error
            if self.head is not None and not self.head.done():
                self.head.set_exception(error)
            self._wake()
        self._stop_timer()
        self.close()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def reusable(self) -> bool:
        """Read to its end, nothing left over, the socket still read: fit for the next one."""
        return self.complete and self.keep_alive and not self.closed and not self.paused \
            and not self.body

    async def next_chunk(self) -> bytes | None:
        """The next piece of the body, None at its end; raises what cut it short."""
        while True:
            if self.body:
                data = self.body.popleft()
                self.buffered -= len(data)
                if self.paused and self.buffered < HIGH_WATER // 4 and self.transport:
                    self.paused = False
                    self._last = self.loop.time()  # the silence so far was ours
                    self.transport.resume_reading()
                return data
            if self.error is not None:
                raise self.error
            if self.complete:
                return None
            if self.deadline is not None and self.loop.time() >= self.deadline:
                self.fail(Deadline(*self._deadline_error))
                continue
            self._waiter = self.loop.create_future()
            await self._waiter

    def take_body(self) -> bytes:
        data = b"".join(self.body)
        self.body.clear()
        self.buffered = 0
        return data

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _arm(self, now: float = 0.0) -> None:
        """One timer per answer, at the earlier of silence and deadline; it re-arms itself.
        A deadline already past (its reader was busy elsewhere) is its next wait's to check."""
        due = self.deadline
        if due is not None and due <= now:
            due = None
        if self.read_timeout is not None:
            silence = self._last + self.read_timeout
            due = silence if due is None or silence < due else due
        if due is not None:
            self._due = due
            self._timer = self.loop.call_at(due, self._check_silence)

    def _check_silence(self) -> None:
        self._timer = None
        if self.complete or self.error is not None:
            return
        now = self.loop.time()
        # The deadline binds while the answer's head is awaited or a reader waits for the
        # body; a reader busy with what it has (a slow client downstream) is not held to it.
        if self.deadline is not None and now >= self.deadline and \
                (self.in_head or self._waiter is not None):
            self.fail(Deadline(*self._deadline_error))
            return
        if self.read_timeout is not None:
            if not self.paused and now >= self._last + self.read_timeout:
                self.fail(ReadTimeout(f"no byte from the server in {self.read_timeout:g} s"))
                return
            if self.paused:  # a slow reader is not a silent server: look again shortly
                self._last = max(self._last, now - self.read_timeout + 0.01)
        self._arm(now)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # --- CONNECT through a proxy --------------------------------------------------------

    async def tunnel(self, authority: str, auth: str | None) -> None:
        self._tunnel = self.loop.create_future()
        extra = f"Proxy-Authorization: {auth}\r\n" if auth else ""
        self.transport.write(  # type: ignore[union-attr]
            f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n{extra}\r\n".encode())
        try:
            head: bytes = await self._tunnel
        finally:
            self._tunnel = None
        status = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = status.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].startswith("2"):
            raise ConnectError(f"the proxy refused the tunnel to {authority}: {status[:100]}")

    def _tunnel_data(self, data: bytes) -> None:
        self._tunnel_bytes += data
        end = self._tunnel_bytes.find(b"\r\n\r\n")
        if end >= 0 and self._tunnel is not None and not self._tunnel.done():
            self._tunnel.set_result(self._tunnel_bytes[:end])
            self._tunnel_bytes = b""


class Response:
    """Status and headers as soon as they arrive; the body whole or as it comes.

    Read to its end, the connection goes back to the pool; abandoned midway
    (``close()``, a cancelled read), it is closed, since its state is unknown.
    """

    __slots__ = ("status", "headers", "extend", "_conn", "_client", "_origin", "_done")

    def __init__(self, conn: _Connection, client: Client, origin: tuple):
        self.status = conn.status
        self.headers = conn.headers
        #: ``extend(what, seconds)``: give the rest of the answer ``seconds`` more from now;
        #: past that, the reader's next wait raises Deadline naming ``what``. A stream's
        #: reader calls it per event (the connection's own method: no call in between).
        self.extend = conn.extend
        self._conn, self._client, self._origin = conn, client, origin
        self._done = False

    async def read(self, limit: int | None = None) -> bytes:
        """The whole body; over ``limit`` bytes it is refused (and the connection closed)."""
        conn = self._conn
        if conn.complete:  # the usual case: the whole answer came with its headers
            data = conn.take_body()
        else:
            parts = []
            size = 0
            try:
                if limit is not None:
                    declared = self.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > limit:
                        raise self._too_large(limit, declared)
                while (chunk := await conn.next_chunk()) is not None:
                    size += len(chunk)
                    if limit is not None and size > limit:
                        raise self._too_large(limit)
                    parts.append(chunk)
            except BaseException:
                self.close()
                raise
            data = b"".join(parts)
        self.close()
        if limit is not None and len(data) > limit:
            raise self._too_large(limit)
        return data

    @staticmethod
    def _too_large(limit: int, declared: str | None = None) -> Refused:
        size = f" ({declared} bytes)" if declared else ""
        return Refused(f"the answer's body{size} is over {limit} bytes")

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            while (chunk := await self._conn.next_chunk()) is not None:
                yield chunk
        except BaseException:  # incl. GeneratorExit: the reader stopped midway
            self.close()
            raise
        self.close()

    def close(self) -> None:
        """Done with it: the pool takes the connection back only if its answer was read to
        the end (``Client.release`` checks); any other is closed."""
        if not self._done:
            self._done = True
            self._client.release(self._origin, self._conn)


class Client:
    """Keep-alive connections per origin, for one event loop's provider calls.

    ``proxy`` (``http://[user:pass@]host:port``) carries plain-HTTP requests
    as absolute URLs and https ones through a CONNECT tunnel.
    """

    def __init__(self, *, connect_timeout: float | None = None,
                 read_timeout: float | None = None, proxy: str | None = None,
                 ssl_context: ssl.SSLContext | None = None,
                 max_header_bytes: int = MAX_HEADER_BYTES, max_headers: int = MAX_HEADERS):
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_header_bytes = max_header_bytes
        self.max_headers = max_headers
        self._ssl = ssl_context
        self._idle: dict[tuple, deque[_Connection]] = {}
        self._closed = False
        self.proxy: Origin | None = None
        self._proxy_auth: str | None = None
        if proxy:
            parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
            if parts.scheme != "http" or not parts.hostname:
                shown = f"{parts.scheme}://{parts.hostname or ''}"  # never the credentials
                raise ValueError(f"proxy {shown}: only http:// proxies are supported "
                                 "(https targets go through them as CONNECT tunnels)")
            self.proxy = Origin("http", parts.hostname, parts.port or 80)
            if parts.username is not None:
                token = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
                self._proxy_auth = "Basic " + base64.b64encode(token.encode()).decode()

    def ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
        return self._ssl

    async def request(self, method: str, url: str, headers: Mapping[str, str],
                      body: bytes = b"", *, timeout: float | None = None,
                      timeout_name: str = "total") -> Response:
        """Send, and return once the status and headers are in.

        ``timeout`` bounds the whole answer, head and body, from the moment the request
        is sent (a stream's reader pushes it on with ``Response.extend``); the Deadline
        error names it ``timeout_name``.
        """
        origin, path = split_url(url)
        plain_proxy = self.proxy is not None and origin.scheme == "http"
        if plain_proxy:
            target, pool = f"http://{origin.authority}{path}", ("via", self.proxy)
            if self._proxy_auth:
                headers = {**headers, "Proxy-Authorization": self._proxy_auth}
        else:
            target, pool = path, origin
        data = request_head(method, target, origin.authority, headers, len(body)) + body
        conn = await self._checkout(pool, origin)
        conn.begin(timeout, timeout_name)
        conn.transport.write(data)  # type: ignore[union-attr]
        # Not retried here when the connection turns out dead: a POST the server may
        # have taken is not sent twice behind the caller's back (a model call is billed).
        # The router retries connection errors, with its backoff, where that is allowed.
        try:
            await conn.head  # type: ignore[misc]
        except BaseException as exc:
            if not isinstance(exc, TransportError):
                conn.fail(Disconnected("the request was abandoned"))
            raise
        return Response(conn, self, pool)

    async def _checkout(self, pool: tuple, origin: Origin) -> _Connection:
        idle = self._idle.get(pool)
        if idle:
            now = asyncio.get_running_loop().time()
            while idle:
                conn = idle.pop()
                if not conn.closed and not conn.transport.is_closing() and \
                        now - conn.idle_since < KEEPALIVE_EXPIRY:
                    return conn
                conn.close()
        return await self._connect(origin)

    def release(self, pool: tuple, conn: _Connection) -> None:
        idle = self._idle.setdefault(pool, deque())
        if self._closed or not conn.reusable() or len(idle) >= MAX_IDLE:
            conn.close()
            return
        conn.idle_since = now = conn.loop.time()
        idle.append(conn)
        if idle[0].closed or now - idle[0].idle_since >= KEEPALIVE_EXPIRY:
            idle.popleft().close()  # the oldest is reached last (LIFO): age it out here

    async def _connect(self, origin: Origin) -> _Connection:
        loop = asyncio.get_running_loop()
        tls = origin.scheme == "https"
        hop = self.proxy or origin
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, conn = await loop.create_connection(
                    lambda: _Connection(loop, self.read_timeout, self.max_header_bytes,
                                        self.max_headers), hop.host, hop.port,
                    ssl=self.ssl_context() if tls and self.proxy is None else None,
                    server_hostname=origin.host if tls and self.proxy is None else None)
                if tls and self.proxy is not None:
                    try:
                        await conn.tunnel(origin.host_port, self._proxy_auth)
                        conn.transport = await loop.start_tls(
                            conn.transport, conn, self.ssl_context(), server_hostname=origin.host)
                    except BaseException:
                        conn.close()
                        raise
        except TimeoutError:
            within = f" within {self.connect_timeout:g} s" if self.connect_timeout else ""
            raise ConnectTimeout(f"no connection to {hop.host}:{hop.port}{within}") from None
        except OSError as exc:  # refused, unreachable, DNS, TLS (ssl.SSLError)
            raise ConnectError(f"cannot connect to {hop.host}:{hop.port}: {exc}") from None
        return conn

    async def aclose(self) -> None:
        """Close the idle connections; one still being read closes when its reader is done."""
        self._closed = True
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()
