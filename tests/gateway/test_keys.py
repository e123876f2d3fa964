"""Virtual API keys: shown once, hashed at rest, revocable, audited."""

import json

import pytest

import trimtab


def test_create_authenticate_revoke(ws):
    key, text = ws.create_key("crm-backend", env="production", tags={"team": "support"})
    assert text.startswith(f"tt-{key.id}-")
    found = ws.authenticate(text)
    assert found.name == "crm-backend" and found.default_env == "production"
    assert found.tags == {"team": "support"} and found.allows("complaint-router")
    assert ws.authenticate(text[:-1] + ("A" if text[-1] != "A" else "B")) is None
    assert ws.authenticate("sk-not-ours") is None
    ws.revoke_key(key.id)
    assert ws.authenticate(text) is None
    assert [e.action for e in ws.audit_log()] == ["key.create", "key.revoke"]
    with pytest.raises(trimtab.TrimtabError, match="already revoked"):
        ws.revoke_key(key.id)


def test_the_secret_is_never_stored(ws, database_url):
    _, text = ws.create_key("app", env="dev")
    secret = text.split("-", 2)[2]
    from sqlalchemy import create_engine
    from sqlalchemy import text as sql

    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        dump = json.dumps([list(map(str, r)) for r in conn.execute(sql("SELECT * FROM api_keys"))])
        audit = json.dumps([list(map(str, r)) for r in conn.execute(sql("SELECT * FROM audit"))])
    engine.dispose()
    assert secret not in dump and secret not in audit


def test_keys_can_be_limited_to_systems(ws):
    key, _ = ws.create_key("router-only", env="dev", systems=["complaint-router"])
    assert key.allows("complaint-router") and not key.allows("claims-triage")
    with pytest.raises(trimtab.TrimtabError, match="no system named 'nope'"):
        ws.create_key("bad", env="dev", systems=["nope"])
    with pytest.raises(trimtab.TrimtabError, match="unknown environment"):
        ws.create_key("bad", env="prod-eu")


def test_keys_cli(cli):
    out = cli("keys", "create", "crm", "--env", "production", "--tag", "team=support").stdout
    text = out.strip().splitlines()[-1]
    assert text.startswith("tt-")
    listed = json.loads(cli("keys", "list", "--json").stdout)
    assert [(k["name"], k["tags"], k["revoked_at"]) for k in listed] == [
        ("crm", {"team": "support"}, None)]
    assert "crm" in cli("keys", "list").stdout
    cli("keys", "revoke", listed[0]["id"])
    assert json.loads(cli("keys", "list", "--json").stdout)[0]["revoked_at"] is not None
    assert "KEY=VALUE" in cli("keys", "create", "x", "--env", "dev", "--tag", "oops",
                              expect=2).output
    assert "no API key" in cli("keys", "revoke", "ffff", expect=2).output
