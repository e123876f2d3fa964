"""A broken or hostile upstream cannot stall or exhaust the runtime.

Each test serves one misbehaviour on loopback (tests/helpers/hostile_upstream.py)
and calls it through a provider, as a release's call would: the answer is refused
as an upstream error, within the limits and deadlines of the provider's settings,
and the connection is let go.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.helpers import hostile_upstream as hostile
from tests.helpers.providers import provider_for
from trimtab.runtime import ChatRequest, ProviderError, http1
from trimtab.runtime.config import LimitSpec, TimeoutSpec

pytestmark = pytest.mark.anyio
MiB = 1 << 20


def req() -> ChatRequest:
    return ChatRequest([{"role": "user", "content": "Hello"}]).for_target("gpt-4o-mini")


async def refused(up: hostile.HostileUpstream, *, stream: bool = False,
                  **settings) -> ProviderError:
    """The provider's error for one call (streamed: read to its end)."""
    provider = provider_for(up, **settings)
    try:
        with pytest.raises(ProviderError) as failed:
            if stream:
                async for _ in provider.stream(req()):
                    pass
            else:
                await provider.complete(req())
    finally:
        await provider.aclose()
    return failed.value


def test_the_defaults_are_the_documented_ones():
    assert (TimeoutSpec().total, TimeoutSpec().idle, TimeoutSpec().read) == (600, 60, 60)
    limits = LimitSpec()
    assert (limits.max_header_bytes, limits.max_headers) == (64 << 10, 100)
    assert (limits.max_body_bytes, limits.max_event_bytes) == (32 * MiB, 8 * MiB)


async def test_300000_repeated_headers_are_refused_at_the_header_count():
    async with hostile.HostileUpstream(hostile.repeated_headers(300_000)) as up:
        error = await refused(up)
        assert await up.wait_closed() == 1  # the client hung up, not reading the rest
    assert error.kind == "malformed" and "over 100 header lines" in error.message


async def test_a_10_mb_header_is_refused_at_the_header_bytes():
    async with hostile.HostileUpstream(hostile.one_huge_header(10 * MiB)) as up:
        error = await refused(up)
    assert error.kind == "malformed" and "head is over 65536 bytes" in error.message


async def test_the_header_limits_are_settings():
    async with hostile.HostileUpstream(hostile.repeated_headers(50)) as up:
        error = await refused(up, limits={"max_headers": 20})
    assert "over 20 header lines" in error.message


async def test_repeated_headers_within_the_limit_are_joined():
    async def behave(reader, writer):
        writer.write(b"HTTP/1.1 200 OK\r\nx-a: 1\r\nX-A: 2\r\ncontent-length: 2\r\nx-a: 3\r\n"
                     b"\r\n{}")
        await writer.drain()

    async with hostile.HostileUpstream(behave) as up:
        response = await http1.Client(read_timeout=5).request("POST", up.base_url, {})
        assert await response.read() == b"{}"
    assert response.headers["x-a"] == "1, 2, 3"


async def test_a_body_over_the_cap_is_refused_declared_or_not():
    async with hostile.HostileUpstream(hostile.huge_body(200 * MiB)) as up:
        error = await refused(up)  # the default cap, refused on the Content-Length alone
    assert error.kind == "malformed" and f"over {32 * MiB} bytes" in error.message
    async with hostile.HostileUpstream(hostile.huge_body(64 * MiB, declared=False)) as up:
        error = await refused(up, limits={"max_body_bytes": MiB})
        assert await up.wait_closed() == 1
    assert error.kind == "malformed" and f"over {MiB} bytes" in error.message


async def test_an_sse_line_that_never_ends_is_refused_at_the_event_cap():
    async with hostile.HostileUpstream(hostile.endless_sse_line(3 * MiB)) as up:
        error = await refused(up, stream=True, limits={"max_event_bytes": MiB})
    assert error.kind == "malformed" and f"stream line is over {MiB} bytes" in error.message


async def test_an_sse_event_of_endless_short_lines_is_refused_at_the_event_cap():
    async def behave(reader, writer):
        writer.write(hostile.STREAM_HEAD)
        line = hostile.chunk(b"data: " + b"a" * 1000 + b"\n")
        for _ in range(3000):  # 3 MB of one event that never ends
            writer.write(line)
            await writer.drain()
        await asyncio.sleep(30)

    async with hostile.HostileUpstream(behave) as up:
        error = await refused(up, stream=True, limits={"max_event_bytes": MiB})
    assert error.kind == "malformed" and f"stream event is over {MiB} bytes" in error.message


async def test_sse_lines_split_anywhere_still_parse():
    body = (b'data: {"choices":[{"delta":{"content":"a"}}]}\r\n\r\n'
            b'data: {"choices":[{"delta":{"content":"b"}}]}\r\rdata: [DONE]\n\n')

    async def behave(reader, writer):
        writer.write(hostile.STREAM_HEAD)
        for i in range(len(body)):  # a byte per chunk: every CR, LF and CRLF split
            writer.write(hostile.chunk(body[i:i + 1]))
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    async with hostile.HostileUpstream(behave) as up:
        provider = provider_for(up)
        parts = [chunk.content async for chunk in provider.stream(req())]
        await provider.aclose()
    assert parts == ["a", "b"]


@pytest.mark.parametrize("code, reason", [(302, b"Found"), (307, b"Temporary Redirect"),
                                          (301, b"Moved Permanently")])
async def test_a_redirect_with_an_answer_shaped_body_is_an_upstream_error(code, reason):
    behaviour = hostile.status(code, reason, b"location: https://elsewhere.example/v1?k=s3\r\n")
    async with hostile.HostileUpstream(behaviour) as up:
        error = await refused(up)
        streamed = await refused(up, stream=True)
    for failed in (error, streamed):
        assert failed.kind == "malformed" and failed.status == code
        assert "follows no redirects" in failed.message and "elsewhere.example/v1" in \
            failed.message and "s3" not in failed.message


async def test_an_endless_run_of_1xx_answers_is_an_upstream_error():
    async with hostile.HostileUpstream(hostile.interim_flood(100_000)) as up:
        error = await refused(up)
    assert error.kind == "malformed" and "interim (1xx)" in error.message


async def test_a_few_1xx_answers_before_the_real_one_are_fine():
    async with hostile.HostileUpstream(hostile.interim_flood(3)) as up:
        provider = provider_for(up)
        answer = await provider.complete(req())
        await provider.aclose()
    assert answer.content == "an answer-shaped body"


async def test_a_trickling_answer_hits_the_total_deadline_despite_the_read_timeout():
    async with hostile.HostileUpstream(hostile.trickle(0.05)) as up:
        error = await refused(up, timeouts={"read": 5.0, "total": 0.5})
        assert await up.wait_closed() == 1
    assert error.kind == "timeout" and "(total)" in error.message


async def test_a_trickling_stream_hits_the_idle_deadline_and_a_slow_one_does_not():
    async with hostile.HostileUpstream(hostile.trickle(0.05, stream=True)) as up:
        error = await refused(up, stream=True, timeouts={"read": 5.0, "idle": 0.5})
    assert error.kind == "timeout" and "(idle)" in error.message
    # Events 0.2 s apart for longer than the idle deadline in all: the wait is per event.
    async with hostile.HostileUpstream(hostile.slow_stream(8, 0.2)) as up:
        provider = provider_for(up, timeouts={"read": 5.0, "idle": 1.0})
        parts = [chunk.content async for chunk in provider.stream(req())]
        await provider.aclose()
    assert len(parts) == 8


async def test_a_slow_reader_of_a_stream_is_not_held_to_the_idle_deadline():
    async with hostile.HostileUpstream(hostile.slow_stream(3, 0.0)) as up:
        provider = provider_for(up, timeouts={"idle": 0.3})
        parts = []
        async for chunk in provider.stream(req()):
            parts.append(chunk.content)
            await asyncio.sleep(0.5)  # the caller is busy longer than the idle deadline
        await provider.aclose()
    assert len(parts) == 3


async def test_an_answer_nobody_asked_to_compress_is_refused_and_identity_is_asked_for():
    async with hostile.HostileUpstream(hostile.gzipped()) as up:
        error = await refused(up, headers={"Accept-Encoding": "gzip"})
    assert error.kind == "malformed" and "encoded (gzip)" in error.message
    head = up.requests[0].lower()
    assert head.count(b"accept-encoding") == 1 and b"accept-encoding: identity\r\n" in head


@pytest.mark.parametrize("name, value, problem", [
    ("X-Evil", "a\r\nHost: b", "line break or NUL"), ("X-Evil", "a\nb", "line break or NUL"),
    ("X-Evil", "a\0b", "line break or NUL"), ("X-Evil: b", "c", "not a valid HTTP header name"),
    ("X Evil", "c", "not a valid HTTP header name"), ("", "c", "not a valid HTTP header name"),
    ("X-\r\nEvil", "c", "not a valid HTTP header name")])
async def test_header_names_and_values_are_checked_before_anything_is_sent(name, value,
                                                                          problem):
    async with hostile.HostileUpstream(hostile.status(200, b"OK")) as up:
        with pytest.raises(ValueError, match=problem):
            await http1.Client().request("POST", up.base_url, {name: value}, b"")
        error = await refused(up, headers={name: value})
    assert error.kind == "connection" and problem in error.message
    assert up.requests == []


async def test_all_proxy_is_honoured_like_the_others(monkeypatch):
    seen: list[bytes] = []

    async def forward(reader, writer):  # a plain-HTTP forward proxy that answers itself
        seen.append(b"via proxy")
        await hostile.status(200, b"OK")(reader, writer)

    async with hostile.HostileUpstream(forward) as proxy:
        for name in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("ALL_PROXY", f"http://127.0.0.1:{proxy.port}")
        provider = provider_for(None, base_url="http://upstream.example/v1")
        answer = await provider.complete(req())
        await provider.aclose()
    assert answer.content == "an answer-shaped body"
    assert proxy.requests[0].startswith(b"POST http://upstream.example/v1/chat/completions ")


async def test_an_all_proxy_that_is_not_http_is_a_clear_error(monkeypatch):
    for name in ("HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ALL_PROXY", "socks5://alice:s3cret@127.0.0.1:1080")
    provider = provider_for(None, base_url="https://api.example/v1")
    with pytest.raises(ProviderError) as failed:
        await provider.complete(req())
    assert failed.value.kind == "connection"
    assert "ALL_PROXY" in failed.value.message and "only http:// proxies" in failed.value.message
    assert "s3cret" not in failed.value.message
