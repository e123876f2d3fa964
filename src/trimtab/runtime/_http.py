"""What every HTTP provider shares: keys, timeouts, error mapping, SSE.

Each upstream failure becomes a ProviderError here, in one place, so that
OpenAI-compatible servers and Anthropic are retried and recorded alike and
no code path can build an error message from raw headers (where keys live).

The transport is ``http1`` (keep-alive connections on asyncio protocols,
parsed by httptools): the gateway's added latency and its throughput are
bounded by the CPU each upstream call costs, and that module says why
neither httpx nor aiohttp is used.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode, urlsplit
from urllib.request import getproxies, proxy_bypass

from trimtab import jsontext
from trimtab.runtime import http1
from trimtab.runtime.config import ProviderSpec
from trimtab.runtime.errors import ProviderError, kind_for_status

MAX_ERROR_TEXT = 300

log = logging.getLogger("trimtab")

#: Providers whose key an upstream refused (401/403), logged once each per process.
_refused_keys: set[str] = set()


def report_refused_key(provider: str, status: int, message: str) -> None:
    """A 401/403 is the deployment's own key, never the caller's fault: say so at
    error level, once per provider (every call is also recorded as an ``auth``
    error and counted in ``trimtab_call_errors``)."""
    if provider in _refused_keys or len(_refused_keys) >= 1000:
        return
    _refused_keys.add(provider)
    log.error("provider %r refused its key (HTTP %d: %s); its calls fail until the key is "
              "fixed. Fix: check the key in its api_key_env variable and its access to the "
              "model.", provider, status, message[:200])


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait: ``retry-after-ms`` (OpenAI), ``retry-after`` seconds or HTTP date."""
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def error_text(body: bytes) -> str:
    """The upstream's own explanation, from either provider's error shape."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return error["message"][:MAX_ERROR_TEXT]
        if isinstance(error, str):
            return error[:MAX_ERROR_TEXT]
        if isinstance(data.get("message"), str):
            return data["message"][:MAX_ERROR_TEXT]
    text = body.decode("utf-8", "replace").strip()
    return text[:MAX_ERROR_TEXT] or "no error message"


def proxy_for(url: str) -> tuple[str, str] | None:
    """(variable, proxy) that HTTPS_PROXY/HTTP_PROXY, else ALL_PROXY, name for ``url``
    unless NO_PROXY exempts it; decided once, as curl and requests decide it.

    (aiohttp's ``trust_env`` decided per request, reading ~/.netrc in a
    thread each time: a fifth of the gateway's CPU.)
    """
    parts = urlsplit(url)
    proxies = getproxies()
    for scheme in (parts.scheme, "all"):
        if proxies.get(scheme) and not proxy_bypass(parts.hostname or ""):
            return f"{scheme.upper()}_PROXY", proxies[scheme]
    return None


class HttpProvider:
    """Base for providers over HTTP: one pool of keep-alive connections, keys read per call.

    The key is read from the environment at call time, not at construction,
    so a router can be built for a release whose fallback key is missing and
    that fallback fails alone (as an ``auth`` error) if it is ever reached.
    """

    kind = "http"
    default_base_url = ""

    def __init__(self, name: str, spec: ProviderSpec, *, env: Mapping[str, str] | None = None,
                 client: http1.Client | None = None, **_other_kinds: Any):
        self.name = name
        self.spec = spec
        self._env = env if env is not None else os.environ
        self._client = client
        self._own_client = client is None
        self.proxy_setting = proxy_for(self.base_url)
        query = f"?{urlencode(spec.query)}" if spec.query else ""
        self._query = query
        self._urls: dict[str, str] = {}

    @property
    def base_url(self) -> str:
        return (self.spec.base_url or self.default_base_url).rstrip("/")

    def client(self) -> http1.Client:
        """Made on first use; its connections belong to the event loop that opens them.

        connect bounds the TCP (and proxy, and TLS) handshake; read is the
        longest silence between bytes (a hung upstream).
        """
        if self._client is None:
            t, limits = self.spec.timeouts, self.spec.limits
            variable, proxy = self.proxy_setting or ("", None)
            try:
                self._client = http1.Client(connect_timeout=t.connect, read_timeout=t.read,
                                            proxy=proxy,
                                            max_header_bytes=limits.max_header_bytes,
                                            max_headers=limits.max_headers)
            except ValueError as exc:  # e.g. ALL_PROXY=socks5://...: fail as a call, clearly
                raise self.error("connection", f"proxy settings ({variable}): {exc}. Fix: "
                                 f"point {variable} at an http:// proxy, or exempt this host "
                                 "with NO_PROXY", None) from None
        return self._client

    async def aclose(self) -> None:
        if self._client is not None and self._own_client:
            await self._client.aclose()
            self._client = None

    def url(self, path: str) -> str:
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = self.base_url + path + self._query
        return url

    def _key(self, model: str | None) -> str | None:
        name = self.spec.api_key_env
        if name is None:
            return None
        key = self._env.get(name)
        if not key:
            raise ProviderError(
                "not_configured", f"provider {self.name!r} is not configured: environment "
                f"variable {name} is not set. Fix: export {name}=<your key> where the runtime "
                "runs.", provider=self.name, model=model)
        return key

    def _secrets(self) -> list[str]:
        name = self.spec.api_key_env
        key = self._env.get(name) if name else None
        return [key] if key else []

    def auth_headers(self, key: str | None) -> dict[str, str]:
        if key is None:
            return {}
        if self.spec.api_key_header:
            return {self.spec.api_key_header: key}
        return {"Authorization": f"Bearer {key}"}

    def _headers(self, model: str | None) -> dict[str, str]:
        return {"Content-Type": "application/json", "User-Agent": "trimtab",
                **self.spec.headers, **self.auth_headers(self._key(model))}

    def error(self, kind: str, message: str, model: str | None, **extra: Any) -> ProviderError:
        return ProviderError(kind, message, provider=self.name, model=model,  # type: ignore[arg-type]
                             secrets=self._secrets(), **extra)

    def _status_error(self, response: http1.Response, body: bytes, model: str | None):
        status = response.status
        if status < 400:  # a redirect (or an odd 1xx/3xx): never an answer to pass on
            where = response.headers.get("location", "").partition("?")[0][:100]
            return self.error("malformed", f"HTTP {status} instead of an answer"
                              + (f" (to {where})" if where else "") + "; trimtab follows no "
                              "redirects. Fix: set the provider's base_url to the final URL",
                              model, status=status)
        error = self.error(kind_for_status(status), error_text(body), model, status=status,
                           retry_after=parse_retry_after(response.headers))
        if status in (401, 403):
            report_refused_key(self.name, status, error.message)
        return error

    def _transport_error(self, exc: Exception, model: str | None, *, partial: bool = False):
        # ConnectTimeout and ReadTimeout subclass TimeoutError; so does http1.Deadline,
        # which names its setting; a bare one is the router's deadline.
        if isinstance(exc, TimeoutError):
            what = getattr(exc, "what", None) or \
                ("total" if type(exc) is TimeoutError else type(exc).__name__)
            return self.error("timeout", f"no answer in time ({what})", model, partial=partial)
        if isinstance(exc, http1.Refused):  # an answer over a limit: another try gets the same
            return self.error("malformed", f"{exc} (limits in the provider's settings)", model,
                              partial=partial)
        return self.error("connection", f"{type(exc).__name__}: {exc}"[:MAX_ERROR_TEXT], model,
                          partial=partial)

    async def post_json(self, path: str, body: dict[str, Any], model: str | None) -> Any:
        """POST and parse a JSON answer; any failure is a classified ProviderError."""
        data, headers = jsontext.dumpb(body), self._headers(model)
        try:
            response = await self.client().request("POST", self.url(path), headers, data,
                                                   timeout=self.spec.timeouts.total)
            content = await response.read(self.spec.limits.max_body_bytes)
        except (http1.TransportError, TimeoutError) as exc:
            raise self._transport_error(exc, model) from None
        except ValueError as exc:  # base_url or a configured header that cannot be sent
            raise self.error("connection", str(exc), model) from None
        if response.status >= 300:
            raise self._status_error(response, content, model)
        try:
            return jsontext.loads(content)
        except ValueError:
            raise self.error("malformed", "the answer is not valid JSON: "
                             + content[:80].decode("utf-8", "replace"), model,
                             status=response.status) from None

    @asynccontextmanager
    async def post_stream(self, path: str, body: dict[str, Any], model: str | None):
        """POST with a streamed answer; yields the response once its status is OK."""
        data, headers = jsontext.dumpb(body), self._headers(model)
        try:  # the head is due within the idle timeout, then each event (``sse``)
            response = await self.client().request("POST", self.url(path), headers, data,
                                                   timeout=self.spec.timeouts.idle,
                                                   timeout_name="idle")
        except (http1.TransportError, TimeoutError) as exc:
            raise self._transport_error(exc, model) from None
        except ValueError as exc:
            raise self.error("connection", str(exc), model) from None
        try:
            if response.status >= 300:
                try:
                    content = await response.read(self.spec.limits.max_body_bytes)
                except (http1.TransportError, TimeoutError) as exc:
                    raise self._transport_error(exc, model) from None
                raise self._status_error(response, content, model)
            yield response
        finally:
            response.close()  # read to the end: back to the pool; abandoned: closed

    async def sse(self, response: http1.Response, model: str | None,
                  seen: list[int]) -> AsyncIterator[tuple[str, str]]:
        """(event, data) pairs. A broken connection is an error, never a quiet end.

        ``seen`` is a one-item counter the caller bumps per chunk it yields, so
        the error can say whether the caller already saw part of the answer.
        Each event must come within ``timeouts.idle`` of the caller asking for it,
        and no line or event may pass ``limits.max_event_bytes``.
        """
        idle, limit = self.spec.timeouts.idle, self.spec.limits.max_event_bytes
        event, data, size = "message", [], 0
        try:
            async for line in _lines(response, limit):
                if not line:
                    if data:
                        yield event, "\n".join(data)
                        response.extend("idle", idle)
                    event, data, size = "message", [], 0
                elif line.startswith(":"):
                    continue
                else:
                    field, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    if field == "event":
                        event = value
                    elif field == "data":
                        if data:  # a second line: the event is no longer one line's size
                            size = (size or len(data[0])) + len(value)
                            if size > limit:
                                raise http1.Refused(f"a stream event is over {limit} bytes")
                        data.append(value)
        except (http1.TransportError, TimeoutError) as exc:
            raise self._transport_error(exc, model, partial=seen[0] > 0) from None
        if data:
            yield event, "\n".join(data)

    def parse_event(self, data: str, model: str | None, seen: list[int]) -> Any:
        try:
            return jsontext.loads(data)
        except ValueError:
            raise self.error("malformed", f"a stream event is not valid JSON: {data[:80]}",
                             model, partial=seen[0] > 0) from None


_NEWLINE = re.compile(rb"\r\n|\r|\n")


async def _lines(response: http1.Response, limit: int) -> AsyncIterator[str]:
    """Lines as SSE defines them (CRLF, LF or CR), however the bytes arrive; over
    ``limit`` bytes a line is refused. Each read is scanned once and a line's pieces
    joined once, so a line that never ends costs linear time, not quadratic."""
    pieces: list[bytes] = []  # the line begun in earlier reads
    size = 0
    after_cr = False  # the last read ended a line with CR: an LF next is its CRLF
    async for data in response.chunks():
        if after_cr and data[:1] == b"\n":
            data = data[1:]
        after_cr = data[-1:] == b"\r"
        *lines, rest = _NEWLINE.split(data)
        if lines:
            if pieces:
                lines[0] = b"".join((*pieces, lines[0]))
                size = len(lines[0])
                pieces = []
            if size > limit or len(data) > limit:  # a line can be no longer than these
                for line in lines:
                    if len(line) > limit:
                        raise http1.Refused(f"a stream line is over {limit} bytes")
            size = 0
            for line in lines:
                yield line.decode("utf-8", "replace")
        if rest:
            pieces.append(rest)
            size += len(rest)
            if size > limit:
                raise http1.Refused(f"a stream line is over {limit} bytes")
    if pieces:
        yield b"".join(pieces).decode("utf-8", "replace")
