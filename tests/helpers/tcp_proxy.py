"""A loopback TCP proxy a test can cut or freeze, to make a real database fail.

``cut()`` is an outage: every connection drops and new ones are refused.
``freeze()`` is a silent partition (a firewall or NAT that lost its state, a
failover behind a virtual IP): the connections open at that moment stop
carrying bytes either way without being closed, while new ones work.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit


class _Flow:
    """One proxied connection: its two sockets, and whether it still carries bytes."""

    def __init__(self, client: socket.socket, upstream: socket.socket):
        self.sockets = (client, upstream)
        self.flowing = threading.Event()
        self.flowing.set()

    def close(self) -> None:
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
        self.flowing.set()  # a pipe held by freeze() lets go, finds the sockets closed


class TcpProxy:
    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._open = threading.Event()
        self._open.set()
        self._flows: set[_Flow] = set()
        self._frozen: set[_Flow] = set()
        self._lock = threading.Lock()
        self.accepted = 0  # connections made through the proxy so far
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        """Drop every live connection and refuse new ones until restore()."""
        self._open.clear()
        with self._lock:
            flows = self._flows | self._frozen
            self._flows, self._frozen = set(), set()
        for flow in flows:
            flow.close()

    def restore(self) -> None:
        self._open.set()

    def freeze(self, *, refuse_new: bool = False) -> int:
        """Stop every live connection from carrying bytes, without closing it (the
        peers see silence, not an error); connections made afterwards work, unless
        ``refuse_new`` (until restore()). Returns how many connections froze."""
        if refuse_new:
            self._open.clear()
        with self._lock:
            frozen = self._flows - self._frozen
            self._frozen |= frozen
        for flow in frozen:
            flow.flowing.clear()
        return len(frozen)

    def close(self) -> None:
        self.cut()
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._open.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            flow = _Flow(client, upstream)
            with self._lock:
                self._flows.add(flow)
                self.accepted += 1
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(flow, a, b), daemon=True).start()

    def _pipe(self, flow: _Flow, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                flow.flowing.wait()  # frozen: hold the bytes; they never arrive
                sink.sendall(data)
        # One side closed (or the proxy closed both): so does the other, as TCP would,
        # unless the flow is frozen: then the far side never hears of it.
        with self._lock:
            self._flows.discard(flow)
        for sock in flow.sockets if flow.flowing.is_set() else (source,):
            with contextlib.suppress(OSError):
                sock.close()


def through(url: str, proxy: TcpProxy, **query: str) -> str:
    """``url`` (a PostgreSQL URL) sent through ``proxy``, with ``query`` parameters added."""
    parts = urlsplit(url)
    auth = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    extra = urlencode(query)
    joined = "&".join(q for q in (parts.query, extra) if q)
    return urlunsplit(parts._replace(netloc=f"{auth}127.0.0.1:{proxy.port}", query=joined))


@contextlib.contextmanager
def proxied(url: str, **query: str) -> Iterator[tuple[TcpProxy, str]]:
    """A proxy in front of the database of ``url``, and the URL that goes through it."""
    parts = urlsplit(url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    try:
        yield proxy, through(url, proxy, **query)
    finally:
        proxy.close()


def bounded(work: Callable[[], Any], timeout: float) -> tuple[float, Any]:
    """Run ``work`` in a thread: (seconds it took, its result or exception). Fails the
    test if it has not returned within ``timeout`` (the thread is left hanging), so a
    store call that hangs fails its test instead of blocking the suite."""
    got: list = []

    def run() -> None:
        try:
            got.append(work())
        except Exception as exc:  # noqa: BLE001 - handed to the test
            got.append(exc)

    started = time.monotonic()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    assert got, f"still waiting after {timeout:.0f}s: the store hangs"
    return time.monotonic() - started, got[0]
