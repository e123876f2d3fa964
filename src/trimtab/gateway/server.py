"""Running the gateway: uvicorn, one process or several, optionally with the alert loop.

With ``workers > 1`` uvicorn starts that many processes, each with its own
workspace, spool segment and key cache (nothing one worker needs lives in
another), all accepting on one port. They find the project and store
through ``TRIMTAB_PROJECT`` and ``TRIMTAB_DATABASE_URL``, set here.

SIGTERM (and Ctrl-C) stop accepting, give the calls in flight
``gateway.shutdown_grace`` seconds, cancel (and record) what is left, give
the recorder ``gateway.drain_timeout`` seconds to store what is spooled, and
exit 0, each worker too: uvicorn's own server re-raises the signal after its
shutdown, which killed the process with 143 before this process's clean-up
(workers.py).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from trimtab.gateway.app import Gateway

if TYPE_CHECKING:
    from trimtab.workspace import Workspace

log = logging.getLogger("trimtab.gateway")


def fast_loop() -> str:
    return "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"


def bounded_http() -> str:
    """httptools, with the request head bounded in size and time (``http_head.py``)."""
    return "trimtab.gateway.http_head:BoundedHead"


def worker_app() -> Gateway:
    """The app factory each worker process calls (``uvicorn --factory``)."""
    from trimtab.gateway.origin import local_hosts
    from trimtab.workspace import connect

    return Gateway(connect(), owns_workspace=True, owns_process=True,
                   hosts=local_hosts(os.environ.get("TRIMTAB_SERVE_HOST", "127.0.0.1")))


def _settings(grace: float) -> dict:
    # No X-Forwarded-* rewriting: the gateway never uses the client's address, and the
    # middleware is one more layer on every request.
    return {"loop": fast_loop(), "http": bounded_http(), "lifespan": "on", "access_log": False,
            "log_level": "warning", "timeout_keep_alive": 30, "backlog": 4096,
            "proxy_headers": False, "timeout_graceful_shutdown": grace}


def serve(ws: Workspace, host: str = "127.0.0.1", port: int = 4000, workers: int = 1, *,
          monitor_interval: float | None = None,
          on_ready: Callable[[], None] | None = None, app: Any = None,
          factory: str = "trimtab.gateway.server:worker_app") -> None:
    """Serve until SIGINT/SIGTERM; then finish in-flight calls and flush the recorder.

    ``monitor_interval`` also runs the alert loop (``trimtab serve``), once,
    in this process, however many workers answer calls. ``app`` (one process)
    and ``factory`` (each worker's) serve something wrapping the gateway
    instead of the gateway alone: ``trimtab serve``'s web app.
    """
    import uvicorn

    grace = ws.project.spec.gateway.shutdown_grace
    stop = threading.Event()
    monitor = None
    if monitor_interval is not None:
        monitor = threading.Thread(target=ws.monitor, args=(monitor_interval, stop),
                                   name="trimtab-monitor", daemon=True)
        monitor.start()
    try:
        if workers > 1:
            if ws.project_file is not None:
                os.environ["TRIMTAB_PROJECT"] = str(ws.project_file)
            os.environ["TRIMTAB_DATABASE_URL"] = ws.database_url
            os.environ["TRIMTAB_SERVE_HOST"] = host
            if on_ready is not None:
                on_ready()
            from trimtab.gateway.workers import run_workers

            codes = run_workers(uvicorn.Config(factory, host=host, port=port, factory=True,
                                               workers=workers, **_settings(grace)))
            if any(code != 0 for code in codes):
                raise SystemExit(1)
        else:
            from trimtab.gateway.workers import Server

            if app is None:
                from trimtab.gateway.origin import local_hosts

                app = Gateway(ws, owns_process=True, hosts=local_hosts(host))
            server = Server(uvicorn.Config(app, host=host, port=port, **_settings(grace)))
            if on_ready is not None:
                _call_when_started(server, on_ready)
            server.run()
    finally:
        stop.set()
        if monitor is not None:
            monitor.join(10)


def _call_when_started(server, callback: Callable[[], None]) -> None:
    """uvicorn sets ``started`` once it listens; tell the person then, not before."""
    original = server.startup

    async def startup(*args, **kwargs):
        await original(*args, **kwargs)
        if server.started:
            callback()

    server.startup = startup
