"""Helpers the tests share: import them from here, never from a conftest."""

from __future__ import annotations

import time
from pathlib import Path


def edit(path: Path, old: str, new: str) -> None:
    """Change a project file in place, failing loudly if the text is not there."""
    content = path.read_text()
    assert old in content, f"{old!r} not in {path}"
    path.write_text(content.replace(old, new, 1))


def eventually(check, timeout: float = 5.0, interval: float = 0.02):
    """Poll ``check()`` until it returns something truthy; fail after ``timeout``.

    For changes that propagate asynchronously (a promote reaching a runtime's
    cached route): asserting at once would test the cache, not the promise.
    """

    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            assert value, f"not true within {timeout}s: {check}"
            return value
        time.sleep(interval)


def promote_through(ws, system: str, ref: str, env: str = "production", **kwargs):
    """Promote ``ref`` through every environment before ``env`` in the declared
    order, then to ``env`` itself (with ``kwargs``, e.g. ``canary=10``): the way
    a release is meant to reach production. Returns the last deployment."""
    environments = ws.project.environments
    for earlier in environments[: environments.index(env)]:
        ws.promote(system, ref, earlier)
    return ws.promote(system, ref, env, **kwargs)
