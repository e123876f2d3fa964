"""The provider HTTP client against real loopback servers that misbehave on purpose."""

from __future__ import annotations

import asyncio
import base64
import ssl
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from trimtab.runtime import http1

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}"
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head, await reader.readexactly(length)


class Server:
    """A loopback server whose every connection runs ``handler``; counts connections."""

    def __init__(self, handler: Handler, ssl_context: ssl.SSLContext | None = None):
        self.handler, self.ssl = handler, ssl_context
        self.connections = 0
        self.requests: list[bytes] = []

    async def __aenter__(self) -> Server:
        async def serve(reader, writer):
            self.connections += 1
            try:
                await self.handler(reader, writer)
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

        self.server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=self.ssl)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc) -> None:
        self.server.close()

    def url(self, path: str = "/v1/chat/completions", scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"


def answering(*responses: bytes, then_close: bool = False) -> Handler:
    """Answer each request on a connection with the next response (the last one repeats)."""
    async def handler(reader, writer):
        index = 0
        while True:
            await read_request(reader)
            writer.write(responses[min(index, len(responses) - 1)])
            await writer.drain()
            index += 1
            if then_close:
                return
    return handler


def run(coro):
    return asyncio.run(coro)


def test_keep_alive_reuses_one_connection_and_sends_a_proper_request():
    seen: list[bytes] = []

    async def handler(reader, writer):
        while True:
            head, body = await read_request(reader)
            seen.append(head + body)
            writer.write(OK)

    async def main():
        async with Server(handler) as server:
            client = http1.Client(connect_timeout=2, read_timeout=2)
            for _ in range(3):
                response = await client.request("POST", server.url(), {"X-Key": "v"}, b'{"a":1}')
                assert (response.status, await response.read()) == (200, b'{"ok":true}')
                assert response.headers["content-type"] == "application/json"
            await client.aclose()
            return server.connections

    assert run(main()) == 1
    first = seen[0].decode()
    assert first.startswith("POST /v1/chat/completions HTTP/1.1\r\n")
    assert "Host: 127.0.0.1:" in first and "X-Key: v\r\n" in first
    assert first.endswith('Content-Length: 7\r\n\r\n{"a":1}')


def test_chunked_answer_read_whole_and_piece_by_piece():
    chunked = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")

    async def main():
        async with Server(answering(chunked)) as server:
            client = http1.Client(read_timeout=2)
            whole = await (await client.request("POST", server.url(), {}, b"")).read()
            response = await client.request("POST", server.url(), {}, b"")
            pieces = [piece async for piece in response.chunks()]
            return whole, b"".join(pieces), server.connections

    assert run(main()) == (b"hello world", b"hello world", 1)


def test_connection_close_and_a_server_that_dropped_an_idle_connection_both_just_work():
    closing = OK.replace(b"Content-Length", b"Connection: close\r\nContent-Length")

    async def main():
        # The server closes after every answer: once saying so, once silently (an idle
        # keep-alive timing out just as the next request goes out).
        async with Server(answering(closing, then_close=True)) as said, \
                Server(answering(OK, then_close=True)) as silent:
            client = http1.Client(read_timeout=2)
            bodies = []
            for server in (said, said, silent, silent, silent):
                response = await client.request("POST", server.url(), {}, b"{}")
                bodies.append(await response.read())
                await asyncio.sleep(0.05)  # let the silent close arrive
            return bodies, said.connections, silent.connections

    bodies, said, silent = run(main())
    assert bodies == [b'{"ok":true}'] * 5
    assert (said, silent) == (2, 3)


def test_an_answer_ended_by_closing_the_connection_is_whole():
    async def handler(reader, writer):
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it")
        await writer.drain()

    async def main():
        async with Server(handler) as server:
            response = await http1.Client(read_timeout=2).request("POST", server.url(), {}, b"")
            return await response.read()

    assert run(main()) == b"all of it"


def test_a_silent_server_is_a_read_timeout_and_a_slow_one_is_not():
    async def stalls(reader, writer):
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf")
        await asyncio.sleep(5)

    async def trickles(reader, writer):  # a byte every 0.1 s: never 0.3 s of silence
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n")
        for byte in b"slowly":
            await asyncio.sleep(0.1)
            writer.write(bytes([byte]))

    async def main():
        async with Server(stalls) as stalled, Server(trickles) as slow:
            client = http1.Client(read_timeout=0.3)
            response = await client.request("POST", stalled.url(), {}, b"")
            with pytest.raises(http1.ReadTimeout, match="no byte from the server in 0.3 s"):
                await response.read()
            response = await client.request("POST", slow.url(), {}, b"")
            return await response.read()

    assert run(main()) == b"slowly"


def test_refused_connection_names_the_address():
    async def main():
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        with pytest.raises(http1.ConnectError, match=f"cannot connect to 127.0.0.1:{port}"):
            await http1.Client(connect_timeout=2).request(
                "POST", f"http://127.0.0.1:{port}/x", {}, b"")

    run(main())


def test_garbage_is_a_protocol_error_and_a_cut_answer_is_disconnected():
    async def garbage(reader, writer):
        await read_request(reader)
        writer.write(b"SMTP ready\r\n\r\n")
        await asyncio.sleep(1)

    async def cut(reader, writer):
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nfirst part")
        await writer.drain()

    async def main():
        async with Server(garbage) as bad, Server(cut) as short:
            client = http1.Client(read_timeout=2)
            with pytest.raises(http1.ProtocolError, match="not HTTP/1.1"):
                await client.request("POST", bad.url(), {}, b"")
            response = await client.request("POST", short.url(), {}, b"")
            got = []
            with pytest.raises(http1.Disconnected, match="before the answer ended"):
                async for piece in response.chunks():
                    got.append(piece)
            return got

    assert run(main()) == [b"first part"]


def test_a_stream_abandoned_midway_closes_its_connection():
    async def handler(reader, writer):
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\none\r\n")
        await writer.drain()
        await asyncio.sleep(0.5)
        writer.write(b"3\r\ntwo\r\n0\r\n\r\n")
        while True:  # keep-alive: further requests on this connection get OK
            await read_request(reader)
            writer.write(OK)

    async def main():
        async with Server(handler) as server:
            client = http1.Client(read_timeout=2)
            response = await client.request("POST", server.url(), {}, b"")
            pieces = response.chunks()
            assert await anext(pieces) == b"one"
            await pieces.aclose()  # the reader stopped: the half-read connection is useless
            response.close()
            again = await client.request("POST", server.url(), {}, b"")
            assert again.status == 200
            return server.connections

    assert run(main()) == 2


def test_a_header_with_a_line_break_is_refused_before_anything_is_sent():
    async def main():
        async with Server(answering(OK)) as server:
            with pytest.raises(ValueError, match="must not contain a line break"):
                await http1.Client().request("POST", server.url(), {"X-Evil": "a\r\nHost: b"},
                                             b"")
            return server.connections

    assert run(main()) == 0


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def test_https_directly_and_through_a_proxy_tunnel_with_credentials(certificate):
    cert, key = certificate
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    trusting = ssl.create_default_context(cafile=str(cert))
    tunnels: list[bytes] = []

    async def proxy(reader, writer):
        head = await reader.readuntil(b"\r\n\r\n")
        tunnels.append(head)
        target = head.split()[1].decode()
        host, port = target.rsplit(":", 1)
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")

        async def pipe(src, dst):
            while data := await src.read(65536):
                dst.write(data)
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def main():
        async with Server(answering(OK), server_tls) as origin, Server(proxy) as tunnel:
            direct = http1.Client(read_timeout=2, ssl_context=trusting)
            one = await (await direct.request("POST", origin.url(scheme="https"), {},
                                              b"")).read()
            via = http1.Client(read_timeout=2, ssl_context=trusting,
                               proxy=f"http://alice:s%40cret@127.0.0.1:{tunnel.port}")
            two = await (await via.request("POST", origin.url(scheme="https"), {}, b"")).read()
            untrusting = http1.Client(connect_timeout=2)
            with pytest.raises(http1.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await untrusting.request("POST", origin.url(scheme="https"), {}, b"")
            return one, two

    assert run(main()) == (b'{"ok":true}', b'{"ok":true}')
    assert len(tunnels) == 1 and tunnels[0].startswith(b"CONNECT 127.0.0.1:")
    auth = base64.b64encode(b"alice:s@cret")
    assert b"Proxy-Authorization: Basic " + auth in tunnels[0]


def test_plain_http_through_a_proxy_uses_the_absolute_url():
    seen: list[bytes] = []

    async def proxy(reader, writer):
        while True:
            head, _ = await read_request(reader)
            seen.append(head)
            writer.write(OK)

    async def main():
        async with Server(proxy) as forward:
            client = http1.Client(read_timeout=2, proxy=f"127.0.0.1:{forward.port}")
            response = await client.request("POST", "http://upstream.example:8080/v1/x?a=1", {},
                                             b"")
            return await response.read()

    assert run(main()) == b'{"ok":true}'
    assert seen[0].startswith(b"POST http://upstream.example:8080/v1/x?a=1 HTTP/1.1\r\n")
    assert b"Host: upstream.example:8080\r\n" in seen[0]


def test_a_proxy_that_refuses_the_tunnel_and_an_unsupported_proxy_are_clear_errors():
    asked: list[bytes] = []

    async def refuses(reader, writer):
        asked.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
        await writer.drain()

    async def main():
        async with Server(refuses) as proxy:
            client = http1.Client(connect_timeout=2, proxy=f"http://127.0.0.1:{proxy.port}")
            with pytest.raises(http1.ConnectError, match="refused the tunnel.*407"):
                await client.request("POST", "https://api.example/v1/x", {}, b"")

    run(main())
    assert asked[0].startswith(b"CONNECT api.example:443 HTTP/1.1\r\n")  # the port, always
    with pytest.raises(ValueError, match="only http:// proxies") as refused:
        http1.Client(proxy="socks5://alice:s3cret@127.0.0.1:1080")
    assert "s3cret" not in str(refused.value) and "alice" not in str(refused.value)


def test_a_connection_cut_after_the_request_went_is_not_retried_so_nothing_is_sent_twice():
    async def drops_second(reader, writer):  # answers once, then closes on the next request
        await read_request(reader)
        writer.write(OK)
        await writer.drain()
        await read_request(reader)
        server.requests.append(b"taken")

    async def main():
        nonlocal server
        async with Server(drops_second) as server:
            client = http1.Client(read_timeout=2)
            first = await (await client.request("POST", server.url(), {}, b"")).read()
            with pytest.raises(http1.Disconnected):  # the router decides about retrying
                await client.request("POST", server.url(), {}, b"")
            return first, server.connections, server.requests

    server = None
    assert run(main()) == (b'{"ok":true}', 1, [b"taken"])


def test_an_answer_abandoned_while_its_socket_was_paused_never_serves_the_next_request():
    big = b"x" * (1024 * 1024 + 100 * 1024)  # over the 1 MiB that pauses reading

    answered = []

    async def handler(reader, writer):
        while True:
            await read_request(reader)
            body = b"ok" if answered else big
            answered.append(len(body))
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            await writer.drain()

    async def main():
        async with Server(handler) as server:
            client = http1.Client(read_timeout=1)
            response = await client.request("POST", server.url(), {}, b"")
            await asyncio.sleep(0.3)  # a slow reader: the whole answer arrives meanwhile
            pieces = response.chunks()
            await anext(pieces)
            await pieces.aclose()  # and then it gives up
            response.close()
            async with asyncio.timeout(5):
                again = await client.request("POST", server.url(), {}, b"")
                return await again.read(), server.connections

    assert run(main()) == (b"ok", 2)


def test_an_answer_cut_short_is_never_taken_as_whole():
    import socket
    import struct

    async def reset(reader, writer):  # close-delimited body, then a connection reset
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\n\r\npartial-json{")
        await writer.drain()
        await asyncio.sleep(0.1)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    async def chunked_cut(reader, writer):  # the header's case must not matter
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n5\r\nhello\r\n")
        await writer.drain()

    async def main():
        async with Server(reset) as resets, Server(chunked_cut) as cuts:
            client = http1.Client(read_timeout=2)
            for server in (resets, cuts):
                response = await client.request("POST", server.url(), {}, b"")
                with pytest.raises(http1.Disconnected):
                    await response.read()

    run(main())


def test_configured_host_replaces_the_clients_and_framing_headers_are_the_clients_own():
    seen: list[bytes] = []

    async def handler(reader, writer):
        head, body = await read_request(reader)
        seen.append(head + body)
        writer.write(OK)

    async def main():
        async with Server(handler) as server:
            client = http1.Client(read_timeout=2)
            headers = {"Host": "api.example", "Content-Length": "999",
                       "Transfer-Encoding": "chunked"}
            response = await client.request("POST", server.url("/v1/a b"), headers, b"{}")
            return await response.read()

    assert run(main()) == b'{"ok":true}'
    head = seen[0].decode()
    assert head.startswith("POST /v1/a%20b HTTP/1.1\r\n")
    assert head.count("Host:") == 1 and "Host: api.example\r\n" in head
    assert head.count("Content-Length:") == 1 and "Content-Length: 2\r\n" in head
    assert "Transfer-Encoding" not in head


def test_a_provider_behind_an_unsupported_proxy_fails_its_calls_with_a_clear_error(monkeypatch):
    from trimtab.runtime import ChatRequest, ProviderError, make_provider

    monkeypatch.setenv("HTTPS_PROXY", "socks5://127.0.0.1:1080")
    provider = make_provider({"name": "up", "kind": "openai",
                              "base_url": "https://api.example/v1"}, env={})
    request = ChatRequest([{"role": "user", "content": "hi"}], model="m")
    with pytest.raises(ProviderError, match="proxy settings.*only http:// proxies") as failed:
        run(provider.complete(request))
    assert failed.value.kind == "connection"


def test_a_provider_with_a_broken_base_url_fails_its_calls_without_showing_the_query():
    from trimtab.runtime import ChatRequest, ProviderError, make_provider

    provider = make_provider({"name": "up", "kind": "openai", "base_url": "api.example/v1",
                              "query": {"key": "s3cret"}}, env={})
    request = ChatRequest([{"role": "user", "content": "hi"}], model="m")
    with pytest.raises(ProviderError, match="not an http:// or https:// URL") as failed:
        run(provider.complete(request))
    assert "s3cret" not in str(failed.value)
