"""The web app reads at most 1 MiB of a request body (web/body_limit.py): a declared
length past it is a 413 before a byte is read, a chunked body is cut off as it
streams in, and both come before the credentials check, which FastAPI makes only
once it has the whole body."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import httpx
import pytest

from tests.helpers import eventually
from tests.web.conftest import SYSTEM
from trimtab.web.body_limit import MAX_BODY, BodyLimit


def exchange(url: str, head: str, *chunks: bytes) -> bytes:
    """Send a request's head and body parts as given; the answer up to the server's close."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(head.replace("HOST", parts.netloc).encode())
        for chunk in chunks:
            sock.sendall(chunk)
        answer = b""
        try:
            while data := sock.recv(65536):
                answer += data
        except ConnectionResetError:  # closed with the rest of the body unread: a reset
            pass
        return answer


def test_a_body_past_1_mib_is_a_413_before_the_credentials_check(served):
    url, ws, _ = served
    ws.create_key("deployer", env="production")
    eventually(lambda: httpx.get(f"{url}/api/v1/systems").status_code == 401)
    promote = f"/api/v1/systems/{SYSTEM}/promote"

    started = time.monotonic()
    declared = exchange(url, f"POST {promote} HTTP/1.1\r\nHost: HOST\r\nContent-Type: "
                        "application/json\r\nContent-Length: 157286400\r\n\r\n")
    assert declared.startswith(b"HTTP/1.1 413 ")
    assert b"over 1,048,576 bytes" in declared and b"Fix: send a smaller body" in declared
    assert time.monotonic() - started < 5  # answered without waiting for 150 MB

    chunk = b"%x\r\n%s\r\n" % (65536, b" " * 65536)
    streamed = exchange(url, f"POST {promote} HTTP/1.1\r\nHost: HOST\r\nContent-Type: "
                        "application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
                        *[chunk] * (MAX_BODY // 65536 + 1))  # never finished
    assert streamed.startswith(b"HTTP/1.1 413 ") and b"over 1,048,576 bytes" in streamed
    assert b"content-security-policy" in streamed.lower()

    small = httpx.post(f"{url}{promote}", json={"release": "x" * 1000, "env": "dev"})
    assert small.status_code == 401  # under the bound, the credentials check as before


@pytest.mark.anyio
async def test_the_app_reads_no_further_than_the_bound():
    """In-process: a client streaming without end is cut off after the bound, and the
    app's own answer to the cut-off body never goes out."""
    read = 0
    sent: list[dict] = []

    async def endless() -> dict:
        nonlocal read
        read += 1
        return {"type": "http.request", "body": b"x" * 1000, "more_body": True}

    async def send(message: dict) -> None:
        sent.append(message)

    async def app(scope, receive, send) -> None:
        while (await receive())["type"] == "http.request":
            pass
        raise RuntimeError("the client went away")  # as Starlette's ClientDisconnect

    scope = {"type": "http", "method": "POST", "path": "/api/v1/x", "headers": []}
    await BodyLimit(app, max_body=10_000)(scope, endless, send)
    assert read == 11  # 11,000 bytes: past the bound, and not one message more
    assert [m.get("status") for m in sent] == [413, None] and sent[1]["body"].startswith(
        b'{"detail":"the request body is over 10,000 bytes')
