"""An alert fires before each reporting deadline of an open incident, once, through
the project's alert channels (a real webhook on loopback)."""

import json
from datetime import UTC, datetime, timedelta

import pytest

import trimtab
from tests.helpers import edit
from tests.helpers.alerts import add_yaml
from tests.helpers.http_receiver import Receiver

SYSTEM = "complaint-router"


@pytest.fixture
def hook(project_dir):
    receiver = Receiver()
    add_yaml(project_dir, f"channels:\n  oncall:\n    kind: webhook\n    url: {receiver.url}/hook\n"
             "    backoff: 0\nincidents:\n  warn_before: 6h\n  channels: [oncall]\n")
    yield receiver
    receiver.close()


def test_each_deadline_alerts_once_within_the_lead_time(ws, hook):
    ws.release(SYSTEM)
    aware = datetime.now(UTC) - timedelta(hours=20)  # NIS2 early warning due in 4h
    made = ws.open_incident(SYSTEM, severity="high", summary="outage", aware_at=aware,
                            categories=["nis2-significant"], freeze=False)
    [raised] = ws.raise_deadline_alerts()
    document = raised.document
    assert (document["rule"], document["incident"], document["deadline"]) == (
        "incident-deadline", made.id, "early warning")
    assert document["severity"] == "warning" and 3.9 < document["value"] <= 4.0
    assert "due " in document["summary"] and "(in 3h 59m)" in document["summary"]
    assert ws.raise_deadline_alerts() == []  # once per deadline
    cycle = ws.check_alerts()  # the monitor's cycle delivers it
    assert [(s.rule, s.target, s.ok) for s in cycle.sent] == [
        ("incident-deadline", "oncall", True)]
    [body] = hook.delivered
    assert body["incident"] == made.id and body["event_id"] == raised.id
    # 70 hours later the 72h notification is near; the early warning is not raised again.
    later = aware + timedelta(hours=70)
    [notification] = ws.raise_deadline_alerts(now=later)
    assert notification.document["deadline"] == "incident notification"
    # A deadline first seen when already past is raised at once, as overdue.
    months = aware + timedelta(days=40)
    [final] = ws.raise_deadline_alerts(now=months)
    assert final.document["deadline"] == "final report"
    assert final.document["severity"] == "critical" and "overdue" in final.document["summary"]
    assert [e.action for e in ws.audit_log(action="alert.firing")] == ["alert.firing"] * 3
    ws.close_incident(made.id, root_cause="x", actions="y")
    assert ws.raise_deadline_alerts(now=months + timedelta(days=1)) == []


def test_the_monitor_raises_them_and_a_bad_setting_is_named(ws, project_dir, hook, caplog):
    ws.release(SYSTEM)
    ws.open_incident(SYSTEM, severity="high", summary="leak", freeze=False,
                     categories=["personal-data-breach"],
                     aware_at=datetime.now(UTC) - timedelta(hours=67))
    ws.run_scheduled()  # what `trimtab monitor` runs after each cycle
    [event] = ws.alert_events(rule="incident-deadline")
    assert event.document["regime"].startswith("GDPR")
    assert "alert incident-deadline firing for complaint-router: complaint-router: GDPR" \
        in caplog.text  # in the monitor's log too
    edit(project_dir / "trimtab.yaml", "channels: [oncall]", "channels: [pager]")
    with pytest.raises(trimtab.ProjectError, match="unknown channel 'pager'"):
        trimtab.load_project(project_dir / "trimtab.yaml")


def test_cli_check_prints_and_sends_it(cli, project_dir, hook):
    cli("release", SYSTEM)
    cli("incident", "open", SYSTEM, "--severity", "high", "-m", "x", "--no-freeze", "-c",
        "ai-act-widespread", "--aware-at", "44h")
    result = cli("check", "--json")
    [deadline] = json.loads(result.stdout)["deadlines"]
    assert deadline["deadline"] == "serious incident report"
    assert "incident-deadline: complaint-router: EU AI Act" in result.stderr
    assert hook.wait_for(1) and hook.delivered[0]["rule"] == "incident-deadline"
    assert "nothing to check" in cli("check").stdout  # raised once; no rules here
