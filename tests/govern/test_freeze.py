"""Freeze and legal hold: a serious incident pins its system's releases on every
path (Python API, CLI, HTTP API, an approval applying) save an audited admin
override, and its calls in the incident window survive `trimtab prune`."""

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

import trimtab
from tests.helpers import edit, promote_through
from tests.helpers.gateway_server import running_app
from tests.helpers.governance import as_user, with_users
from trimtab.govern import PermissionDenied
from trimtab.store.freezes import Frozen
from trimtab.web.server import build

SYSTEM = "complaint-router"


def days_ago(days: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


@pytest.fixture
def two(live, project_dir):
    """r1 active everywhere, r2 released and active in dev: (ws, r1, r2)."""
    ws, r1 = live
    edit(project_dir / "prompts" / f"{SYSTEM}.user.md", "Complaint", "Report")
    r2, _ = ws.release(SYSTEM)
    ws.promote(SYSTEM, r2.id, "dev")
    return ws, r1, r2


def test_a_serious_incident_pins_every_release_until_unfrozen(two):
    ws, r1, r2 = two
    made = ws.open_incident(SYSTEM, severity="high", summary="wrong routing",
                            categories=["ai-act-serious"])
    [frozen] = ws.freezes(system=SYSTEM)
    assert frozen.incident_id == made.id
    assert frozen.pinned == {"dev": r2.id, "staging": r1.id, "production": r1.id}
    for change in (lambda: ws.promote(SYSTEM, r2.id, "staging"),
                   lambda: ws.promote(SYSTEM, r2.id, "staging", canary=10),
                   lambda: ws.promote(SYSTEM, r2.id, "staging", shadow=10),
                   lambda: ws.rollback(SYSTEM, "dev")):
        with pytest.raises(Frozen, match=f"frozen since .* by incident {made.id}"):
            change()
    assert ws.active_release(SYSTEM, "dev").id == r2.id
    assert ws.active_release(SYSTEM, "staging").id == r1.id
    with pytest.raises(trimtab.TrimtabError, match="still freezes"):
        ws.close_incident(made.id, root_cause="x", actions="y")
    with pytest.raises(trimtab.TrimtabError, match="needs --reason"):
        ws.unfreeze_incident(made.id, reason=" ")
    ws.unfreeze_incident(made.id, reason="fix verified")
    assert ws.freezes(system=SYSTEM) == []
    assert ws.promote(SYSTEM, r2.id, "staging").release_id == r2.id
    actions = [e.action for e in ws.audit_log(system=SYSTEM)]
    assert actions.index("system.freeze") < actions.index("system.unfreeze")
    assert "hold.place" in actions and ws.verify_audit().ok


def test_an_admin_override_needs_force_and_a_reason_and_is_audited(two):
    ws, r1, r2 = two
    ws.open_incident(SYSTEM, severity="critical", summary="outage")  # critical: freezes
    with pytest.raises(trimtab.TrimtabError, match="--force needs --reason"):
        ws.promote(SYSTEM, r2.id, "staging", force=True)
    done = ws.promote(SYSTEM, r2.id, "staging", force=True, reason="hotfix for the incident")
    assert done.release_id == r2.id
    back = ws.rollback(SYSTEM, "staging", force=True, reason="hotfix was worse")
    assert back.release_id == r1.id
    overrides = [json.loads(e.payload) for e in ws.audit_log(action="freeze.override")]
    assert [(o["change"], o["env"], o["reason"]) for o in overrides] == [
        ("promote", "staging", "hotfix for the incident"),
        ("rollback", "staging", "hotfix was worse")]
    assert ws.freezes(system=SYSTEM)  # an override does not lift the freeze


def test_minor_incidents_freeze_only_when_asked(two):
    ws, _, r2 = two
    minor = ws.open_incident(SYSTEM, severity="low", summary="typo in a reply")
    assert ws.freezes() == [] and ws.holds() == []
    ws.open_incident(SYSTEM, severity="high", summary="breach", categories=[
        "personal-data-breach"], freeze=False)
    assert ws.freezes() == []
    made, hold = ws.freeze_incident(minor.id)
    assert made.incident_id == minor.id and hold.incident_id == minor.id
    with pytest.raises(trimtab.TrimtabError, match="already froze"):
        ws.freeze_incident(minor.id)
    with pytest.raises(Frozen):
        ws.promote(SYSTEM, r2.id, "staging")


def test_an_approval_does_not_apply_to_a_frozen_system(cli, project_dir, monkeypatch):
    with_users(cli, monkeypatch)
    cli("users", "add", "bob@example.com", "--role", "approver")
    ws = trimtab.connect(project_dir)
    r1, _ = ws.release(SYSTEM)
    promote_through(ws, SYSTEM, r1.id, "staging")
    with open(project_dir / "trimtab.yaml", "a") as handle:
        handle.write("policies:\n  production:\n    approvals: 1\n")
    as_user(monkeypatch, "operator@example.com")
    request = ws.promote(SYSTEM, r1.id, "production")
    assert request.state == "pending"
    made = ws.open_incident(SYSTEM, severity="high", summary="x", categories=[
        "nis2-significant"])
    as_user(monkeypatch, "bob@example.com")
    with pytest.raises(Frozen):
        ws.approve(request.id)
    assert ws.approval(request.id).state == "pending"  # the quorum is not spent
    assert ws.active_release(SYSTEM, "production") is None
    with pytest.raises(Frozen):  # nor may a request be made meanwhile
        as_user(monkeypatch, "operator@example.com")
        ws.promote(SYSTEM, r1.id, "production")
    as_user(monkeypatch, "operator@example.com")
    with pytest.raises(PermissionDenied, match="needs approver"):
        ws.unfreeze_incident(made.id, reason="x")
    as_user(monkeypatch, "bob@example.com")
    ws.unfreeze_incident(made.id, reason="contained")
    _, deployment = ws.approve(request.id)
    assert deployment.release_id == r1.id
    as_user(monkeypatch, "approver@example.com")
    with pytest.raises(PermissionDenied, match="needs admin"):
        ws.release_holds(made.id, reason="x")
    ws.close()


def test_legal_hold_keeps_the_incident_window_from_prune(ws, project_dir):
    edit(project_dir / "trimtab.yaml", "    customer_facing: false",
         "    customer_facing: false\n    retention_days: 30")
    ws.release(SYSTEM)

    def record(*ages):
        ids = [ws.record(SYSTEM, {"n": i}, {"ok": True}, latency_ms=5.0, env="production",
                         time=days_ago(age)) for i, age in enumerate(ages)]
        assert ws.flush()
        return ids

    before_window = record(60)  # older than the hold: pruned
    in_window = record(40, 35)  # past retention but inside the hold: kept
    made = ws.open_incident(SYSTEM, severity="high", summary="misrouted",
                            categories=["ai-act-serious"], aware_at=days_ago(32),
                            hold_since=days_ago(45))
    [(hold, count)] = ws.holds(system=SYSTEM)
    assert hold.incident_id == made.id and hold.until is None and count == 2
    [dry] = [r for r in ws.prune(dry_run=True) if r.system == SYSTEM]
    assert (dry.calls, dry.held) == (1, 2)
    [pruned] = [r for r in ws.prune() if r.system == SYSTEM]
    assert (pruned.calls, pruned.held) == (1, 2)
    kept = {c.id for c in ws.calls(system=SYSTEM, limit=100)}
    assert set(in_window) <= kept and not set(before_window) & kept
    entry = ws.audit_log(action="calls.prune")[-1]
    assert json.loads(entry.payload)["held"] == 2

    ws.unfreeze_incident(made.id, reason="contained")
    ws.close_incident(made.id, root_cause="label dropped", actions="eval added")
    [(ended, _)] = ws.holds(system=SYSTEM)
    assert ended.until is not None and ended.active  # closing ends the window, not the hold
    assert [r.calls for r in ws.prune() if r.system == SYSTEM] == [0]
    with pytest.raises(trimtab.TrimtabError, match="needs --reason"):
        ws.release_holds(made.id, reason="")
    [released] = ws.release_holds(made.id, reason="complaint settled")
    assert not released.active and released.release_reason == "complaint settled"
    with pytest.raises(trimtab.TrimtabError, match="no active legal hold"):
        ws.release_holds(made.id, reason="again")
    assert [r.calls for r in ws.prune() if r.system == SYSTEM] == [2]
    actions = [e.action for e in ws.audit_log(system=SYSTEM)]
    assert actions.count("hold.place") == 1 and "hold.end" in actions
    assert "hold.release" in actions and ws.verify_audit().ok


def test_hold_since_must_precede_awareness(ws):
    ws.release(SYSTEM)
    with pytest.raises(trimtab.TrimtabError, match="--hold-since is after --aware-at"):
        ws.open_incident(SYSTEM, severity="high", summary="x", categories=["ai-act-serious"],
                         aware_at=days_ago(2), hold_since=days_ago(1))
    assert ws.incidents() == []  # nothing written


def test_cli_freeze_unfreeze_holds(cli, live):
    ws, r1 = live
    opened = cli("incident", "open", SYSTEM, "--severity", "high", "-m", "misrouted", "-c",
                 "ai-act-serious").stdout
    assert "froze complaint-router" in opened
    incident = opened.split("opened incident ")[1].split()[0]
    refused = cli("rollback", SYSTEM, "--env", "production", expect=2).output
    assert "is frozen" in refused and "--force --reason" in refused
    assert "open, frozen" in cli("incidents").stdout
    listing = json.loads(cli("incident", "holds", "--json").stdout)
    assert [h["incident_id"] for h in listing["holds"]] == [incident]
    assert listing["freezes"][0]["pinned"]["production"] == r1.id
    table = cli("incident", "holds").stdout
    assert f"complaint-router  {incident}" in table and "held" in table and "frozen" in table
    shown = json.loads(cli("incident", "show", incident).stdout)
    assert shown["freezes"][0]["lifted_at"] is None and shown["holds"][0]["active"]
    cli("incident", "unfreeze", incident, "--reason", "contained")
    assert "no legal holds" not in cli("incident", "holds").stdout
    cli("incident", "release-hold", incident, "--reason", "closed")
    assert "no legal holds, no freezes" in cli("incident", "holds").stdout
    assert "froze complaint-router" in cli("incident", "freeze", incident).stdout


def test_the_http_api_refuses_a_frozen_system_with_409(live):
    ws, r1 = live
    ws.open_incident(SYSTEM, severity="critical", summary="outage")
    with running_app(build(ws)) as url:
        api = httpx.Client(base_url=f"{url}/api/v1")
        refused = api.post(f"/systems/{SYSTEM}/rollback", json={"env": "production"})
        assert refused.status_code == 409, refused.text
        assert "is frozen" in refused.json()["detail"]
        forced = api.post(f"/systems/{SYSTEM}/promote", json={
            "release": r1.id, "env": "production", "force": True, "reason": "re-pin"})
        assert forced.status_code == 200, forced.text
    assert ws.audit_log(action="freeze.override")[-1].actor == "alice@example.com"


def test_erasure_meets_the_legal_hold(ws):
    """GDPR Art. 17(3)(e): a hold for legal claims outweighs erasure unless overridden."""
    ws.release(SYSTEM)
    held = [ws.record(SYSTEM, {"text": f"seal {i}"}, {"team": "x"}, 5.0, user="u-1",
                      time=days_ago(2)) for i in range(2)]
    assert ws.flush()
    made = ws.open_incident(SYSTEM, severity="high", summary="x", categories=[
        "personal-data-breach"], aware_at=days_ago(1), hold_since=days_ago(3))
    outside = ws.record(SYSTEM, {"text": "later"}, {"team": "x"}, 5.0, user="u-1",
                        time=days_ago(4))  # before the hold's window
    assert ws.flush()
    with pytest.raises(trimtab.TrimtabError, match="2 of this user's calls are under a legal "
                                                   r"hold \(`trimtab incident holds`\)"):
        ws.erase("u-1", request="DSR-1")
    kept = ws.erase("u-1", request="DSR-1", skip_held=True)
    assert (kept.calls, kept.held) == (1, 2)
    assert {c.id for c in ws.calls(system=SYSTEM, limit=10)} == set(held)
    assert outside not in {c.id for c in ws.calls(system=SYSTEM, limit=10)}
    ws.unfreeze_incident(made.id, reason="contained")
    ws.release_holds(made.id, reason="settled")
    assert ws.erase("u-1", request="DSR-1").calls == 2
