"""Who may use the web app, and what protects a browser that does.

Identity: the gateway's API keys (``trimtab keys create``), checked by the
gateway's own key ring (in memory, refreshed in the background). Scripts send
``Authorization: Bearer <key>``; a browser signs in once with a key and gets a
session cookie (HMAC-signed, HttpOnly, SameSite=Strict, Secure unless served
over plain HTTP to another host than this one). While no key has ever been
created the app runs in single-user local mode: no login, changes made as the
person running the server, and (against DNS rebinding) only loopback host
names accepted unless the server was bound to a public address on purpose.

Forms carry a CSRF token that must match the browser's CSRF cookie, and every
state-changing request from another origin is refused.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import HTTPException, Request

from trimtab.gateway.errors import GatewayError

if TYPE_CHECKING:
    from trimtab.gateway.keyring import KeyRing
    from trimtab.store.keys import ApiKey
    from trimtab.workspace import Workspace

log = logging.getLogger("trimtab.web")

SESSION_COOKIE = "trimtab_session"
CSRF_COOKIE = "trimtab_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SESSION_SECONDS = 12 * 3600
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})

#: Nothing from another origin, no inline script or style, no framing.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
]


def load_secret(ws: Workspace) -> bytes:
    """The key that signs session cookies: TRIMTAB_SECRET_KEY, else one kept in
    the project's .trimtab/ (so every worker and restart agrees), else one for
    this process only."""
    explicit = os.environ.get("TRIMTAB_SECRET_KEY")
    if explicit:
        return explicit.encode()
    if ws.root is None:
        return secrets.token_bytes(32)
    path = Path(ws.root) / ".trimtab" / "web-secret"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    except OSError as exc:
        log.warning("web: cannot keep a session secret in %s (%s); sessions end with "
                    "this process", path, exc)
        return secrets.token_bytes(32)
    secret = secrets.token_hex(32).encode()
    with os.fdopen(fd, "wb") as f:
        f.write(secret)
    return secret


@dataclass(frozen=True)
class Caller:
    """Who is asking. ``key`` is None in local mode (no keys exist)."""
    key: ApiKey | None
    via: str  # "local", "token" or "session"

    @property
    def actor(self) -> str | None:
        """The name audit entries carry; None: the identity running the server."""
        return None if self.key is None else f"key:{self.key.name}"

    @property
    def name(self) -> str:
        return "local" if self.key is None else self.key.name

    def may_change(self, system: str) -> None:
        if self.key is not None and not self.key.allows(system):
            raise HTTPException(403, f"API key {self.key.name!r} is not allowed to change "
                                f"system {system!r}. Fix: use a key created with --system "
                                f"{system}, or one without a system list.")


class LoginRequired(Exception):
    """A page asked for without a session: the browser is sent to /login."""


class Guard:
    """Checks callers against the key ring; signs and reads session cookies."""

    def __init__(self, keys: KeyRing, secret: bytes, hosts: frozenset[str] | None = None):
        self.keys = keys
        self.secret = secret
        #: Host names accepted in local mode; None: any (bound to a public address).
        self.hosts = hosts

    async def local(self) -> bool:
        """True while no key has ever been created: single-user local mode."""
        if not self.keys.loaded:
            await asyncio.to_thread(self.keys.refresh)
        return self.keys.open

    async def caller(self, request: Request) -> Caller | None:
        """The caller, or None when the request carries no valid credentials."""
        if await self.local():
            self.check_host(request)
            return Caller(None, "local")
        authorization = request.headers.get("authorization")
        if authorization:
            try:
                key = await self.keys.check(authorization.encode("latin-1"))
            except GatewayError as exc:
                raise HTTPException(exc.status, exc.message, headers=exc.headers) from None
            return Caller(key, "token")
        key = self.session_key(request.cookies.get(SESSION_COOKIE))
        return None if key is None else Caller(key, "session")

    def check_host(self, request: Request) -> None:
        if self.hosts is None:
            return
        host = (request.headers.get("host") or "").lower()
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if name not in self.hosts:
            raise HTTPException(403, f"host {name!r} is not served in local mode (no API "
                                "keys): open it as http://127.0.0.1 or localhost, or create "
                                "a key (`trimtab keys create`) to serve other names.")

    # --- sessions -----------------------------------------------------------------------

    def _sign(self, text: str) -> str:
        digest = hmac.new(self.secret, text.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def session_cookie(self, key: ApiKey) -> str:
        expires = int(time.time()) + SESSION_SECONDS
        body = f"{key.id}.{expires}"
        return f"{body}.{self._sign('session|' + body)}"

    def session_key(self, cookie: str | None) -> ApiKey | None:
        """The live key a session cookie names, or None (forged, expired, revoked)."""
        if not cookie or cookie.count(".") != 2:
            return None
        key_id, expires, signature = cookie.split(".")
        body = f"{key_id}.{expires}"
        if not hmac.compare_digest(signature, self._sign("session|" + body)):
            return None
        if not expires.isdigit() or int(expires) < time.time():
            return None
        return self.keys.live.get(key_id)


def csrf_token(request: Request) -> str:
    """The browser's CSRF token (its cookie), or a new one that the response sets."""
    token = request.cookies.get(CSRF_COOKIE, "")
    if len(token) < 32 or not token.replace("-", "").replace("_", "").isalnum():
        token = request.state.new_csrf = secrets.token_urlsafe(32)
    return token


def check_csrf(request: Request, presented: Any) -> None:
    expected = request.cookies.get(CSRF_COOKIE)
    if not expected or not isinstance(presented, str) or \
            not hmac.compare_digest(expected.encode(), presented.encode()):
        raise HTTPException(403, "the form's CSRF token is missing or stale. Fix: reload the "
                            "page and submit again.")


def secure_cookies(request: Request) -> bool:
    """Secure cookies need HTTPS, which browsers waive for loopback names only."""
    host = (request.url.hostname or "").lower()
    return request.url.scheme == "https" or host in LOOPBACK


def set_cookie(response: Any, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True,
                        samesite="strict", secure=secure_cookies(request))


class SecurityHeaders:
    """ASGI middleware for the web app (never the gateway's routes): the
    security headers on every answer, and state-changing requests from another
    origin refused before any handler runs."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if scope["method"] not in SAFE_METHODS and _cross_origin(scope):
            body = b'{"detail":"cross-origin request refused"}'
            await send({"type": "http.response.start", "status": 403, "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()), *HEADERS]})
            await send({"type": "http.response.body", "body": body})
            return
        no_store = not scope["path"].startswith("/static/")

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend(HEADERS)
                if no_store:
                    headers.append((b"cache-control", b"no-store"))
                if scope.get("scheme") == "https":
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _cross_origin(scope: dict) -> bool:
    headers = dict(scope["headers"])
    site = headers.get(b"sec-fetch-site")
    if site is not None and site not in (b"same-origin", b"none"):
        return True
    origin = headers.get(b"origin")
    if origin is None:
        return False  # not a browser, or a same-origin GET-like navigation
    host = headers.get(b"host", b"")
    return origin.split(b"://", 1)[-1] != host
