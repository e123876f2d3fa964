"""Where a request comes from: what keeps web pages away from an open server.

A gateway with no key (and ``trimtab serve`` in local mode) answers anyone who
reaches its port, which on a laptop means loopback. Two ways remain for a web
page the user happens to visit to reach it anyway, and both are closed here:

- a cross-site "simple" request (a form post, or ``fetch`` with a text/plain
  body) needs no CORS preflight: the browser sends it and only hides the
  answer. Browsers say where such a request comes from (``Sec-Fetch-Site``,
  ``Origin``), so a state-changing one from another site is refused;
- DNS rebinding points a name the page controls at 127.0.0.1, so its requests
  are same-origin to the browser and it may read the answers. Their ``Host``
  header still carries that name, so a server bound to loopback answers only
  loopback names and the address it was given.
"""

from __future__ import annotations

import ipaddress
import re

LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_HOST = re.compile(r"(\[[0-9a-f:.]+\]|[^:\[\]@/\s]+)(?::[0-9]{1,5})?")


def local_hosts(host: str) -> frozenset[str] | None:
    """Host names served while open: loopback names, and the address served; None
    (any) when bound to every address on purpose."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return LOOPBACK | {host.lower()}
    if address.is_unspecified:
        return None
    # A Host header carries an IPv6 address in brackets (host_name keeps them).
    name = f"[{address.compressed}]" if address.version == 6 else address.compressed
    return LOOPBACK | {name}


def host_name(header: str) -> str | None:
    """The name in a ``Host`` header (without its port); None when the header is not
    a plain ``name[:port]``, so that ``localhost:80@evil.example`` is not localhost.
    An IPv6 address comes back bracketed and in its short form (``[::1]``)."""
    found = _HOST.fullmatch(header.strip().lower())
    if not found:
        return None
    name = found.group(1)
    if name.startswith("["):
        try:
            return f"[{ipaddress.IPv6Address(name[1:-1]).compressed}]"
        except ValueError:
            return None
    return name


def host_allowed(hosts: frozenset[str] | None, header: str | None) -> bool:
    return hosts is None or host_name(header or "") in hosts


def cross_origin(headers: dict[bytes, bytes]) -> bool:
    """Whether a browser says this request comes from another site."""
    site = headers.get(b"sec-fetch-site")
    if site is not None and site not in (b"same-origin", b"none"):
        return True
    origin = headers.get(b"origin")
    if origin is None:
        return False  # not a browser, or a same-origin GET-like navigation
    return origin.split(b"://", 1)[-1] != headers.get(b"host", b"")
