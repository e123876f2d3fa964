"""A request's head (request line and headers) is bounded in size and in arrival time,
which uvicorn's httptools protocol leaves open: one endless header, or a head sent a
byte at a time, would otherwise hold memory and a connection for ever.

The limits here are small copies of the real ones (64 KiB, 30 s) so that the tests
are quick; `test_process.py` checks that a real `trimtab serve` uses the protocol.
"""

from __future__ import annotations

import asyncio
import socket
import time

import httpx
import pytest

from tests.helpers.gateway_server import running_app
from trimtab.gateway import Gateway
from trimtab.gateway.http_head import BoundedHead
from trimtab.gateway.server import bounded_http


class Quick(BoundedHead):
    max_head = 4096
    head_seconds = 0.5


async def slow_or_quick(scope, receive, send):
    """A bare ASGI app: `/slow` answers after 1.5 s (three head deadlines), the rest at once."""
    if scope["type"] != "http":
        return
    if scope["path"] == "/slow":
        await asyncio.sleep(1.5)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture
def url():
    with running_app(slow_or_quick, lifespan="off", http=Quick) as base:
        yield base


def connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    got = b""
    while chunk := sock.recv(65536):
        got += chunk
    return got


def read_answer(sock: socket.socket) -> bytes:
    """One whole answer (head and a Content-Length body) on a kept-alive connection."""
    got = b""
    while b"\r\n\r\n" not in got:
        got += sock.recv(65536) or b"!closed"
    answer_head, _, body = got.partition(b"\r\n\r\n")
    length = int(answer_head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    while len(body) < length:
        body += sock.recv(65536)
    return got


def head(path: str = "/", pad: int = 0) -> bytes:
    return (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode()
            + (b"X-Pad: " + b"a" * pad + b"\r\n" if pad else b"") + b"\r\n")


def test_a_head_under_the_limit_is_served(url):
    with connect(url) as sock:
        sock.sendall(head(pad=3800))
        assert read_answer(sock).startswith(b"HTTP/1.1 200")


def test_a_head_over_the_limit_gets_431_and_the_connection_is_closed(url):
    with connect(url) as sock:
        sock.sendall(head(pad=5000))
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert b"over 4,096 bytes" in answer
    # The server goes on answering others.
    assert httpx.get(url, timeout=10).status_code == 200


def test_a_header_that_never_ends_is_refused_before_it_ends(url):
    """httptools keeps an unfinished header to itself: the raw bytes are what is counted."""
    with connect(url) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ")
        for _ in range(5):
            sock.sendall(b"a" * 1024)  # no CRLF, ever
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 431")


def test_many_small_headers_arriving_with_a_body_in_one_piece_are_counted(url):
    headers = b"".join(b"X-H%d: v\r\n" % i for i in range(600))  # ~6 KB, each header small
    request = (b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n" + headers
               + b"\r\nhi")
    with connect(url) as sock:
        sock.sendall(request)
        assert read_all(sock).startswith(b"HTTP/1.1 431")


def test_whitespace_the_parser_drops_counts_when_the_head_arrives_in_one_read(url):
    """httptools drops the spaces around a header's value; a head padded with them and
    sent in one piece with its body was measured by its parts alone (20 KB passed a
    4 KiB limit)."""
    padded = (b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad:" + b" " * 10_000 + b"ab"
              + b" " * 10_000 + b"\r\nContent-Length: 2\r\n\r\nhi")
    with connect(url) as sock:
        sock.sendall(padded)
        assert read_all(sock).startswith(b"HTTP/1.1 431")
    with connect(url) as sock:  # a body with a blank line of its own is the body's
        body = b"x" * 1000 + b"\r\n\r\n" + b"y" * 8000
        sock.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n%s"
                     % (len(body), body))
        assert read_answer(sock).startswith(b"HTTP/1.1 200")


def test_each_request_on_a_kept_alive_connection_has_the_whole_limit(url):
    with connect(url) as sock:
        for _ in range(3):  # 3 x 3.8 KB on one connection, each under 4 KiB
            sock.sendall(head(pad=3800))
            assert read_answer(sock).startswith(b"HTTP/1.1 200")


def test_a_head_trickled_past_its_deadline_gets_408(url):
    with connect(url) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\n")
        time.sleep(0.2)
        sock.sendall(b"Host: 127.0.0.1\r\n")  # still within 0.5 s, and still no end
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert b"within 0.5 s" in answer


def test_a_connection_that_never_sends_a_byte_is_closed(url):
    with connect(url) as sock:
        assert read_all(sock) == b""  # closed after the head deadline, nothing to answer


def test_the_deadline_is_per_request_not_per_connection(url):
    """A kept-alive connection lives past one head deadline; each request's head has
    its own, counted from its first byte."""
    with connect(url) as sock:
        for _ in range(2):
            sock.sendall(head())
            assert read_answer(sock).startswith(b"HTTP/1.1 200")
            time.sleep(0.3)  # 0.6 s in all on the connection, > 0.5 s
        sock.sendall(head())
        assert read_answer(sock).startswith(b"HTTP/1.1 200")


def test_a_slow_answer_is_not_cut_by_the_head_deadline(url):
    with connect(url) as sock:
        sock.sendall(head("/slow"))
        assert read_answer(sock).startswith(b"HTTP/1.1 200")
        sock.sendall(head())  # and the connection still serves the next request
        assert read_answer(sock).startswith(b"HTTP/1.1 200")


def test_the_gateway_serves_with_the_bounded_protocol(ws):
    """What `trimtab gateway` and `trimtab serve` give uvicorn (one process;
    test_process.py covers workers), with the real 64 KiB limit; uvicorn's own
    httptools protocol takes the same head whole."""
    pad = {"x-pad": "a" * (70 << 10)}
    with running_app(Gateway(ws), http="httptools") as plain:
        assert httpx.get(f"{plain}/healthz", headers=pad, timeout=10).status_code == 200
    with running_app(Gateway(ws), http=bounded_http()) as served:
        assert httpx.get(f"{served}/healthz", headers=pad, timeout=10).status_code == 431
        assert httpx.get(f"{served}/healthz", headers={"x-pad": "a" * (60 << 10)},
                         timeout=10).status_code == 200
