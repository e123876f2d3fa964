"""Fixtures for the web app: a workspace with calls, served for real on loopback."""

from __future__ import annotations

import pytest

from tests.helpers.gateway_server import running_app
from trimtab.web.server import build

SYSTEM = "complaint-router"
COMPLAINT = {"customer": "ACME GmbH", "product": "K-200",
             "text": "The charger sparks when plugged in."}


@pytest.fixture
def populated(live):
    """The example system live in production with a dozen recorded calls: (ws, release)."""
    ws, release = live
    client = ws.system(SYSTEM)
    for i in range(12):
        client.run(COMPLAINT, user=f"agent-{i % 3}", tags={"channel": "email"})
    ws.record(SYSTEM, {"text": "failed"}, None, 12.5, status="error", error="upstream 503",
              model="sim-router-1")
    assert ws.flush()
    return ws, release


@pytest.fixture
def served(populated):
    """``trimtab serve``'s app (gateway + web) on a free loopback port: (url, ws, release)."""
    ws, release = populated
    with running_app(build(ws)) as url:
        yield url, ws, release
