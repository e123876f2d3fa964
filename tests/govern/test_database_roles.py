"""`trimtab db roles`: PostgreSQL itself refuses ordinary connections that try to
rewrite history, while recording, promotion and approvals keep working.

Roles are cluster-wide: each test makes uniquely named ones and drops them."""

import json
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import ProgrammingError

import trimtab
from tests.helpers import promote_through
from tests.helpers.governance import as_user, with_users

SYSTEM = "complaint-router"


def _admin(url: str):
    return create_engine(url, isolation_level="AUTOCOMMIT")


@pytest.fixture
def roles(postgres_url):
    """A unique prefix and a login role for each of writer and reader: (prefix, logins)."""
    prefix = f"tt{uuid.uuid4().hex[:10]}"
    logins = {kind: f"{prefix}_{kind}_login" for kind in ("writer", "reader")}
    admin = _admin(postgres_url)
    with admin.connect() as conn:
        for login in logins.values():
            conn.execute(text(f'CREATE ROLE "{login}" LOGIN'))
    yield prefix, logins
    with admin.connect() as conn:
        made = [r for r in (*logins.values(), *(f"{prefix}_{k}" for k in (
            "owner", "writer", "reader"))) if conn.execute(
                text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": r}).first()]
        for role in made:
            conn.execute(text(f'DROP OWNED BY "{role}" CASCADE'))
        for role in made:
            conn.execute(text(f'DROP ROLE "{role}"'))
    admin.dispose()


def as_login(url: str, login: str) -> str:
    assert "://postgres@" in url
    return url.replace("://postgres@", f"://{login}@", 1)


def refused(engine, statement: str) -> str:
    with engine.connect() as conn, pytest.raises(ProgrammingError) as caught:
        conn.execute(text(statement))
    return str(caught.value.orig)


@pytest.fixture
def pg_cli(project_dir, postgres_url, monkeypatch):
    from typer.testing import CliRunner

    from trimtab.cli import app, output

    monkeypatch.setenv("TRIMTAB_DATABASE_URL", postgres_url)
    monkeypatch.setenv("TRIMTAB_PROJECT", str(project_dir))
    monkeypatch.setattr(output.console, "width", 160)

    def run(*args, expect=0):
        result = CliRunner().invoke(app, list(args), catch_exceptions=False)
        if expect is not None:
            assert result.exit_code == expect, (args, result.output)
        return result

    return run


def test_the_writer_records_and_promotes_but_cannot_rewrite_history(
        roles, pg_cli, project_dir, postgres_url, monkeypatch):
    prefix, logins = roles
    with trimtab.connect(project_dir, database_url=postgres_url) as ws:
        first, _ = ws.release(SYSTEM)  # history the writer must not touch
        promote_through(ws, SYSTEM, first.id, "staging")
    out = pg_cli("db", "roles", "--prefix", prefix, "--writer", logins["writer"],
                 "--reader", logins["reader"], "--json").stdout
    plan = json.loads(out)
    assert plan["created"] == [f"{prefix}_owner", f"{prefix}_writer", f"{prefix}_reader"]
    assert plan["members"] == {f"{prefix}_writer": [logins["writer"]],
                               f"{prefix}_reader": [logins["reader"]]}
    writer_url = as_login(postgres_url, logins["writer"])

    # Ordinary work through the writer: release, promote, record, a two-person approval.
    with open(project_dir / "trimtab.yaml", "a") as handle:
        handle.write("policies:\n  production:\n    approvals: 1\n")
    with trimtab.connect(project_dir, database_url=writer_url) as ws:
        (project_dir / "prompts" / "complaint-router.user.md").write_text("Report: {{text}}\n")
        second, _ = ws.release(SYSTEM)
        ws.promote(SYSTEM, second.id, "dev")
        ws.promote(SYSTEM, second.id, "staging")
        ws.rollback(SYSTEM, "staging")
        call = ws.record(SYSTEM, {"text": "seal leaks"}, {"team": "packaging"}, 9.0,
                         user="u-1")
        assert ws.flush()
        assert ws.call(call).user_id == "u-1"
        as_user(monkeypatch, "requester@example.com")
        request = ws.promote(SYSTEM, first.id, "production")
        as_user(monkeypatch, "approver@example.com")
        done, deployment = ws.approve(request.id)
        assert done.state == "applied" and deployment is not None
        assert ws.active_release(SYSTEM, "production").id == first.id
        # An incident's freeze and legal hold: placed, lifted and ended by the writer.
        made = ws.open_incident(SYSTEM, severity="critical", summary="outage")
        ws.unfreeze_incident(made.id, reason="contained")
        ws.close_incident(made.id, root_cause="x", actions="y")
        assert ws.holds()[0][0].until is not None
        assert ws.verify_audit().ok

    writer = create_engine(writer_url)
    for statement in (
        "UPDATE audit SET actor = 'someone-else'",
        "DELETE FROM audit",
        "TRUNCATE audit",
        "UPDATE deployments SET release_id = release_id",
        "DELETE FROM deployments",
        "UPDATE releases SET note = 'rewritten'",
        "DELETE FROM releases",
        "DELETE FROM approval_requests",
        "UPDATE approval_requests SET release_id = release_id",
        "UPDATE approval_requests SET requested_by = 'me'",
        "DELETE FROM approval_votes",
        "UPDATE approval_votes SET approver = 'me'",
        "DELETE FROM audit_head",
        "DELETE FROM freezes",
        "UPDATE freezes SET pinned = '{}'",
        "DELETE FROM legal_holds",
        "UPDATE legal_holds SET since = now()",
        "UPDATE alembic_version SET version_num = '0001'",
        "DROP TABLE audit",
    ):
        assert ("permission denied" in refused(writer, statement)
                or "must be owner" in refused(writer, statement)), statement
    with writer.connect() as conn:  # the working tables stay the writer's
        assert conn.execute(text("DELETE FROM calls WHERE id = :i"), {"i": call}).rowcount == 1
        conn.rollback()
    writer.dispose()

    reader = create_engine(as_login(postgres_url, logins["reader"]))
    with reader.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit")).scalar() > 5
    assert "permission denied" in refused(
        reader, "INSERT INTO calls (id) VALUES ('x')")
    assert "permission denied" in refused(reader, "DELETE FROM calls")
    reader.dispose()

    # Idempotent, and audited each time.
    again = json.loads(pg_cli("db", "roles", "--prefix", prefix, "--json").stdout)
    assert again["created"] == [] and again["tables"] == plan["tables"]
    entries = json.loads(pg_cli("audit", "log", "--action", "db.roles", "--json").stdout)
    assert [e["payload"]["writer"] for e in entries] == [f"{prefix}_writer"] * 2
    assert "ok" in pg_cli("audit", "verify").stdout


def test_db_roles_needs_a_trimtab_admin_and_an_existing_login(
        roles, pg_cli, monkeypatch):
    prefix, logins = roles
    with_users(pg_cli, monkeypatch)
    as_user(monkeypatch, "approver@example.com")
    result = pg_cli("db", "roles", "--prefix", prefix, expect=2)
    assert "not allowed" in result.output and "db.roles needs admin" in result.output
    as_user(monkeypatch, "admin@example.com")
    result = pg_cli("db", "roles", "--prefix", prefix, "--writer", f"{prefix}_nobody",
                    expect=2)
    assert f"--writer '{prefix}_nobody': no such PostgreSQL role" in result.output
    result = pg_cli("db", "roles", "--prefix", "Bad-Prefix", expect=2)
    assert "--prefix 'Bad-Prefix' is not a usable role name prefix" in result.output


def test_a_login_without_createrole_is_told_what_to_run_as(roles, pg_cli, postgres_url,
                                                          monkeypatch):
    prefix, logins = roles
    pg_cli("db", "roles", "--prefix", prefix, "--writer", logins["writer"])
    monkeypatch.setenv("TRIMTAB_DATABASE_URL", as_login(postgres_url, logins["writer"]))
    result = pg_cli("db", "roles", "--prefix", prefix, expect=2)
    assert "PostgreSQL refused" in result.output and "superuser" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_on_sqlite_it_explains_it_is_for_postgresql(cli):
    result = cli("db", "roles", expect=2)
    assert "`trimtab db roles` is for PostgreSQL" in result.output


def test_a_writer_cannot_migrate_and_is_told_who_can(roles, pg_cli, postgres_url, project_dir):
    from alembic.script import ScriptDirectory

    from trimtab.store.engine import HEAD_REVISION, MIGRATIONS

    prefix, logins = roles
    pg_cli("db", "roles", "--prefix", prefix, "--writer", logins["writer"])
    script = ScriptDirectory(str(MIGRATIONS))
    previous = script.get_revision(HEAD_REVISION).down_revision
    admin = _admin(postgres_url)
    with admin.connect() as conn:  # as if this trimtab were newer than the schema
        conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": previous})
    with pytest.raises(trimtab.TrimtabError) as caught:
        trimtab.Store(as_login(postgres_url, logins["writer"]))
    message = str(caught.value)
    assert f"at {previous} and this trimtab needs {HEAD_REVISION}" in message
    assert "run `trimtab db upgrade` with the owner's TRIMTAB_DATABASE_URL" in message
    with admin.connect() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": HEAD_REVISION})
    admin.dispose()
