"""Real servers on loopback for the gateway tests: the gateway under uvicorn, and the
fault-injecting mock upstream, each on its own event loop in a thread, so a test can
talk to them with ordinary blocking clients (the official openai client, httpx)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import uvicorn

from tests.helpers import edit
from tests.helpers.mock_upstream import MockUpstream
from trimtab.gateway import Gateway
from trimtab.workspace import Workspace

Served = TypeVar("Served")


@contextlib.contextmanager
def running_gateway(ws: Workspace, *, key_ttl: float = 0.3,
                    lifespan: str = "on") -> Iterator[str]:
    """Serve ``ws`` on a free loopback port; yields the base URL (``http://127.0.0.1:N``)."""
    with running_app(Gateway(ws, key_ttl=key_ttl), lifespan=lifespan) as url:
        yield url


@contextlib.contextmanager
def running_app(app, *, lifespan: str = "on", http: str | type = "auto") -> Iterator[str]:
    """Serve any ASGI app under uvicorn on a free loopback port; yields its base URL.
    ``http``: uvicorn's HTTP protocol (a name or a protocol class)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan=lifespan, log_level="warning", access_log=False,
                            loop="asyncio", http=http)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


@contextlib.contextmanager
def in_own_loop(server: Served) -> Iterator[Served]:
    """An async-context-manager server (a mock upstream) served from a loop of its own in
    a thread, so blocking clients can call it; its attributes work as usual."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(server.__aenter__(), loop).result(5)
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.__aexit__(None, None, None), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def running_upstream(**options) -> contextlib.AbstractContextManager[MockUpstream]:
    """A MockUpstream served from its own loop; ``plan()`` and ``requests`` work as usual."""
    return in_own_loop(MockUpstream(**options))


def declare_provider(project_dir: Path, name: str, upstream: MockUpstream, **settings) -> None:
    """Add an OpenAI-compatible provider pointing at ``upstream`` to trimtab.yaml."""
    lines = [f"  {name}:", "    kind: openai", f"    base_url: {upstream.base_url}",
             "    api_key_env: MOCK_UPSTREAM_KEY"]
    for key, value in settings.items():
        lines.append(f"    {key}: {value}")
    path = project_dir / "trimtab.yaml"
    text = path.read_text()
    if "providers: {}" in text:
        edit(path, "providers: {}", "providers:\n" + "\n".join(lines))
    else:
        edit(path, "providers:\n", "providers:\n" + "\n".join(lines) + "\n")


def use_provider(project_dir: Path, provider: str, model: str = "gpt-4o-mini", *,
                 fallback: tuple[str, str] | None = None) -> None:
    """Point the example system's release at ``provider`` (and optionally a fallback)."""
    path = project_dir / "trimtab.yaml"
    edit(path, "      provider: simulated\n      model: sim-router-1",
         f"      provider: {provider}\n      model: {model}")
    replacement = "" if fallback is None else (
        f"      fallbacks:\n        - provider: {fallback[0]}\n          model: {fallback[1]}\n")
    edit(path, "      fallbacks:\n        - provider: simulated\n"
         "          model: sim-router-small\n", replacement)
