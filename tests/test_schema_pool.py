"""The PostgreSQL schemas tests share (tests/helpers/pg_schemas.py) come back as new."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

import trimtab
from tests.conftest import PG_ENV, _pg_base
from tests.helpers import eventually
from tests.helpers.pg_schemas import SchemaPool, tidy_catalog
from trimtab.store.engine import HEAD_REVISION


@pytest.fixture
def pool():
    if not os.environ.get(PG_ENV):
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (CI sets it)")
    pool = SchemaPool(_pg_base())
    yield pool
    pool.close()


def _exists(pool, schema) -> bool:
    with pool.admin.connect() as conn:
        return conn.execute(text("SELECT to_regnamespace(:s) IS NOT NULL"), {"s": schema}).scalar()


def test_a_used_schema_comes_back_empty_at_head_with_its_seed_rows(pool, project_dir):
    schema = pool.take()
    with trimtab.connect(project_dir, database_url=pool.url(schema)) as ws:
        release, _ = ws.release("complaint-router")
        ws.promote("complaint-router", release.id, "dev")
        assert ws.verify_audit().ok
    pool.give_back(schema)
    assert len(pool.free) == 1
    assert not _exists(pool, schema)  # renamed: a straggler finds nothing under the old name

    again = pool.take()
    with trimtab.connect(project_dir, database_url=pool.url(again)) as ws:
        assert ws.audit_log() == []
        release, _ = ws.release("complaint-router")  # the chain starts from its genesis again
        ws.promote("complaint-router", release.id, "dev")
        assert ws.verify_audit().ok
    engine = create_engine(pool.url(again))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() \
            == HEAD_REVISION
    engine.dispose()
    pool.give_back(again)


def test_a_schema_is_reused_again_and_again_under_each_new_name(pool, project_dir):
    """Function definitions name their schema: a fingerprint that hashed them with the
    name in it took a renamed schema for a changed one, so each was reused once."""
    schema = pool.take()
    for _ in range(4):
        with trimtab.connect(project_dir, database_url=pool.url(schema)) as ws:
            release, _ = ws.release("complaint-router")
            ws.promote("complaint-router", release.id, "dev")
        pool.give_back(schema)
        assert len(pool.free) == 1, "the schema was dropped instead of reused"
        schema = pool.take()
    pool.give_back(schema)


@pytest.mark.parametrize("change", [
    "CREATE TABLE leftover (id int)",
    "ALTER TABLE calls ADD COLUMN leftover int",
    "CREATE INDEX leftover ON calls (model)",
    "GRANT USAGE ON SCHEMA {schema} TO PUBLIC",
    "CREATE FUNCTION leftover() RETURNS int AS 'SELECT 1' LANGUAGE sql",
    "ALTER TABLE audit DISABLE TRIGGER USER",
    "GRANT UPDATE (name) ON identities TO PUBLIC",
    "ALTER TABLE calls ENABLE ROW LEVEL SECURITY",
    "UPDATE alembic_version SET version_num = '0001'",
    "DELETE FROM audit_head",
])
def test_a_schema_a_test_changed_is_dropped_not_reused(pool, change):
    schema = pool.take()
    engine = create_engine(pool.url(schema))
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))  # past the triggers
        conn.execute(text(change.format(schema=f'"{schema}"')))
    engine.dispose()
    pool.give_back(schema)
    if change.startswith(("UPDATE", "DELETE")):
        # Rows are not the catalog: emptying restores the seeded ones exactly.
        assert len(pool.free) == 1
        engine = create_engine(pool.url(pool.free[0]))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() \
                == HEAD_REVISION
            assert conn.execute(text("SELECT count(*) FROM audit_head")).scalar() == 1
        engine.dispose()
    else:
        assert pool.free == []
        assert not _exists(pool, schema)


def test_a_catalog_full_of_dead_rows_is_vacuumed_once(pool):
    """Where autovacuum is off, every dropped schema stays behind as dead catalog rows."""
    tidy_catalog(pool.base_url)  # start from a tidy catalog
    schema = pool.create_empty()
    columns = ", ".join(f"c{i} int" for i in range(1500))
    with pool.admin.connect() as conn:
        live = conn.execute(text("SELECT n_live_tup FROM pg_stat_sys_tables "
                                 "WHERE relname = 'pg_attribute'")).scalar()
        for _ in range(live // 1500 + 20):
            conn.execute(text(f'CREATE TABLE "{schema}".wide ({columns})'))
            conn.execute(text(f'DROP TABLE "{schema}".wide'))
    pool.drop(schema)

    def dead_rows_counted():  # backends report to the statistics within a second or so
        with pool.admin.connect() as conn:
            return conn.execute(text("SELECT n_dead_tup FROM pg_stat_sys_tables "
                                     "WHERE relname = 'pg_attribute'")).scalar() > live

    eventually(dead_rows_counted, timeout=10)
    assert tidy_catalog(pool.base_url) > live
    assert tidy_catalog(pool.base_url) == 0


def test_a_schema_with_a_write_still_in_flight_is_dropped_not_reused(pool):
    """A session the test left behind, mid-transaction: its row must never reach the
    next test, so the reset waits for its lock (2 s), gives up and drops the schema."""
    schema = pool.take()
    straggler = create_engine(pool.url(schema))
    conn = straggler.connect()
    conn.execute(text("INSERT INTO identities (name, created_at, created_by) "
                      "VALUES ('leftover', now(), 'x')"))  # not committed
    pool.give_back(schema)  # waits 2 s to reset, 5 s to drop, then ends the straggler
    assert pool.free == [] and not _exists(pool, schema)
    with pytest.raises(DBAPIError):  # its session was ended: the row never lands
        conn.execute(text("COMMIT"))
    conn.close()
    straggler.dispose()
