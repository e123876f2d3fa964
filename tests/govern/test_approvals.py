"""Two-person approval: a protected environment's promotions wait for approvers,
and every way around the rule is refused and audited."""

import json
from datetime import UTC, datetime, timedelta

import pytest

import trimtab
from tests.helpers import edit, promote_through
from tests.helpers.governance import as_user, with_users

SYSTEM = "complaint-router"
POLICY = "policies:\n  production:\n    approvals: 2\n"


@pytest.fixture
def protected(cli, project_dir, monkeypatch):
    """production needs two approvals; users of every role plus two more approvers;
    two releases, the first active in production, the second in staging.
    Returns (ws, r1, r2)."""
    with_users(cli, monkeypatch)
    cli("users", "add", "bob@example.com", "--role", "approver")
    cli("users", "add", "carol@example.com", "--role", "approver")
    ws = trimtab.connect(project_dir)
    r1, _ = ws.release(SYSTEM)
    promote_through(ws, SYSTEM, r1.id, "production")
    edit(project_dir / "prompts" / "complaint-router.user.md", "Complaint", "Report")
    r2, _ = ws.release(SYSTEM)
    promote_through(ws, SYSTEM, r2.id, "staging")  # r2 has run in staging
    with open(project_dir / "trimtab.yaml", "a") as handle:
        handle.write(POLICY)
    yield ws, r1, r2
    ws.close()


def request_as(ws, monkeypatch, user, release, env="production"):
    as_user(monkeypatch, user)
    return ws.promote(SYSTEM, release.id, env, reason="better routing")


def approve_as(ws, monkeypatch, user, request_id, **kwargs):
    as_user(monkeypatch, user)
    return ws.approve(request_id, **kwargs)


def refused(ws):
    return [json.loads(e.payload)["reason"] for e in ws.audit_log(action="approval.refused")]


def test_quorum_of_two_other_approvers_applies_the_promotion(protected, monkeypatch):
    ws, r1, r2 = protected
    request = request_as(ws, monkeypatch, "operator@example.com", r2)
    assert request.state == "pending" and request.required == 2
    assert ws.active_release(SYSTEM, "production").id == r1.id  # nothing moved yet
    done, deployment = approve_as(ws, monkeypatch, "bob@example.com", request.id,
                                  release=r2.short_id)
    assert done.state == "pending" and deployment is None and done.approvals == [
        "bob@example.com"]
    done, deployment = approve_as(ws, monkeypatch, "carol@example.com", request.id)
    assert done.state == "applied" and deployment.release_id == r2.id
    assert deployment.actor == "operator@example.com" and done.deployment_id == deployment.id
    assert ws.active_release(SYSTEM, "production").id == r2.id
    actions = [e.action for e in ws.audit_log()][-6:]
    assert actions == ["approval.request", "approval.approve", "approval.approve",
                       "approval.approved", "deployment.promote", "approval.applied"]
    assert ws.verify_audit().ok


def test_other_environments_and_shadows_are_not_held(protected, monkeypatch):
    ws, _, r2 = protected
    as_user(monkeypatch, "operator@example.com")
    ws.rollback(SYSTEM, "staging")
    assert ws.promote(SYSTEM, r2.id, "staging").action == "promote"
    assert ws.promote(SYSTEM, r2.id, "production", shadow=10).action == "shadow"


def test_self_approval_is_refused_and_audited(protected, monkeypatch):
    ws, _, r2 = protected
    request = request_as(ws, monkeypatch, "bob@example.com", r2)  # an approver asks
    with pytest.raises(trimtab.TrimtabError, match="requester cannot approve"):
        approve_as(ws, monkeypatch, "bob@example.com", request.id)
    assert refused(ws) and "requester" in refused(ws)[-1]
    assert ws.approval(request.id).approvals == []


def test_approving_another_release_than_requested_is_refused(protected, monkeypatch):
    ws, r1, r2 = protected
    request = request_as(ws, monkeypatch, "operator@example.com", r2)
    with pytest.raises(trimtab.TrimtabError, match="not " + r1.short_id):
        approve_as(ws, monkeypatch, "bob@example.com", request.id, release=r1.short_id)
    assert "exactly the release requested" in refused(ws)[-1]
    assert ws.approval(request.id).approvals == []


@pytest.mark.parametrize("ref", ["", "  ", "d", "abc", "not-hex"])
def test_release_must_name_the_reviewed_release(protected, monkeypatch, ref):
    """`--release` resolves like promote's release reference: too short, empty or not
    hexadecimal names no release, so nothing is counted and the error says the fix."""
    ws, _, r2 = protected
    request = request_as(ws, monkeypatch, "operator@example.com", r2)
    with pytest.raises(trimtab.TrimtabError, match="--release") as raised:
        approve_as(ws, monkeypatch, "bob@example.com", request.id, release=ref)
    assert "Fix:" in str(raised.value)
    assert ws.approval(request.id).approvals == []


def test_release_prefix_or_full_id_approves(protected, monkeypatch, cli):
    """A unique prefix (any case) or the whole id of the requested release approves;
    on the command line a bad reference is one line and exit 2."""
    ws, _, r2 = protected
    request = request_as(ws, monkeypatch, "operator@example.com", r2)
    as_user(monkeypatch, "bob@example.com")
    result = cli("approve", request.id, "--release", "", expect=2)
    assert "error: --release" in result.output and "Traceback" not in result.output
    done, _ = approve_as(ws, monkeypatch, "bob@example.com", request.id,
                         release=r2.id[:8].upper())
    assert done.approvals == ["bob@example.com"]
    done, _ = approve_as(ws, monkeypatch, "carol@example.com", request.id, release=r2.id)
    assert done.state == "applied"


def test_an_approval_counts_once(protected, monkeypatch):
    ws, r1, r2 = protected
    request = request_as(ws, monkeypatch, "operator@example.com", r2)
    approve_as(ws, monkeypatch, "bob@example.com", request.id)
    with pytest.raises(trimtab.TrimtabError, match="counts once"):
        approve_as(ws, monkeypatch, "bob@example.com", request.id)
    assert ws.approval(request.id).state == "pending"
    assert ws.active_release(SYSTEM, "production").id == r1.id


def test_approving_after_rejection_expiry_or_applying_is_refused(protected, monkeypatch):
    ws, _, r2 = protected
    rejected = request_as(ws, monkeypatch, "operator@example.com", r2)
    as_user(monkeypatch, "carol@example.com")
    assert ws.reject(rejected.id, reason="latency regressed").state == "rejected"
    with pytest.raises(trimtab.TrimtabError, match="was rejected"):
        approve_as(ws, monkeypatch, "bob@example.com", rejected.id)

    expiring = request_as(ws, monkeypatch, "operator@example.com", r2)
    later = datetime.now(UTC) + timedelta(hours=73)  # the default expiry is 72h
    with pytest.raises(trimtab.TrimtabError, match="expired"):
        approve_as(ws, monkeypatch, "bob@example.com", expiring.id, now=later)
    assert ws.approval(expiring.id).state == "expired"
    with pytest.raises(trimtab.TrimtabError, match="expired"):
        approve_as(ws, monkeypatch, "carol@example.com", expiring.id)

    applied = request_as(ws, monkeypatch, "operator@example.com", r2)
    approve_as(ws, monkeypatch, "bob@example.com", applied.id)
    approve_as(ws, monkeypatch, "carol@example.com", applied.id)
    with pytest.raises(trimtab.TrimtabError, match="already approved and applied"):
        approve_as(ws, monkeypatch, "approver@example.com", applied.id)
    assert len(refused(ws)) == 4
    assert [r.state for r in ws.approvals(include_closed=True)] == [
        "rejected", "expired", "applied"]
    assert ws.approvals() == []


def test_approval_from_a_removed_user_or_revoked_token_is_refused(protected, monkeypatch, cli):
    ws, _, r2 = protected
    request = request_as(ws, monkeypatch, "operator@example.com", r2)
    as_user(monkeypatch, "admin@example.com")
    secret = ws.create_token(user="carol@example.com")[1]
    ws.remove_user("bob@example.com")
    with pytest.raises(trimtab.TrimtabError, match="was removed"):
        approve_as(ws, monkeypatch, "bob@example.com", request.id)
    as_user(monkeypatch, "admin@example.com")
    ws.revoke_token(secret.split("-")[1])
    as_user(monkeypatch, "carol@example.com")
    monkeypatch.setenv("TRIMTAB_TOKEN", secret)
    with pytest.raises(trimtab.TrimtabError, match="not a live token"):
        ws.approve(request.id)
    monkeypatch.delenv("TRIMTAB_TOKEN")
    denied = ws.audit_log(action="access.denied")
    assert denied[-1].actor == "bob@example.com" and denied[-1].object_id == "approval.decide"
    assert ws.approval(request.id).approvals == []


def test_operators_cannot_approve_nor_roll_back_a_protected_env(protected, monkeypatch):
    ws, r1, r2 = protected
    request = request_as(ws, monkeypatch, "admin@example.com", r2)
    with pytest.raises(trimtab.TrimtabError, match="needs approver"):
        approve_as(ws, monkeypatch, "operator@example.com", request.id)
    as_user(monkeypatch, "operator@example.com")
    ws.promote(SYSTEM, r1.id, "staging")
    ws.promote(SYSTEM, r2.id, "staging")
    ws.rollback(SYSTEM, "staging")  # unprotected: an operator may
    with pytest.raises(trimtab.TrimtabError, match="needs approver"):
        ws.rollback(SYSTEM, "production", to=r1.id)
    as_user(monkeypatch, "approver@example.com")
    approve_as(ws, monkeypatch, "bob@example.com", request.id)
    approve_as(ws, monkeypatch, "carol@example.com", request.id)
    as_user(monkeypatch, "approver@example.com")
    assert ws.rollback(SYSTEM, "production", reason="incident").release_id == r1.id


def test_policy_by_risk_level(protected, monkeypatch, project_dir):
    ws, _, r2 = protected
    edit(project_dir / "trimtab.yaml", "    approvals: 2\n", "    approvals: 1\n    risk: [high]\n")
    as_user(monkeypatch, "operator@example.com")
    assert ws.promote(SYSTEM, r2.id, "production").action == "promote"  # risk: limited


def test_cli_flow(protected, cli, monkeypatch):
    ws, _, r2 = protected
    as_user(monkeypatch, "operator@example.com")
    out = cli("promote", SYSTEM, r2.short_id, "--env", "production").stdout
    assert "needs 2 approvals" in out and "trimtab approve" in out
    request_id = out.split("request ")[1].split(" ")[0]
    assert request_id in cli("approvals").stdout
    as_user(monkeypatch, "bob@example.com")
    assert "waits for 1 more" in cli("approve", request_id[:4], "-m", "ok").stdout
    as_user(monkeypatch, "carol@example.com")
    out = cli("approve", request_id, "--release", r2.short_id).stdout
    assert "(2/2)" in out and "now active in production" in out
    result = cli("reject", request_id, "--reason", "late", expect=2)
    assert "cannot reject" in result.output and "applied" in result.output
    listed = json.loads(cli("approvals", "--all", "--json").stdout)
    assert listed[0]["state"] == "applied" and len(listed[0]["votes"]) == 2


def test_a_policy_for_an_unknown_env_is_reported_with_its_line(cli, project_dir):
    with open(project_dir / "trimtab.yaml", "a") as handle:
        handle.write("policies:\n  prod:\n    approvals: 2\n    expires: soon\n")
    result = cli("validate", expect=2)
    assert "unknown environment 'prod'" in result.output
    assert "policies.prod.expires" in result.output and "trimtab.yaml:" in result.output


def test_the_http_api_answers_a_held_promotion_with_202(protected, monkeypatch):
    import httpx

    from tests.helpers.gateway_server import running_app
    from trimtab.web.server import build

    ws, r1, r2 = protected
    as_user(monkeypatch, "admin@example.com")
    token = ws.create_token(user="operator@example.com", name="web")[1]
    with running_app(build(ws)) as url:
        answer = httpx.post(f"{url}/api/v1/systems/{SYSTEM}/promote",
                            json={"release": r2.short_id, "env": "production"},
                            headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 202, answer.text
    held = answer.json()
    assert held["changed"] is False and held["approval"]["state"] == "pending"
    assert held["approval"]["required"] == 2
    assert ws.active_release(SYSTEM, "production").id == r1.id


def test_the_order_is_checked_before_a_request_is_made(protected, monkeypatch, project_dir):
    ws, _, _ = protected
    edit(project_dir / "prompts" / "complaint-router.user.md", "Report", "Ticket")
    r3, _ = ws.release(SYSTEM)
    as_user(monkeypatch, "operator@example.com")
    with pytest.raises(trimtab.TrimtabError, match="never been active in 'staging'"):
        ws.promote(SYSTEM, r3.id, "production")
    assert ws.approvals() == []
    request = ws.promote(SYSTEM, r3.id, "production", skip_order=True, reason="hotfix")
    approve_as(ws, monkeypatch, "bob@example.com", request.id)
    _, deployment = approve_as(ws, monkeypatch, "carol@example.com", request.id)
    assert deployment.release_id == r3.id
    promoted = ws.audit_log(action="deployment.promote")[-1]
    assert json.loads(promoted.payload)["skipped_order"] == "staging"
