"""The gateway as a bare ASGI application.

No web framework: a handful of routes do not need a router, and every layer a
framework adds (request objects, middleware stacks, dependency injection)
is paid on each call of a hot path whose whole budget is a millisecond.
Uvicorn (with uvloop and httptools when installed) does the HTTP.

Per request the work is: read the body, look the key up in memory, check
the body, call the model, append the record to the spool, answer. The
store is read only in the background (keys, active releases; only the first
request for a system and env reads its route inline) and written only by
the recorder's thread.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from trimtab.gateway import chat, labels, records
from trimtab.gateway.bodies import parse_json
from trimtab.gateway.budget_guard import BudgetGuard
from trimtab.gateway.errors import GatewayError, from_exception
from trimtab.gateway.keyring import KeyRing, unauthorized
from trimtab.gateway.origin import SAFE_METHODS, cross_origin, host_allowed, host_name
from trimtab.sdk.call_options import Direct

if TYPE_CHECKING:
    from trimtab.project.models import Project
    from trimtab.store.deployments import Deployment
    from trimtab.store.keys import ApiKey
    from trimtab.workspace import Workspace

log = logging.getLogger("trimtab.gateway")

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]

MAX_BODY = 32 << 20  # images as base64 are big; a runaway client is bigger
BODY_SECONDS = 30.0  # to read a whole request body: 32 MiB at 1 MB/s, with room to spare
MAX_DIRECT = 1024  # distinct passthrough model names remembered
RECORDER_INTERVAL = 0.25  # seconds between the recorder's batches


class ClientGone(Exception):
    """The client closed the connection before its request was read."""


class Request:
    """What the handlers need from the ASGI scope, read lazily."""

    __slots__ = ("scope", "receive", "_headers", "raw")

    def __init__(self, scope: dict[str, Any], receive: Receive):
        self.scope = scope
        self.receive = receive
        self._headers: dict[bytes, bytes] | None = None
        self.raw = b""  # the body as read, for check_limits' shortcut

    def header_bytes(self, name: bytes) -> bytes | None:
        if self._headers is None:
            self._headers = dict(self.scope["headers"])
        return self._headers.get(name)

    def header(self, name: bytes) -> str | None:
        value = self.header_bytes(name)
        return value.decode("latin-1").strip() if value is not None else None

    async def body(self) -> bytes:
        """The whole body, within MAX_BODY bytes and BODY_SECONDS: a client trickling a
        byte every few seconds would otherwise hold its connection, and what it sent,
        for ever."""
        parts: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(BODY_SECONDS):
                while True:
                    message = await self.receive()
                    if message["type"] == "http.disconnect":
                        raise ClientGone
                    part = message.get("body", b"")
                    size += len(part)
                    if size > MAX_BODY:
                        raise GatewayError(413, f"the request body is over {MAX_BODY >> 20} "
                                           "MiB", code="body_too_large")
                    parts.append(part)
                    if not message.get("more_body", False):
                        self.raw = parts[0] if len(parts) == 1 else b"".join(parts)
                        return self.raw
        except TimeoutError:
            raise GatewayError(408, f"the request body did not arrive within {BODY_SECONDS:g} "
                               f"s ({size:,} bytes came); send it at once",
                               code="body_timeout", headers={"connection": "close"}) from None


class Gateway:
    """``Gateway(ws)`` is an ASGI app; run it with ``trimtab gateway`` or any ASGI server."""

    def __init__(self, ws: Workspace, *, key_ttl: float = 2.0, owns_workspace: bool = False,
                 owns_process: bool = False, budget_ttl: float = 15.0,
                 hosts: frozenset[str] | None = None):
        self.ws = ws
        #: Host names answered while no key exists (origin.local_hosts); None: any.
        self.hosts = hosts
        self.owns_process = owns_process
        self.keys = KeyRing(ws, key_ttl)
        self.budgets = BudgetGuard(ws, budget_ttl)
        self.owns_workspace = owns_workspace
        self.registry: Any = None
        self._direct: tuple[Project | None, dict[str, Direct]] = (None, {})
        self._routes = {
            ("POST", "/v1/chat/completions"): self._chat,
            ("POST", "/chat/completions"): self._chat,
            ("GET", "/v1/models"): self._models,
            ("GET", "/models"): self._models,
            ("POST", "/api/v1/records"): self._records,
            ("POST", "/api/v1/labels"): self._labels,
            ("GET", "/metrics"): self._metrics,
            ("GET", "/healthz"): self._health,
        }
        #: What a router in front (``trimtab serve``'s) sends here: these and /v1/...
        self.paths = frozenset(path for _, path in self._routes)

    # --- ASGI ---------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:  # noqa: BLE001 - reported to the server, which exits
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def startup(self) -> None:
        self.ws.recent_project(fresh=True)  # serve the file as it is now, not a second ago
        self.ws.warn_unready()  # unset provider keys, unpriced models: say so before traffic
        stable = self._stable_at_start()  # read once: the warning and the metrics use it
        self._warn_unreleased(stable)
        await self.keys.start()
        await self.budgets.start()
        from trimtab.telemetry.prometheus import install_prometheus

        self.registry = install_prometheus(self.ws, stable=stable)
        # Open the spool (adopting orphans) before traffic. The writer runs in its own
        # process, off the GIL that serves requests, every quarter second: bigger
        # batches, a fraction of the CPU per call, and the records are durable in the
        # spool meanwhile.
        if not self.ws.started("recorder"):
            self.ws.recorder_options.setdefault("writer", "process")
            self.ws.recorder_options.setdefault("interval", RECORDER_INTERVAL)
        self.ws.recorder  # noqa: B018 - start it now, not on the first call
        if self.owns_process:
            # What is alive now (SQLAlchemy, pydantic, the price table) lives as long
            # as the server: keep the cyclic collector from walking it again and again,
            # which on a busy gateway showed as tens of milliseconds at the tail.
            gc.collect()
            gc.freeze()

    def _stable_at_start(self) -> list[Deployment] | None:
        """The stable deployment of every (system, env), or None when the store cannot
        say now (it says so again on the first call)."""
        try:
            return self.ws.status()
        except Exception as exc:  # noqa: BLE001 - a store that is down says so on the first call
            log.warning("trimtab: could not read the active releases at start: %s", exc)
            return None

    def _warn_unreleased(self, stable: list[Deployment] | None) -> None:
        project = self.ws.recent_project()
        if project is None or stable is None:
            return
        for line in chat.unreleased(project, stable):
            log.warning("trimtab: %s", line)

    async def shutdown(self) -> None:
        """After the calls in flight: stop the key refresher, close the provider
        clients, and give the store ``gateway.drain_timeout`` seconds to take the
        spool. A process that ends here closes its recorder (a drained spool is
        removed, what remains is said and kept for the next recording process)."""
        await self.keys.stop()
        await self.budgets.stop()
        await self.ws.caller.aclose()
        project = self.ws.recent_project()
        drain = project.spec.gateway.drain_timeout if project is not None else 30.0
        ends_here = self.owns_workspace or self.owns_process
        if ends_here and self.ws.started("recorder"):
            await asyncio.to_thread(self.ws.recorder.close, drain)
        if self.owns_workspace:
            await asyncio.to_thread(self.ws.close)
        elif not ends_here:
            await asyncio.to_thread(self.ws.flush, drain)

    async def _http(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        handler = self._routes.get((scope["method"], scope["path"]))
        try:
            if handler is None:
                handler = self._model_by_id if scope["path"].startswith("/v1/models/") \
                    else self._not_found
            await handler(request, send)
        except ClientGone:
            return
        except Exception as exc:  # noqa: BLE001 - every failure is an OpenAI-style answer
            error = from_exception(exc)
            headers = [(k.encode(), v.encode()) for k, v in error.headers.items()]
            try:
                await self.send_json(send, error.status, error.body(), headers)
            except Exception:  # noqa: BLE001 - the response had already started
                log.debug("gateway: could not send the error answer", exc_info=True)

    @staticmethod
    async def send_json(send: Send, status: int, body: bytes,
                        headers: list[tuple[bytes, bytes]] | None = None,
                        content_type: bytes = b"application/json") -> None:
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", content_type), (b"content-length", str(len(body)).encode()),
            *(headers or ())]})
        await send({"type": "http.response.body", "body": body})

    # --- routes -------------------------------------------------------------------

    async def _key(self, request: Request) -> ApiKey | None:
        """The caller's key; None while the gateway is open (no key exists), and then
        only for a request no web page could have sent (origin.py)."""
        key = await self.keys.check(request.header_bytes(b"authorization"))
        if key is None:
            host = request.header(b"host")
            if not host_allowed(self.hosts, host):
                raise GatewayError(403, f"host {host_name(host or '') or host!r} is not "
                                   "served while the gateway is open (no API key exists): "
                                   "call it as 127.0.0.1 or localhost, or create a key "
                                   "(`trimtab keys create APP --env ENV`).",
                                   type="permission_error", code="host_not_allowed")
            if request.scope["method"] not in SAFE_METHODS and cross_origin(
                    dict(request.scope["headers"])):
                raise GatewayError(403, "cross-origin request refused: a web page may not "
                                   "call a gateway that is open (no API key exists). Fix: "
                                   "call it from your application, or create a key.",
                                   type="permission_error", code="cross_origin")
        return key

    async def _chat(self, request: Request, send: Send) -> None:
        key = await self._key(request)
        body = parse_json(await request.body())
        await chat.chat_completions(self, request, key, body, send)

    async def _models(self, request: Request, send: Send) -> None:
        key = await self._key(request)
        models = chat.model_list(self.project(), key)
        await self.send_json(send, 200, json.dumps({"object": "list", "data": models}).encode())

    async def _model_by_id(self, request: Request, send: Send) -> None:
        if request.scope["method"] != "GET":
            return await self._not_found(request, send)
        key = await self._key(request)
        wanted = request.scope["path"][len("/v1/models/"):]
        for model in chat.model_list(self.project(), key):
            if model["id"] == wanted:
                return await self.send_json(send, 200, json.dumps(model).encode())
        raise GatewayError(404, f"model {wanted!r} is not served here; GET /v1/models lists "
                           "them", param="model", code="model_not_found")

    async def _records(self, request: Request, send: Send) -> None:
        key = await self._key(request)
        body = parse_json(await request.body())
        ids = records.record_all(self, request, key, body)
        await self.send_json(send, 200, json.dumps({"ids": ids}).encode())

    async def _labels(self, request: Request, send: Send) -> None:
        key = await self._key(request)
        if key is None and await asyncio.to_thread(self.ws.users):
            # Labels are a reviewer's change (govern/roles.py): once there are users,
            # an open gateway is no one to store them as.
            raise unauthorized("storing labels needs an API key while users exist. Fix: "
                               "`trimtab keys create APP --env ENV --system SYSTEM`, and send "
                               "`Authorization: Bearer <key>`.")
        body = parse_json(await request.body())
        done = await labels.label_all(self, key, body)
        await self.send_json(send, 200, json.dumps(done).encode())

    async def _metrics(self, request: Request, send: Send) -> None:
        """Systems, environments, releases, models, volumes and cost: a key's to read
        once keys exist, unless the project opens it (``gateway.metrics: public``)."""
        from trimtab.telemetry.prometheus import install_prometheus, metrics_response

        project = self.ws.recent_project()
        if project is None or project.spec.gateway.metrics != "public":
            await self._key(request)
        if self.registry is None:
            self.registry = install_prometheus(self.ws)
        body, content_type = await asyncio.to_thread(
            metrics_response, self.registry, request.header(b"accept"))
        await self.send_json(send, 200, body, content_type=content_type.encode())

    async def _health(self, request: Request, send: Send) -> None:
        """200 while serving; ``status: degraded`` (still 200: best-effort systems are
        answered) while the call spool cannot be written, with why and the drops."""
        state: dict[str, Any] = {"status": "ok", "auth": "open" if self.keys.open else "keys"}
        if self.ws.started("recorder"):
            recording = self.ws.recorder.health()
            state["recording"] = recording
            state["status"] = recording["status"]
        await self.send_json(send, 200, json.dumps(state).encode())

    async def _not_found(self, request: Request, send: Send) -> None:
        path, method = request.scope["path"], request.scope["method"]
        allowed = [m for (m, p) in self._routes if p == path]
        if allowed:
            raise GatewayError(405, f"{method} {path}: use {' or '.join(allowed)}",
                               code="method_not_allowed")
        raise GatewayError(404, f"{method} {path}: no such endpoint; this gateway serves "
                           "POST /v1/chat/completions, GET /v1/models, POST /api/v1/records, "
                           "POST /api/v1/labels, "
                           "GET /metrics and GET /healthz", code="not_found")

    def project(self) -> Project:
        """The project file as requests see it (Workspace.recent_project): looked
        at once a second at most, the last good version kept through a broken edit."""
        project = self.ws.recent_project()
        # No project file: ws.project raises the error that says how to make one.
        return project if project is not None else self.ws.project

    # --- passthrough targets ---------------------------------------------------------

    def direct(self, model: str, project: Project) -> Direct:
        """The passthrough target for a model name, remembered per project file version."""
        known_for, known = self._direct
        if known_for is not project:
            known = {}
            self._direct = (project, known)
        direct = known.get(model)
        if direct is None:
            direct = chat.resolve_direct(model, project)
            if len(known) >= MAX_DIRECT:
                known.clear()
            known[model] = direct
        return direct
