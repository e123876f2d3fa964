"""Webhook channels against endpoints that are broken or hostile on purpose (real
servers on loopback): a head sent a byte at a time, a 200 MiB answer, a redirect to
another place, an answer that never comes."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import threading
import time
import tracemalloc

from tests.helpers import hostile_upstream as hostile
from trimtab.observe import channels
from trimtab.project.alert_rules import ChannelSpec


def send_to(upstream, *, timeout: float = 1.0, retries: int = 0) -> channels.Outcome:
    channel = ChannelSpec(kind="webhook", url=f"{upstream.root_url}/hook?token=T0KEN",
                          timeout=timeout, retries=retries, backoff=0)
    return channels.send(channel, channels.test_document("p", "ops"))


def trickled_head(interval: float):
    """A 200 whose status line and headers come a byte every ``interval`` seconds, so
    no silence is ever long enough for a read timeout."""
    async def behave(reader, writer):
        head = b"HTTP/1.1 200 OK\r\n" + b"x-filler: " + b"a" * 10_000 + b"\r\n\r\n"
        for byte in head:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(interval)
    return behave


def test_a_head_trickled_a_byte_at_a_time_ends_at_the_timeout():
    with hostile.running_hostile(trickled_head(0.2)) as upstream:
        started = time.monotonic()
        outcome = send_to(upstream, timeout=1.0, retries=1)
        took = time.monotonic() - started
    # Each byte came within the 1s timeout: the attempt went on for 10,000 x 0.2s.
    assert took < 5
    assert not outcome.ok
    assert outcome.detail == (f"{upstream.root_url}: no answer within its timeout of 1s "
                              "(2 attempts)")


def test_over_tls_too(tmp_path, monkeypatch):
    """Under TLS the socket to shut is the TLS layer's, learnt after the handshake."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    trickle = trickled_head(0.2)
    ready, done = threading.Event(), threading.Event()
    port: list[int] = []

    async def serve():
        async def answer(reader, writer):
            await reader.readuntil(b"\r\n\r\n")
            await trickle(reader, writer)
        server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=tls)
        port.append(server.sockets[0].getsockname()[1])
        ready.set()
        while not done.is_set():
            await asyncio.sleep(0.05)
        server.close()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        channel = ChannelSpec(kind="webhook", url=f"https://127.0.0.1:{port[0]}/hook",
                              timeout=1.0, retries=0)
        started = time.monotonic()
        outcome = channels.send(channel, channels.test_document("p", "ops"))
        assert time.monotonic() - started < 4
        assert outcome.detail.endswith("no answer within its timeout of 1s (1 attempt)")
    finally:
        done.set()
        thread.join(10)


def test_an_endless_answer_is_never_read():
    with hostile.running_hostile(hostile.huge_body(200 * 2**20)) as upstream:
        tracemalloc.start()
        try:
            outcome = send_to(upstream, timeout=5)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert outcome.ok and outcome.detail.endswith("answered 200")
    assert peak < 8 * 2**20  # the 200 MiB body was read into memory whole


def test_a_silent_endpoint_and_a_redirect_are_failures_without_the_token():
    with hostile.running_hostile(hostile.hang()) as upstream:
        silent = send_to(upstream, timeout=0.5)
    assert not silent.ok and "no answer within its timeout of 0.5s" in silent.detail
    moved = hostile.status(302, b"Found", b"location: file:///etc/passwd\r\n")
    with hostile.running_hostile(moved) as upstream:
        redirected = send_to(upstream)
    assert not redirected.ok and "refused the event: HTTP 302" in redirected.detail
    assert "T0KEN" not in silent.detail + redirected.detail
