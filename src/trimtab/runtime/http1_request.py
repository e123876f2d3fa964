"""What the provider client writes: a URL's origin and path, and the request head.

Apart from ``http1`` (the connections and the answers) because nothing here
touches a socket: these are pure functions of the request, checked before any
byte leaves. A header name must be an HTTP token and a value must hold no CR,
LF or NUL, so no configured header can smuggle another one in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import quote, urlsplit


class Origin(NamedTuple):
    scheme: str
    host: str
    port: int

    @property
    def authority(self) -> str:
        """As the Host header has it: the port only when it is not the scheme's own."""
        default = 443 if self.scheme == "https" else 80
        return self.host_port if self.port != default else self._host

    @property
    def host_port(self) -> str:
        """As CONNECT needs it: always with the port."""
        return f"{self._host}:{self.port}"

    @property
    def _host(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host


@lru_cache(maxsize=512)
def split_url(url: str) -> tuple[Origin, str]:
    """(origin, path with query) of an http(s) URL; cached, a provider posts to few URLs."""
    shown = url.partition("?")[0]  # a query string may carry a key: not in messages
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise ValueError(f"{shown!r} is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{shown!r} is not an http:// or https:// URL")
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    if parts.query:
        path += "?" + quote(parts.query, safe="/%:@!$&'()*+,;=-._~?")
    return Origin(parts.scheme, parts.hostname, port), path


#: Headers the client writes itself: the framing is its job (two Content-Lengths are
#: how requests get smuggled), and so is the encoding (it decodes none); a configured
#: Host replaces its own.
_OWN = frozenset({"content-length", "transfer-encoding", "connection", "accept-encoding"})
#: A header name is an RFC 9110 token: no colon, space, CR, LF or NUL can slip in.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: Names checked already, lower-cased: a provider sends the same few on every call.
_NAMES: dict[str, str] = {}


def _lower(name: str) -> str:
    if not isinstance(name, str) or not _TOKEN.fullmatch(name):
        raise ValueError(f"header name {name!r}: not a valid HTTP header name")
    if len(_NAMES) < 1024:
        _NAMES[name] = name.lower()
    return name.lower()


def _check_value(name: str, value: str) -> None:
    """What ``isprintable`` let through to here: a tab or non-ASCII text is fine."""
    if not isinstance(value, str) or "\r" in value or "\n" in value or "\0" in value:
        raise ValueError(f"header {name!r}: a value must not contain a line break or NUL")


def request_head(method: str, target: str, host: str, headers: Mapping[str, str],
                 length: int) -> bytes:
    lines = [f"{method} {target} HTTP/1.1\r\n"]
    for name, value in headers.items():
        lower = _NAMES.get(name) or _lower(name)
        if not value.isprintable():  # a CR, LF or NUL would smuggle a header in
            _check_value(name, value)
        if lower == "host":
            host = value
        elif lower not in _OWN:
            lines.append(f"{name}: {value}\r\n")
    lines.append(f"Host: {host}\r\nAccept-Encoding: identity\r\nContent-Length: {length}"
                 "\r\n\r\n")
    return "".join(lines).encode()
