"""The schema: Alembic builds it on both backends, and it matches the models."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

import trimtab
from trimtab.store.engine import HEAD_REVISION, alembic_head, current_revision
from trimtab.store.schema import metadata

#: Migrations start from an empty database, on PostgreSQL too (tests/conftest.py).
pytestmark = pytest.mark.empty_schema


def test_head_constant_matches_the_migration_scripts():
    assert HEAD_REVISION == alembic_head()


def test_empty_database_migrates_to_head_and_matches_the_models(database_url):
    store = trimtab.Store(database_url, migrate=False)
    assert current_revision(store) is None
    store = trimtab.Store(database_url)
    assert current_revision(store) == HEAD_REVISION
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
    store.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path):
    store = trimtab.Store(f"sqlite:///{tmp_path / 'x.db'}")
    with store.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_a_schema_newer_than_the_code_is_refused(database_url):
    store = trimtab.Store(database_url)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    with pytest.raises(trimtab.SchemaTooNewError, match="newer trimtab migrated it"):
        trimtab.Store(database_url)
    with store.engine.connect() as conn:  # and nothing was touched
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == \
            "9999_future"
        assert inspect(conn).has_table("audit")
    store.dispose()


def test_cli_refuses_a_newer_schema_with_exit_2(cli, database_url):
    cli("db", "upgrade")
    store = trimtab.Store(database_url)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    store.dispose()
    result = cli("status", expect=2)
    assert "9999_future" in result.output and "pip install -U trimtab" in result.output


def test_db_commands(cli):
    assert f"empty → {HEAD_REVISION}" in cli("db", "upgrade").stdout
    assert f"already at {HEAD_REVISION}" in cli("db", "upgrade").stdout
    expected = f"at {HEAD_REVISION}, code expects {HEAD_REVISION}"
    assert expected in cli("db", "current").stdout


def test_unreachable_postgres_is_a_clear_error():
    with pytest.raises(trimtab.TrimtabError, match="cannot reach the store") as info:
        trimtab.Store("postgresql://nobody:secret@127.0.0.1:1/none")
    assert "secret" not in str(info.value)


def test_unsupported_and_in_memory_urls_are_refused():
    with pytest.raises(trimtab.TrimtabError, match="unsupported database URL"):
        trimtab.Store("mysql://root@localhost/x")
    with pytest.raises(trimtab.TrimtabError, match="must be a file path"):
        trimtab.Store("sqlite://")


def test_default_store_lives_beside_the_project_file(project_dir):
    ws = trimtab.connect(project_dir)
    ws.release("complaint-router")
    assert (project_dir / ".trimtab" / "trimtab.db").is_file()


def test_no_project_and_no_url_is_a_clear_error(tmp_path):
    with pytest.raises(trimtab.TrimtabError, match="TRIMTAB_DATABASE_URL"):
        trimtab.connect().status()
    with pytest.raises(trimtab.TrimtabError, match="no such project file"):
        trimtab.connect(tmp_path / "nothing-here.yaml")


def test_0023_keeps_the_calls_of_a_store_at_0022_with_nulls_for_the_answer_columns(
        database_url):
    from datetime import UTC, datetime

    from trimtab.store.engine import upgrade

    store = trimtab.Store(database_url, migrate=False)
    upgrade(store, "0022")
    assert current_revision(store) == "0022"
    with store.engine.begin() as conn:
        assert "response_id" not in {c["name"] for c in inspect(conn).get_columns("calls")}
        for n in range(3):
            conn.execute(text(
                "INSERT INTO calls (id, time, system, env, source, route, status, latency_ms, "
                "attempt_count, fallback_used, logging_mode, response) VALUES (:id, :time, "
                "'complaint-router', 'production', 'sdk', 'primary', 'ok', 12.5, 1, :no, "
                "'full', :response)"),
                {"id": f"0old{n:028d}", "time": datetime(2026, 12, 1, 9, n, tzinfo=UTC)
                 .replace(tzinfo=None), "no": False, "response": f"answer {n}"})
    store.dispose()

    store = trimtab.Store(database_url)  # migrates to head on first use
    assert current_revision(store) == HEAD_REVISION
    from trimtab.store import calls

    with store.read() as conn:
        kept = calls.query(conn, limit=10)
    assert [c.response for c in kept] == ["answer 2", "answer 1", "answer 0"]
    assert {(c.response_id, c.finish_reasons, c.params) for c in kept} == {(None, None, None)}
    store.dispose()


@pytest.mark.parametrize("command", [["status"], ["audit", "verify"], ["db", "upgrade"],
                                     ["monitor"], ["gateway", "--port", "4999"],
                                     ["serve", "--port", "4999"]])
def test_every_entry_point_names_both_schemas_and_the_one_fix(cli, database_url, command):
    """`gateway` and `serve` wrapped the refusal in 'cannot read the store ... Fix: run
    `trimtab db upgrade`', advice that cannot work on a schema newer than the code."""
    cli("db", "upgrade")
    store = trimtab.Store(database_url)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    store.dispose()
    result = cli(*command, expect=2)
    assert "revision '9999_future', which trimtab" in result.output
    assert f"(schema {HEAD_REVISION}) does not know" in result.output
    assert "pip install -U trimtab" in result.output
    assert "db upgrade" not in result.output and "cannot read the store" not in result.output


def test_a_migration_that_fails_half_way_changes_nothing_and_says_which(database_url):
    """0024 applies, then 0025 meets an index made by hand: the store stays at 0023
    with 0024 undone too, and the error names 0025 and the fix, not a traceback."""
    from trimtab.store.engine import upgrade

    store = trimtab.Store(database_url, migrate=False)
    upgrade(store, "0023")
    with store.engine.begin() as conn:
        conn.execute(text("CREATE INDEX ix_rollups_resolution_dimension_system_bucket "
                          "ON rollups (resolution)"))
    with pytest.raises(trimtab.TrimtabError) as refused:
        trimtab.Store(database_url)
    message = str(refused.value)
    assert "from 0023 failed in migration 0025: " in message
    assert "ix_rollups_resolution_dimension_system_bucket" in message
    assert "the store is still at 0023" in message and "then run `trimtab db upgrade`" in message
    assert current_revision(store) == "0023"
    with store.engine.connect() as conn:  # 0024's columns were rolled back with it
        assert "monthly_budget_micro_usd" not in {c["name"] for c in
                                                  inspect(conn).get_columns("api_keys")}
    with store.engine.begin() as conn:  # the hand-made index gone, the upgrade goes through
        conn.execute(text("DROP INDEX ix_rollups_resolution_dimension_system_bucket"))
    trimtab.Store(database_url).dispose()
    assert current_revision(store) == HEAD_REVISION
    store.dispose()


def test_upgrades_run_at_once_queue_and_all_succeed(database_url):
    """Two deploy jobs running `trimtab db upgrade` at once: without the migration
    lock (only first use took it) the later ones failed on tables the first made."""
    import threading

    from trimtab.store.engine import upgrade

    stores = [trimtab.Store(database_url, migrate=False) for _ in range(3)]
    found, failed = [], []
    start = threading.Barrier(len(stores))

    def run(store):
        start.wait()
        try:
            found.append(upgrade(store))
        except Exception as exc:  # noqa: BLE001 - the test reports it
            failed.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not failed, failed
    assert sorted(found, key=str) == [HEAD_REVISION, HEAD_REVISION, None]  # one migrated
    assert current_revision(stores[0]) == HEAD_REVISION
    for store in stores:
        store.dispose()
