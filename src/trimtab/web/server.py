"""``trimtab serve``: the gateway and the web app in one process, on one port.

A request reaches the gateway or the web app by its path alone, looked up
before either framework sees it: the gateway's routes (``/v1/...``,
``/metrics``, ``/healthz``, ``/api/v1/records``, ``/api/v1/labels``) pay one
set lookup, and none of FastAPI's middleware or routing. Everything else (the dashboard, the JSON
API, ``/readyz``, ``/openapi.json``, ``/docs``) goes to the web app.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from trimtab.gateway.app import Gateway
from trimtab.gateway.origin import local_hosts

if TYPE_CHECKING:
    from trimtab.workspace import Workspace

GATEWAY_PREFIX = "/v1/"


class Router:
    """An ASGI app that sends each request to the gateway or to the web app."""

    def __init__(self, gateway: Gateway, web: Any):
        self.gateway = gateway
        self.web = web
        self._paths = gateway.paths

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if path in self._paths or path.startswith(GATEWAY_PREFIX):
                return await self.gateway(scope, receive, send)
            return await self.web(scope, receive, send)
        if scope["type"] == "lifespan":
            return await self._lifespan(receive, send)
        return await self.web(scope, receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        """The gateway's start-up (keys, recorder) and, on shutdown, its drain:
        in-flight calls are done by then; the recorder's spool goes to the store."""
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.gateway.startup()
                except Exception as exc:  # noqa: BLE001 - reported to the server, which exits
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                self.web.state.ready = True
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.web.state.ready = False
                await self.gateway.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return


def build(ws: Workspace, *, host: str = "127.0.0.1", owns_workspace: bool = False,
          owns_process: bool = False) -> Router:
    """The gateway and the web app over ``ws``, behind one router. ``host`` is
    the address served: on a loopback one, local mode answers loopback names only."""
    from trimtab.web.app import create_app

    hosts = local_hosts(host)
    gateway = Gateway(ws, owns_workspace=owns_workspace, owns_process=owns_process, hosts=hosts)
    return Router(gateway, create_app(ws, gateway.keys, hosts=hosts))


def worker_app() -> Router:
    """The app factory each worker process calls (``uvicorn --factory``)."""
    import os

    from trimtab.workspace import connect

    return build(connect(), host=os.environ.get("TRIMTAB_SERVE_HOST", "127.0.0.1"),
                 owns_workspace=True, owns_process=True)


def serve(ws: Workspace, host: str = "127.0.0.1", port: int = 4000, workers: int = 1, *,
          monitor_interval: float | None = None,
          on_ready: Callable[[], None] | None = None) -> None:
    """Serve the gateway, the web app, /metrics and (``monitor_interval``) the
    alert loop until SIGINT/SIGTERM; then finish in-flight requests and drain
    the recorder into the store."""
    import os

    from trimtab.gateway.server import serve as serve_gateway

    os.environ["TRIMTAB_SERVE_HOST"] = host  # for the workers' factory
    # One process: the app closes the workspace at shutdown (the recorder drained, its
    # spool removed), since uvicorn re-raises SIGTERM after it and no caller's
    # ``finally`` runs then.
    app = None if workers > 1 else build(ws, host=host, owns_workspace=True,
                                         owns_process=True)
    serve_gateway(ws, host, port, workers, monitor_interval=monitor_interval,
                  on_ready=on_ready, factory="trimtab.web.server:worker_app", app=app)
