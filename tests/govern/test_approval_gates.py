"""An approved promotion applies only while its release still passes its gate: a
dataset changed between the request and the quorum stops it, and a fresh passing
run lets the next approval apply it."""

from __future__ import annotations

import pytest

import trimtab
from tests.helpers import edit, promote_through
from tests.helpers.governance import as_user, with_users

SYSTEM = "complaint-router"


def test_a_gate_that_stops_passing_before_the_quorum_holds_the_promotion(
        cli, project_dir, monkeypatch):
    with_users(cli, monkeypatch)
    for name in ("bob@example.com", "carol@example.com"):
        cli("users", "add", name, "--role", "approver")
    path = project_dir / "trimtab.yaml"
    edit(path, "# gate: {environments: [production]}", "gate: {environments: [production]}")
    with open(path, "a") as handle:
        handle.write("policies:\n  production:\n    approvals: 1\n")
    ws = trimtab.connect(project_dir)
    release, _ = ws.release(SYSTEM)
    ws.eval(SYSTEM)
    promote_through(ws, SYSTEM, release.id, "staging")
    as_user(monkeypatch, "operator@example.com")
    request = ws.promote(SYSTEM, release.id, "production")
    assert request.state == "pending"

    # The dataset changes after the request: the release's passing run no longer counts.
    dataset = project_dir / "evals" / "complaint-router.jsonl"
    dataset.write_text(dataset.read_text() + "\n")
    as_user(monkeypatch, "bob@example.com")
    with pytest.raises(trimtab.TrimtabError) as info:
        ws.approve(request.id)
    assert "routing" in str(info.value)
    assert ws.active_release(SYSTEM, "production") is None

    as_user(monkeypatch, "operator@example.com")
    ws.eval(SYSTEM)
    as_user(monkeypatch, "carol@example.com")
    done, deployment = ws.approve(request.id)
    assert done.state == "applied" and deployment.release_id == release.id
    ws.close()
