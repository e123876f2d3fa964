"""`trimtab timeline`: the release active at a moment per environment and its diff,
the changes, alerts and approval steps around it, metrics before and after, and
the nearest calls with their outputs; bounded."""

import json
import subprocess
from datetime import UTC, datetime, timedelta

import pytest

import trimtab
from tests.helpers import edit, promote_through

SYSTEM = "complaint-router"


@pytest.fixture
def moved(live, project_dir):
    """r1 then r2 through to production, calls before and after now, a pending
    approval request and an alert: (ws, r1, r2, now)."""
    ws, r1 = live
    edit(project_dir / "prompts" / f"{SYSTEM}.user.md", "Complaint", "Report")
    r2, _ = ws.release(SYSTEM, note="politer")
    promote_through(ws, SYSTEM, r2.id, "production", reason="evals green")
    now = datetime.now(UTC)
    for i in range(3):
        ws.record(SYSTEM, {"text": f"before {i}"}, {"team": "packaging"}, 100.0 + i,
                  env="production", user="u1", time=now - timedelta(hours=2))
    ws.record(SYSTEM, {"text": "failed"}, None, 5.0, env="production", status="error",
              error="upstream 503", time=now - timedelta(hours=1))
    ws.record(SYSTEM, {"text": "after"}, {"team": "x" * 2000}, 50.0, env="production",
              time=now + timedelta(minutes=30))
    ws.record(SYSTEM, {"text": "outside"}, {"team": "x"}, 50.0, env="production",
              time=now - timedelta(hours=5))
    assert ws.flush()
    with open(project_dir / "trimtab.yaml", "a") as handle:
        handle.write("policies:\n  staging:\n    approvals: 1\n")
    ws.promote(SYSTEM, r1.id, "staging", reason="back to r1?")  # held: approval.request
    ws.open_incident(SYSTEM, severity="high", summary="x", categories=["nis2-significant"],
                     aware_at=now - timedelta(hours=20), freeze=False)
    assert ws.raise_deadline_alerts()  # an alert event in the window
    return ws, r1, r2, now


def test_what_ran_what_changed_and_what_it_produced(moved):
    ws, r1, r2, now = moved
    found = ws.timeline(SYSTEM, at=now + timedelta(seconds=1), window=timedelta(hours=6),
                        samples=3)
    active = {a.env: a for a in found.active}
    assert list(active) == ["dev", "staging", "production"]
    production = active["production"]
    assert (production.release, production.previous, production.reason) == (
        r2.id, r1.id, "evals green")
    assert "-Complaint" in production.diff["prompts"]["user"]["diff"]
    assert [d["release"] for d in found.deployments if d["env"] == "production"] == [
        r1.id, r2.id]
    assert [a["action"] for a in found.approvals] == ["approval.request"]
    assert [(a["rule"], a["state"]) for a in found.alerts] == [("incident-deadline",
                                                                "firing")]
    assert {"release.create", "incident.open"} <= {c["action"] for c in found.changes}
    assert not {c["action"] for c in found.changes} & {"deployment.promote",
                                                       "approval.request"}
    assert found.metrics["before"]["calls"] == 4 and found.metrics["before"]["errors"] == 1
    assert found.metrics["after"]["calls"] == 1
    texts = [s["request"] for s in found.samples]  # the 3 nearest, oldest first
    assert len(texts) == 3 and "before" in texts[0] and "failed" in texts[1]
    assert "after" in texts[2] and found.samples[1]["error"] == "upstream 503"
    after = [s for s in found.samples if s["time"] > now.isoformat()]
    assert after[0]["truncated"] and len(after[0]["response"]) == 600
    assert found.rule_commits is None  # the project is not a git work tree
    # An hour before the first promotion nothing was active, nothing had moved.
    early = ws.timeline(SYSTEM, at=now - timedelta(hours=3), window=timedelta(hours=1),
                        samples=0)
    assert all(a.release is None for a in early.active) and early.deployments == []
    assert early.samples == [] and early.metrics["before"] is None


def test_bounds_and_bad_input(moved):
    ws, _, _, now = moved
    with pytest.raises(trimtab.TrimtabError, match="at most 31 days"):
        ws.timeline(SYSTEM, at=now, window=timedelta(days=40))
    with pytest.raises(trimtab.TrimtabError, match="--samples must be between 0 and 20"):
        ws.timeline(SYSTEM, at=now, samples=21)
    with pytest.raises(trimtab.TrimtabError, match="no-such"):
        ws.timeline("no-such", at=now)


def test_commits_to_the_project_file_show_as_rule_changes(moved, project_dir):
    ws, _, _, now = moved
    env = {"GIT_AUTHOR_NAME": "Ana", "GIT_AUTHOR_EMAIL": "ana@example.com",
           "GIT_COMMITTER_NAME": "Ana", "GIT_COMMITTER_EMAIL": "ana@example.com",
           "HOME": str(project_dir), "PATH": "/usr/bin:/bin"}
    for args in (["init", "-q"], ["add", "trimtab.yaml"],
                 ["commit", "-q", "-m", "alert rule: error rate 5%"]):
        subprocess.run(["git", *args], cwd=project_dir, env=env, check=True)
    found = ws.timeline(SYSTEM, at=datetime.now(UTC), samples=0)
    assert [(c["author"], c["subject"]) for c in found.rule_commits] == [
        ("Ana", "alert rule: error rate 5%")]


def test_cli_timeline(cli, moved):
    _, _, r2, _ = moved
    text = cli("timeline", SYSTEM, "--at", "0m", "--window", "6h", "--samples", "2").stdout
    for heading in ("active releases at that moment", "deployments in the window",
                    "approval steps in the window", "alerts in the window",
                    "metrics, 3:00:00 before and after", "calls nearest the moment"):
        assert heading in text
    assert r2.short_id in text and "prompt user" in text and "incident-deadline" in text
    data = json.loads(cli("timeline", SYSTEM, "--at", "0m", "--json").stdout)
    assert data["limits"] == {"rows": 50, "text": 600} and len(data["samples"]) == 5
    assert "not a time" in cli("timeline", SYSTEM, "--at", "yesterday", expect=2).output
