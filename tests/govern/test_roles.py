"""Roles: every write command against every role, single-user mode, and the check's audit."""

import json
import random

import pytest

import trimtab
from tests.helpers.governance import ROLE_USERS, as_user, with_users
from trimtab.govern.roles import NEEDS, RANK, ROLES

SYSTEM = "complaint-router"


def _rows(path, seed):
    rng = random.Random(seed)
    path.write_text("channel,units\n" + "".join(
        f"{rng.choice(['email', 'phone'])},{rng.randint(1, 50)}\n" for _ in range(60)))
    return str(path)


@pytest.fixture
def stage(cli, project_dir, tmp_path, monkeypatch, request):
    """Users of every role, and what the write commands need to act on."""
    with open(project_dir / "trimtab.yaml", "a") as handle:
        handle.write("alerts:\n  router-errors:\n    system: complaint-router\n"
                     "    metric: error_rate\n    window: 15m\n    comparator: \">\"\n"
                     "    threshold: 0.05\n")
    ws = trimtab.connect(project_dir)
    r1, _ = ws.release(SYSTEM, note="one")
    (project_dir / "prompts" / "complaint-router.user.md").write_text("Report: {{text}}\n")
    r2, _ = ws.release(SYSTEM, note="two")
    for release in (r1, r2):
        ws.promote(SYSTEM, release.id, "dev")
        ws.promote(SYSTEM, release.id, "staging")
    call_id = ws.record(SYSTEM, {"text": "seal leaks"}, {"team": "packaging"}, 12.0)
    assert ws.flush()
    key, _ = ws.create_key("crm", env="production")
    with open(project_dir / "trimtab.yaml", "a") as handle:
        handle.write("policies:\n  production:\n    approvals: 1\n")
    pending = ws.promote(SYSTEM, r2.id, "production")  # held: a pending request
    ws.suspend(SYSTEM, "dev", reason="held for the resume row")
    incident = ws.open_incident(SYSTEM, severity="low", summary="staged")
    review = ws.record_independent_review(SYSTEM, reviewer="dana@audit.example.com",
                                          organisation="Internal audit", scope="all",
                                          findings=["staged"])
    held = ws.open_incident(SYSTEM, severity="high", summary="held", categories=[
        "ai-act-serious"])  # frozen, and its legal hold stays after unfreezing
    callspec = getattr(request.node, "callspec", None)
    if callspec is None or callspec.params.get("command") != "incident unfreeze":
        ws.unfreeze_incident(held.id, reason="only the unfreeze row needs it frozen")
    ws.close()
    with_users(cli, monkeypatch)
    ws = trimtab.connect(project_dir)
    token, _ = ws.create_token(user="admin@example.com")
    ws.close()
    ref, cur = _rows(tmp_path / "ref.csv", 1), _rows(tmp_path / "cur.csv", 2)
    return {"r1": r1.id, "r2": r2.id, "call": call_id, "key": key.id, "ref": ref, "cur": cur,
            "request": pending.id, "incident": incident.id, "token": token.id,
            "evidence": str(tmp_path / "evidence"), "finding": review.findings[0].id,
            "held": held.id}


#: (the command, the action it needs) - every command that changes the store.
COMMANDS = {
    "sync": (["sync"], "system.sync"),
    "release": (["release", SYSTEM, "-m", "x"], "release.create"),
    "promote": (["promote", SYSTEM, "{r1}", "--env", "dev"], "deployment.promote"),
    "promote --force": (["promote", SYSTEM, "{r1}", "--env", "dev", "--force", "--reason", "x"],
                        "gate.override"),
    "eval": (["eval", SYSTEM, "--release", "{r1}"], "eval.run"),
    "review sample": (["review", "sample", SYSTEM], "review.sample"),
    "review flag": (["review", "flag", "{call}", "--reason", "x"], "call.flag"),
    "quality score": (["quality", "score"], "score.sample"),
    "rollback": (["rollback", SYSTEM, "--env", "staging"], "deployment.rollback"),
    "score": (["score", "{call}", "helpful", "1"], "score.add"),
    "label": (["label", "{call}", "packaging"], "label.add"),
    "drift baseline": (["drift", "baseline", SYSTEM, "--file", "{ref}"], "drift.baseline"),
    "drift check": (["drift", "check", SYSTEM, "--reference", "{ref}", "--current", "{cur}"],
                    "drift.check"),
    "prune": (["prune", "--older-than", "30d"], "calls.prune"),
    "erase": (["erase", "--user", "u-1", "--request", "DSR-1"], "calls.erase"),
    "export evidence": (["export", "evidence", SYSTEM, "--since", "1d", "--out", "{evidence}"],
                        "evidence.export"),
    "check": (["check"], "alerts.evaluate"),
    "keys create": (["keys", "create", "app", "--env", "production"], "key.manage"),
    "keys revoke": (["keys", "revoke", "{key}"], "key.manage"),
    "audit checkpoint": (["audit", "checkpoint"], "audit.checkpoint"),
    "users add": (["users", "add", "dave@example.com", "--role", "viewer"], "identity.manage"),
    "users grant": (["users", "grant", "viewer@example.com", "operator"], "identity.manage"),
    "users revoke": (["users", "revoke", "operator@example.com", "operator"],
                     "identity.manage"),
    "users remove": (["users", "remove", "reviewer@example.com"], "identity.manage"),
    "tokens create": (["tokens", "create"], "token.create"),
    "tokens revoke": (["tokens", "revoke", "{token}"], "token.manage"),
    "approve": (["approve", "{request}"], "approval.decide"),
    "reject": (["reject", "{request}", "--reason", "no"], "approval.decide"),
    "suspend": (["suspend", SYSTEM, "--env", "staging", "--reason", "x"], "system.suspend"),
    "resume": (["resume", SYSTEM, "--env", "dev", "--reason", "x"], "system.resume"),
    "incident open": (["incident", "open", SYSTEM, "--severity", "low", "-m", "x"],
                      "incident.manage"),
    "incident note": (["incident", "note", "{incident}", "x"], "incident.manage"),
    "incident close": (["incident", "close", "{incident}", "--root-cause", "x", "--actions",
                        "y"], "incident.manage"),
    "tokens create --user": (["tokens", "create", "--user", "admin@example.com"],
                             "token.manage"),
    "assurance record": (["assurance", "record", SYSTEM, "-r", "dana@audit.example.com", "-o",
                          "Internal audit", "-s", "all", "--no-findings"], "assurance.manage"),
    "assurance close": (["assurance", "close", "{finding}", "-m", "fixed"], "assurance.manage"),
    "incident freeze": (["incident", "freeze", "{incident}"], "incident.manage"),
    "incident unfreeze": (["incident", "unfreeze", "{held}", "--reason", "x"],
                          "incident.unfreeze"),
    "incident release-hold": (["incident", "release-hold", "{held}", "--reason", "x"],
                              "hold.release"),
    "rollback --force": (["rollback", SYSTEM, "--env", "staging", "--force", "--reason", "x"],
                         "freeze.override"),
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_write_command_checks_the_role(stage, cli, monkeypatch, command):
    args, action = COMMANDS[command]
    args = [a.format(**stage) for a in args]
    needed = NEEDS[action]
    for role in ROLES:
        as_user(monkeypatch, ROLE_USERS[role])
        result = cli(*args, expect=None)
        if RANK[role] < RANK[needed]:
            assert result.exit_code == 2 and "not allowed" in result.output, (role, result.output)
            assert f"needs {needed}" in result.output
        else:
            # Allowed: never refused (a later role may meet a state the first changed).
            assert "not allowed" not in result.output, (role, result.output)
            if role == needed:
                assert result.exit_code == 0, (role, result.output)


def test_the_matrix_covers_every_guarded_action():
    covered = {action for _, action in COMMANDS.values()}
    elsewhere = {  # need a protected env or a high-risk system: test_approvals, test_suspend;
        # a sample to review: tests/quality/test_review.py; PostgreSQL:
        # tests/govern/test_database_roles.py
        "deployment.rollback.protected", "system.resume.high-risk", "review.add", "db.roles",
    }
    assert set(NEEDS) - elsewhere == covered


def test_refusals_are_audited_and_name_the_fix(stage, cli, monkeypatch):
    as_user(monkeypatch, "viewer@example.com")
    result = cli("promote", SYSTEM, stage["r1"], "--env", "dev", expect=2)
    assert "viewer@example.com is viewer" in result.output
    assert "trimtab users grant viewer@example.com operator" in result.output
    as_user(monkeypatch, "admin@example.com")
    denied = json.loads(cli("audit", "log", "--action", "access.denied", "--json").stdout)
    assert denied[-1]["actor"] == "viewer@example.com"
    assert denied[-1]["object_id"] == "deployment.promote"
    assert "verify" in cli("audit", "verify").stdout


def test_strangers_and_removed_users_cannot_write(stage, cli, monkeypatch):
    as_user(monkeypatch, "stranger@example.com")
    result = cli("release", SYSTEM, expect=2)
    assert "'stranger@example.com' is not a user here" in result.output
    assert "stranger@example.com: no role" in cli("whoami").stdout
    as_user(monkeypatch, "admin@example.com")
    cli("users", "remove", "operator@example.com")
    as_user(monkeypatch, "operator@example.com")
    assert "was removed" in cli("release", SYSTEM, expect=2).output


def test_a_role_for_one_system_counts_only_there(stage, cli, monkeypatch, project_dir):
    as_user(monkeypatch, "admin@example.com")
    cli("users", "add", "carol@example.com", "--role", "operator", "--system", SYSTEM)
    as_user(monkeypatch, "carol@example.com")
    cli("promote", SYSTEM, stage["r1"], "--env", "dev")
    result = cli("sync", expect=2)  # project-wide: carol has no project role
    assert "carol@example.com has no role in project" in result.output


def test_single_user_mode_until_the_first_admin(cli, monkeypatch):
    assert "single-user mode" in cli("whoami").stdout
    cli("release", SYSTEM)  # the owner may do anything
    result = cli("users", "add", "bob@example.com", "--role", "viewer", expect=2)
    assert "the first user must be a project admin" in result.output
    cli("users", "add", "alice@example.com", "--role", "admin")
    assert "alice@example.com: admin" in cli("whoami").stdout
    result = cli("users", "revoke", "alice@example.com", "admin", expect=2)
    assert "last admin" in result.output
    result = cli("users", "remove", "alice@example.com", expect=2)
    assert "last admin" in result.output
    users = json.loads(cli("users", "list", "--json").stdout)
    assert users == [{"name": "alice@example.com", "live": True, "created_at": users[0][
        "created_at"], "removed_at": None, "roles": [{"role": "admin", "system": None}]}]
    assert cli("users", "grant", "alice@example.com", "boss", expect=2).output.count(
        "unknown role 'boss'") == 1


def test_the_python_api_is_checked_too(stage, monkeypatch, project_dir):
    as_user(monkeypatch, "reviewer@example.com")
    ws = trimtab.connect(project_dir)
    with pytest.raises(trimtab.TrimtabError, match="needs operator"):
        ws.rollback(SYSTEM, "staging")
    ws.close()
