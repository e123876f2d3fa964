"""Who may use the web app, and what protects a browser that does.

Identity: a user's API token (``trimtab tokens create``: the user acts, with
the roles trimtab.govern checks on every change), or a gateway key
(``trimtab keys create``, checked by the gateway's key ring in memory).
Scripts send ``Authorization: Bearer <token or key>``; a browser signs in once
with one and gets a session cookie (HMAC-signed, HttpOnly, SameSite=Strict,
Secure unless served over plain HTTP to another host than this one). While no
gateway key was ever created and no user is defined, the app runs in
single-user local mode: no login, changes made as the person running the
server, and (against DNS rebinding) only loopback host names accepted unless
the server was bound to a public address on purpose.

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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import HTTPException, Request

from trimtab.gateway.errors import GatewayError
from trimtab.gateway.origin import LOOPBACK, SAFE_METHODS, cross_origin, host_allowed, host_name
from trimtab.store.identities import TOKEN_PREFIX

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
USERS_TTL = 2.0  # seconds local mode trusts its last look for users

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
    """Who is asking: a user (the owner of an API token, whose roles the domain
    layer checks), a gateway key, or nobody in particular (local mode)."""
    key: ApiKey | None = None
    user: str | None = None
    token_id: str | None = None  # the user's token, for a browser session
    via: str = "local"  # "local", "token" or "session"
    #: Users exist: a gateway key then only reads (changes are made by people).
    users_exist: bool = False

    @property
    def actor(self) -> str | None:
        """The name changes are made and audited as; None: whoever runs the server."""
        if self.user is not None:
            return self.user
        return None if self.key is None else f"key:{self.key.name}"

    @property
    def name(self) -> str:
        return self.user or (self.key.name if self.key else "local")

    @property
    def signed_in(self) -> bool:
        return self.via != "local"

    def may_change(self, system: str) -> None:
        """A gateway key changes nothing once users exist (a change is then made by
        a person, with their roles, checked where every change is made, whatever the
        front end); before, a key limited to some systems changes only those."""
        if self.key is not None and self.users_exist:
            raise HTTPException(403, f"gateway key {self.key.name!r} may read but not change "
                                "anything once users exist: changes are made by people, "
                                "with their roles. Fix: send a user's API token (`trimtab "
                                "tokens create`), or sign in with one.")
        if self.key is not None and not self.key.allows(system):
            raise HTTPException(403, f"API key {self.key.name!r} is not allowed to change "
                                f"system {system!r}. Fix: use a key created with --system "
                                f"{system}, or one without a system list.")


class LoginRequired(Exception):
    """A page asked for without a session: the browser is sent to /login."""


class Guard:
    """Checks callers against the key ring and the users' API tokens; signs and
    reads session cookies."""

    def __init__(self, ws: Workspace, keys: KeyRing, secret: bytes,
                 hosts: frozenset[str] | None = None):
        self.ws = ws
        self.keys = keys
        self.secret = secret
        #: Host names accepted in local mode; None: any (bound to a public address).
        self.hosts = hosts
        self._users: tuple[float, bool] = (float("-inf"), False)

    async def local(self) -> bool:
        """True while no gateway key was ever created and no user is defined:
        single-user local mode, no login."""
        if not self.keys.loaded:
            await asyncio.to_thread(self.keys.refresh)
        return self.keys.open and not await self._users_exist()

    async def _users_exist(self) -> bool:
        """Whether any user is defined, looked up at most every USERS_TTL seconds
        (once there is one, there always is: the last admin cannot be removed)."""
        checked, exists = self._users
        if not exists and time.monotonic() - checked > USERS_TTL:
            found = await asyncio.to_thread(self.ws.users)
            exists = any(u.identity.live for u in found)
            self._users = (time.monotonic(), exists)
        return exists

    async def caller(self, request: Request) -> Caller | None:
        """The caller, or None when the request carries no valid credentials."""
        if await self.local():
            self.check_host(request)
            return Caller()
        authorization = request.headers.get("authorization")
        if authorization:
            scheme, _, text = authorization.partition(" ")
            if scheme.lower() != "bearer" or not text.strip():
                raise HTTPException(401, "the Authorization header must be `Bearer <token>`.")
            return await self.credential(text.strip())
        return await self.session(request.cookies.get(SESSION_COOKIE))

    async def credential(self, text: str) -> Caller:
        """The caller a presented token or gateway key names; 401 when none."""
        if text.startswith(TOKEN_PREFIX + "-"):
            token = await asyncio.to_thread(self.ws.authenticate_token, text)
            if token is None:
                raise HTTPException(401, "this API token is not live: unknown, expired, "
                                    "revoked, or its user was removed. Fix: `trimtab tokens "
                                    "create` makes a new one.")
            return Caller(user=token.identity, token_id=token.id, via="token")
        try:
            key = await self.keys.check(f"Bearer {text}".encode("latin-1", "replace"))
        except GatewayError as exc:
            raise HTTPException(exc.status, exc.message, headers=exc.headers) from None
        if key is None:
            # The key ring is open (no key exists, or none is seen yet): whatever was
            # sent is no credential. Never a caller without identity: that would act
            # as the person running the server.
            raise HTTPException(401, "this is neither a live API token nor a gateway key. "
                                "Fix: `trimtab tokens create` makes a token.")
        return Caller(key=key, via="token", users_exist=await self._users_exist())

    def check_host(self, request: Request) -> None:
        header = request.headers.get("host")
        if not host_allowed(self.hosts, header):
            name = host_name(header or "") or header
            raise HTTPException(403, f"host {name!r} is not served in local mode (no keys, "
                                "no users): open it as http://127.0.0.1 or localhost, or "
                                "add a user (`trimtab users add`) to serve other names.")

    # --- sessions -----------------------------------------------------------------------

    def _sign(self, text: str) -> str:
        digest = hmac.new(self.secret, text.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    async def start_session(self, caller: Caller) -> str:
        """A browser's session for a signed-in caller, kept in the store (so signing
        out ends it everywhere): the cookie names the token or key, until when, and
        the session's secret, signed."""
        kind, ident = ("u", caller.token_id) if caller.user else ("k", caller.key.id)
        secret = await asyncio.to_thread(self.ws.start_session, kind, ident, caller.name,
                                         timedelta(seconds=SESSION_SECONDS))
        body = f"{kind}.{ident}.{int(time.time()) + SESSION_SECONDS}.{secret}"
        return f"{body}.{self._sign('session|' + body)}"

    def _read(self, cookie: str | None) -> tuple[str, str, str] | None:
        """(kind, id, session secret) of a cookie this server signed and not expired."""
        if not cookie or cookie.count(".") != 4:
            return None
        body, _, signature = cookie.rpartition(".")
        if not hmac.compare_digest(signature, self._sign("session|" + body)):
            return None
        kind, ident, expires, secret = body.split(".")
        if not expires.isdigit() or int(expires) < time.time():
            return None
        return kind, ident, secret

    async def session(self, cookie: str | None) -> Caller | None:
        """The caller a session cookie names while the session was not signed out and
        its key or token is live, else None."""
        read = self._read(cookie)
        if read is None:
            return None
        kind, ident, secret = read
        stored = await asyncio.to_thread(self.ws.session, secret)
        if stored is None or (stored.kind, stored.subject) != (kind, ident):
            return None  # signed out (or expired) on the server
        if kind == "k":
            key = self.keys.live.get(ident)
            return None if key is None else Caller(key=key, via="session",
                                                   users_exist=await self._users_exist())
        now = datetime.now(UTC)
        for token in await asyncio.to_thread(self.ws.tokens):
            if token.id == ident and token.state(now) == "live":
                return Caller(user=token.identity, token_id=token.id, via="session")
        return None

    async def end_session(self, cookie: str | None) -> bool:
        """Sign-out: the cookie's session ends in the store; a copy of it is refused."""
        read = self._read(cookie)
        if read is None:
            return False
        return await asyncio.to_thread(self.ws.end_session, read[2])


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
        if scope["method"] not in SAFE_METHODS and cross_origin(dict(scope["headers"])):
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
