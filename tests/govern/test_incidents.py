"""Incidents: every applicable regulatory deadline computed in parallel from the
regimes table (data), timeline notes, closing with root cause and actions."""

import json
from datetime import UTC, datetime, timedelta

import pytest

import trimtab
from tests.helpers.governance import as_user, with_users
from trimtab.govern.incidents import deadlines, known_categories, regimes
from trimtab.store.incidents import Incident

SYSTEM = "complaint-router"
AWARE = datetime(2026, 1, 30, 9, 0, tzinfo=UTC)


def incident(*categories: str) -> Incident:
    return Incident(id="i1", system=SYSTEM, severity="high", summary="s",
                    categories=list(categories), aware_at=AWARE, opened_at=AWARE,
                    opened_by="a", closed_at=None, closed_by=None, root_cause=None,
                    actions=None)


def test_every_regime_runs_in_parallel_from_awareness():
    due = {(d.regime.split(" ")[0], d.name): d.due for d in deadlines(
        incident("nis2-significant", "ai-act-serious", "personal-data-breach"))}
    assert due == {
        ("NIS2", "early warning"): AWARE + timedelta(hours=24),
        ("NIS2", "incident notification"): AWARE + timedelta(hours=72),
        # one calendar month after the notification (Feb 2 -> Mar 2)
        ("NIS2", "final report"): datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        ("EU", "serious incident report"): AWARE + timedelta(days=15),
        ("GDPR", "notification to the supervisory authority"): AWARE + timedelta(hours=72),
    }


@pytest.mark.parametrize(("category", "days"), [
    ("ai-act-serious", 15), ("ai-act-widespread", 2), ("ai-act-critical-infrastructure", 2),
    ("ai-act-death", 10)])
def test_ai_act_deadlines_by_kind(category, days):
    [only] = deadlines(incident(category))
    assert only.due == AWARE + timedelta(days=days)


def test_the_regimes_are_data_with_a_version():
    table = regimes()
    assert table["version"] and "nis2-significant" in known_categories()
    moved = {"version": "x", "regimes": [{"id": "gdpr", "name": "GDPR", "categories": [
        "personal-data-breach"], "deadlines": [
        {"name": "notification", "after": "48h", "from": "aware"}]}]}
    [only] = deadlines(incident("personal-data-breach"), moved)
    assert only.due == AWARE + timedelta(hours=48)
    assert deadlines(incident()) == []


def test_open_note_close_audited(ws):
    ws.release(SYSTEM)
    made = ws.open_incident(SYSTEM, severity="high", summary="safety complaints misrouted",
                            categories=["ai-act-serious", "nis2-significant"],
                            aware_at=datetime.now(UTC) - timedelta(hours=2))
    assert [d.name for d in ws.deadlines()][:2] == ["early warning", "incident notification"]
    ws.note_incident(made.id[:4], "suspended production")
    ws.unfreeze_incident(made.id, reason="contained")  # a serious incident froze it
    closed = ws.close_incident(made.id, root_cause="prompt dropped the label",
                               actions="eval case added")
    assert closed.closed_by == "alice@example.com" and len(closed.notes) == 1
    assert ws.incidents() == [] and ws.deadlines() == []
    assert [i.id for i in ws.incidents(include_closed=True)] == [made.id]
    assert [e.action for e in ws.audit_log(system=SYSTEM)][-7:] == [
        "incident.open", "system.freeze", "hold.place", "incident.note", "system.unfreeze",
        "hold.end", "incident.close"]
    with pytest.raises(trimtab.TrimtabError, match="already closed"):
        ws.close_incident(made.id, root_cause="x", actions="y")


def test_bad_input_names_the_fix(ws):
    with pytest.raises(trimtab.TrimtabError, match="unknown incident category 'nis3'"):
        ws.open_incident(SYSTEM, severity="high", summary="x", categories=["nis3"])
    with pytest.raises(trimtab.TrimtabError, match="--severity 'huge'"):
        ws.open_incident(SYSTEM, severity="huge", summary="x")
    with pytest.raises(trimtab.TrimtabError, match="in the future"):
        ws.open_incident(SYSTEM, severity="low", summary="x",
                         aware_at=datetime.now(UTC) + timedelta(days=1))


def test_cli(cli, monkeypatch):
    cli("release", SYSTEM)
    out = cli("incident", "open", SYSTEM, "--severity", "critical", "-m", "data leak",
              "-c", "personal-data-breach", "--aware-at", "1h").stdout
    assert "opened incident" in out and "notification to the supervisory" in out
    incident_id = out.split("opened incident ")[1].split(" ")[0]
    listed = cli("incidents").stdout
    assert incident_id in listed and "in 2d 2" in listed
    cli("incident", "note", incident_id, "rotated the leaked key")
    cli("incident", "unfreeze", incident_id, "--reason", "key rotated")
    shown = json.loads(cli("incident", "show", incident_id).stdout)
    assert shown["notes"][0]["text"] == "rotated the leaked key"
    assert shown["deadlines"][0]["regime"].startswith("GDPR")
    cli("incident", "close", incident_id, "--root-cause", "debug log", "--actions", "removed")
    assert "no open incidents" in cli("incidents").stdout
    data = json.loads(cli("incidents", "--all", "--json").stdout)
    assert data["incidents"][0]["root_cause"] == "debug log" and data["deadlines"] == []


def test_viewers_cannot_open_incidents(cli, monkeypatch):
    cli("release", SYSTEM)
    with_users(cli, monkeypatch)
    as_user(monkeypatch, "viewer@example.com")
    result = cli("incident", "open", SYSTEM, "--severity", "low", "-m", "x", expect=2)
    assert "needs operator" in result.output
