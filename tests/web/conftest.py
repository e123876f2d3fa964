"""Fixtures for the web app: a workspace with calls, served for real on loopback."""

from __future__ import annotations

import pytest

from tests.helpers import promote_through
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


@pytest.fixture
def team(served, project_dir, monkeypatch):
    """Login on: alice (admin, who runs the tests), rita (reviewer), ann (approver),
    vera (viewer), each with an API token; production needs one approval, and alice
    asked to promote a second release there. Returns (url, ws, tokens, request)."""
    url, ws, first = served
    ws.add_user("alice@example.com", "admin")  # the first user ends single-user mode
    tokens = {}
    for name, role in (("rita", "reviewer"), ("ann", "approver"), ("vera", "viewer")):
        ws.add_user(f"{name}@example.com", role)
        tokens[name] = ws.create_token(user=f"{name}@example.com")[1]
    tokens["alice"] = ws.create_token()[1]
    prompt = project_dir / "prompts" / f"{SYSTEM}.user.md"
    prompt.write_text(prompt.read_text() + "\nThank you.\n")
    second, _ = ws.release(SYSTEM, note="politer")
    promote_through(ws, SYSTEM, second.id, "staging")
    with open(project_dir / "trimtab.yaml", "a") as handle:
        handle.write("policies:\n  production:\n    approvals: 1\n")
    request = ws.promote(SYSTEM, second.id, "production", reason="politer answers")
    assert request.state == "pending"
    return url, ws, tokens, request
