"""`trimtab demo`: four systems at four different stages, with the history the
dashboard shows (a reduced traffic scale; bench/demo_build.py times the full one)."""

from __future__ import annotations

import json
import statistics
from datetime import timedelta

import pytest

import trimtab
from trimtab.demo import build, write_files

SCALE = 0.03


@pytest.fixture
def demo(tmp_path, database_url):
    directory = tmp_path / "demo"
    directory.mkdir()
    write_files(directory)
    ws = trimtab.connect(directory, database_url=database_url)
    steps = []
    story = build(ws, scale=SCALE, progress=lambda what, share: steps.append((what, share)))
    yield ws, story, steps
    ws.close()


def test_the_demo_builds_four_systems_at_four_stages_with_their_history(demo):
    ws, story, steps = demo
    assert {s.name for s in ws.systems()} == {
        "complaint-router", "compliance-assistant", "customer-triage", "churn-model"}
    assert story.stages == {"complaint-router": (3, 3), "compliance-assistant": (2, 4),
                            "customer-triage": (1, 4), "churn-model": (0, 3)}
    assert 0.99 < sum(share for _, share in steps) < 1.01  # the progress bar ends full

    router = ws.history("complaint-router", "production")
    assert [d.action for d in router].count("rollback") == 1
    assert ws.active_release("complaint-router", "production").id == story.releases[
        "complaint-router"][2]

    failed = [r for r in ws.eval_runs("compliance-assistant") if not r.passed]
    assert [r.release_id for r in failed] == [story.releases["compliance-assistant"][1]]
    assert "compliance-assistant" in story.failed_gate

    pending = ws.approvals()
    assert [(a.system, a.state, a.release_id) for a in pending] == [
        ("compliance-assistant", "pending", story.releases["compliance-assistant"][3])]
    applied = [a for a in ws.approvals(include_closed=True) if a.state == "applied"]
    assert len(applied) == 2 and all(a.approvals == ["petra.risk@bank.example"]
                                     for a in applied)

    [canary] = ws.candidates()
    assert (canary.system, canary.action, canary.percent) == ("customer-triage", "canary", 20)

    incidents = ws.incidents(include_closed=True)
    assert {(i.system, i.closed_at is None) for i in incidents} == {
        ("complaint-router", False), ("customer-triage", True)}
    assert all(len(i.notes) == 2 for i in incidents)
    assert any(ws.deadlines(system="customer-triage"))

    # Weeks of back-dated traffic, a latency regression and a cost spike among it.
    calls = ws.calls(system="complaint-router", limit=100_000)
    assert len(calls) >= story.calls["complaint-router"]
    assert (max(c.time for c in calls) - min(c.time for c in calls)) > timedelta(days=25)
    r1, r2, _ = story.releases["complaint-router"]
    slow = statistics.median(c.latency_ms for c in calls if c.release_id == r2)
    assert slow > 2 * statistics.median(c.latency_ms for c in calls if c.release_id == r1)
    spend: dict = {}
    for c in ws.calls(system="customer-triage", limit=100_000):
        spend[c.time.date()] = spend.get(c.time.date(), 0) + (c.cost_micro_usd or 0)
    top, second = sorted(spend.values(), reverse=True)[:2]
    assert top > 3 * second  # the day whole e-mail threads went in
    assert len(ws.drift_history("complaint-router")) == 2  # before and after the K-300 launch
    launch = max(c.time for c in calls) - timedelta(days=3)
    assert not any("K-300" in str(c.request) for c in calls if c.time < launch - timedelta(days=1))
    assert any("K-300" in str(c.request) for c in calls if c.time > launch)

    assert story.labels > 0
    [overall, *_] = ws.label_metrics("churn-model")
    assert 0.7 < overall.accuracy < 0.95
    assert ws.review_stats("complaint-router").reviews >= 10
    assert ws.verify_audit().ok


def test_the_cli_builds_the_demo_without_serving_and_refuses_a_used_directory(
        tmp_path, database_url, monkeypatch):
    from typer.testing import CliRunner

    from trimtab.cli import app

    monkeypatch.setenv("TRIMTAB_DATABASE_URL", database_url)
    monkeypatch.delenv("TRIMTAB_PROJECT", raising=False)
    target = tmp_path / "demo"
    result = CliRunner().invoke(app, ["demo", str(target), "--scale", str(SCALE),
                                      "--no-serve"])
    assert result.exit_code == 0, result.output
    assert "complaint-router" in result.output and "3 (Observed)" in result.output
    assert "trimtab assess --portfolio" in result.output

    portfolio = CliRunner().invoke(app, ["assess", "--portfolio", "--format", "json"],
                                   env={"TRIMTAB_PROJECT": str(target)})
    assert portfolio.exit_code == 0, portfolio.output
    ranked = json.loads(portfolio.output)
    assert len({row["stage"] for row in ranked}) == 4

    again = CliRunner().invoke(app, ["demo", str(target), "--no-serve"])
    assert again.exit_code == 2 and "is not empty" in again.output
