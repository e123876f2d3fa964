"""API tokens: shown once, stored hashed, expiring, revocable; the CLI acts as their owner."""

import json
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, text

import trimtab
from tests.helpers.governance import as_user, with_users

SYSTEM = "complaint-router"


def _token(cli, *args) -> str:
    return cli("tokens", "create", *args).stdout.strip().splitlines()[-1]


def test_a_token_acts_as_its_owner_whatever_trimtab_user_says(cli, monkeypatch):
    with_users(cli, monkeypatch)
    secret = _token(cli, "--user", "operator@example.com", "--name", "ci")
    assert secret.startswith("ttu-")
    as_user(monkeypatch, "viewer@example.com")  # the claim a token overrides
    monkeypatch.setenv("TRIMTAB_TOKEN", secret)
    assert "operator@example.com: operator" in cli("whoami").stdout
    cli("release", SYSTEM)
    entry = json.loads(cli("audit", "log", "--action", "release.create", "--json").stdout)[0]
    assert entry["actor"] == "operator@example.com"
    assert "needs admin" in cli("keys", "create", "x", "--env", "dev", expect=2).output


def test_only_the_hash_is_stored(cli, monkeypatch, database_url):
    with_users(cli, monkeypatch)
    secret = _token(cli)
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(text("SELECT * FROM tokens"))]
    engine.dispose()
    stored = repr(rows)
    assert secret.split("-", 2)[2] not in stored and len(rows) == 1
    listed = json.loads(cli("tokens", "list", "--json").stdout)
    assert listed[0]["state"] == "live" and "secret" not in json.dumps(listed)


@pytest.mark.parametrize("how", ["revoked", "expired", "owner removed", "tampered"])
def test_dead_tokens_are_refused(cli, monkeypatch, project_dir, how):
    with_users(cli, monkeypatch)
    secret = _token(cli, "--user", "operator@example.com")
    token_id = secret.split("-")[1]
    if how == "revoked":
        cli("tokens", "revoke", token_id)
    elif how == "owner removed":
        cli("users", "remove", "operator@example.com")
    elif how == "tampered":
        secret = secret[:-2] + ("AA" if not secret.endswith("AA") else "BB")
    elif how == "expired":
        ws = trimtab.connect(project_dir)
        secret = ws.create_token(user="operator@example.com", expires=timedelta(seconds=-1))[1]
        ws.close()
    monkeypatch.setenv("TRIMTAB_TOKEN", secret)
    result = cli("release", SYSTEM, expect=2)
    assert "not a live token" in result.output
    monkeypatch.delenv("TRIMTAB_TOKEN")
    states = {t["id"]: t["state"] for t in json.loads(cli("tokens", "list", "--json").stdout)}
    if how in ("revoked", "owner removed"):
        assert states[token_id] == "revoked"


def test_own_tokens_for_anyone_others_for_admins(cli, monkeypatch):
    with_users(cli, monkeypatch)
    as_user(monkeypatch, "viewer@example.com")
    secret = _token(cli, "--expires", "never")
    token_id = secret.split("-")[1]
    assert "never" in cli("tokens", "list").stdout
    as_user(monkeypatch, "operator@example.com")
    assert "needs admin" in cli("tokens", "revoke", token_id, expect=2).output
    as_user(monkeypatch, "viewer@example.com")
    assert "revoked token" in cli("tokens", "revoke", token_id).stdout
    assert "--expires 'soon'" in cli("tokens", "create", "--expires", "soon", expect=2).output
    as_user(monkeypatch, "admin@example.com")
    result = cli("tokens", "create", "--user", "nobody@example.com", expect=2)
    assert "is not a user" in result.output
    actions = [e["action"] for e in json.loads(cli("audit", "log", "--json").stdout)]
    assert actions.count("token.create") == 1 and actions.count("token.revoke") == 1


def test_a_server_caller_wins_over_the_server_process_token(cli, monkeypatch, project_dir):
    """A server (trimtab serve) names its authenticated caller with acting_as; the
    token or TRIMTAB_USER of the process that runs it must not stand in for them."""
    from trimtab.actor import acting_as

    with_users(cli, monkeypatch)
    monkeypatch.setenv("TRIMTAB_TOKEN", _token(cli, "--user", "admin@example.com"))
    ws = trimtab.connect(project_dir)
    with acting_as("viewer@example.com"), pytest.raises(trimtab.TrimtabError,
                                                         match="viewer@example.com is viewer"):
        ws.release(SYSTEM)
    with acting_as("operator@example.com"):
        assert ws.release(SYSTEM)[0].author == "operator@example.com"
    ws.close()
