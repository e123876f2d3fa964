"""`trimtab db copy`: every table to another database and back, same rows, same
audit hashes; an empty target only; atomic (a copy that stops leaves nothing)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, func, insert, select, text

import trimtab
from tests.helpers import promote_through
from trimtab.store import Store
from trimtab.store.copy import copy_store, tables
from trimtab.store.schema import metadata
from trimtab.store.schema.call_log import calls

SYSTEM = "complaint-router"
BULK_CALLS = 1_000  # bench/db_copy.py copies 100,000


@pytest.fixture
def target_url(request, database_url, tmp_path):
    """The other dialect where the run has both: SQLite → PostgreSQL, PostgreSQL → SQLite."""
    if database_url.startswith("sqlite") and os.environ.get("TRIMTAB_TEST_DATABASE_URL"):
        return request.getfixturevalue("postgres_url")
    return f"sqlite:///{tmp_path / 'target.db'}"


def fill(ws, n_calls: int = BULK_CALLS) -> None:
    """Releases, deployments, audit, keys, recorded calls and rollups, then bulk calls."""
    release, _ = ws.release(SYSTEM)
    promote_through(ws, SYSTEM, release.id, "production")
    key, _ = ws.create_key("ci", env="production")
    for i in range(3):
        ws.record(SYSTEM, {"text": f"ticket {i}"}, {"team": "billing"}, 5.0 + i,
                  env="production", tags={"ticket": f"T-{i}"}, api_key_id=key.id)
    assert ws.flush(10)
    with ws.store.read() as conn:
        model = dict(conn.execute(select(calls).limit(1)).one()._mapping)
    rows = [{**model, "id": f"bulk{i:012d}", "time": model["time"] - timedelta(seconds=i),
             "latency_ms": float(i % 500)} for i in range(n_calls)]
    with ws.store.ingest() as conn:
        conn.execute(insert(calls), rows)


def dump(url: str) -> dict[str, list[tuple]]:
    engine = create_engine(Store(url).url)
    with engine.connect() as conn:
        out = {t.name: [tuple(row) for row in conn.execute(
            select(t).order_by(*t.primary_key.columns))] for t in tables()}
    engine.dispose()
    return out


def test_every_table_is_copied_both_ways_with_the_audit_chain_intact(
        ws, cli, database_url, target_url, tmp_path, monkeypatch):
    fill(ws)
    source = dump(database_url)
    assert len(source["calls"]) == BULK_CALLS + 3 and source["audit"] and source["api_keys"]
    dimension = [c.name for c in metadata.tables["rollups"].columns].index("dimension")
    assert {row[dimension] for row in source["rollups"]} >= {"", "key", "tag:ticket"}

    out = json.loads(cli("db", "copy", "--to", target_url, "--json").stdout)
    assert list(out["rows"]) == [t.name for t in metadata.sorted_tables]  # none forgotten
    assert set(out["rows"]) == set(metadata.tables)
    assert dump(target_url) == source
    with trimtab.connect(ws.project.root, database_url=target_url) as copied:
        chain = copied.verify_audit()
        assert chain.ok and chain.entries == len(source["audit"])
        assert chain.head_hash == ws.verify_audit().head_hash
    if target_url.startswith("postgresql"):  # ids go on after the copied ones
        engine = create_engine(Store(target_url).url)
        with engine.connect() as conn:
            for name in ("systems", "deployments"):
                top = conn.execute(text(f"SELECT MAX(id) FROM {name}")).scalar()
                following = conn.execute(text(
                    f"SELECT nextval(pg_get_serial_sequence('{name}', 'id'))")).scalar()
                assert following == top + 1
        engine.dispose()

    back = f"sqlite:///{tmp_path / 'back.db'}"
    monkeypatch.setenv("TRIMTAB_DATABASE_URL", back)
    cli("db", "copy", "--from", target_url)
    assert dump(back) == source


def test_a_non_empty_target_is_refused_and_nothing_is_copied(ws, cli, tmp_path):
    fill(ws, n_calls=10)
    target = f"sqlite:///{tmp_path / 'busy.db'}"
    with trimtab.connect(ws.project.root, database_url=target) as other:
        other.release(SYSTEM)
    before = dump(target)
    error = cli("db", "copy", "--to", target, expect=2).output
    assert "is not empty: audit (2 rows), systems (1 rows), releases (1 rows). " \
        "Nothing was copied." in error
    assert dump(target) == before
    assert "give one of --to URL" in cli("db", "copy", expect=2).output


KILLER = """
import os, signal, sys
from trimtab.store import Store
from trimtab.store.copy import copy_store

def kill(table, done, total):
    if table == "calls" and done:
        os.kill(os.getpid(), signal.SIGKILL)  # no rollback, no cleanup: a killed process

copy_store(Store(sys.argv[1]), Store(sys.argv[2]), progress=kill, batch=10)
"""


def test_a_killed_copy_leaves_the_target_empty_and_the_rerun_copies_everything(
        ws, database_url, target_url):
    fill(ws, n_calls=50)
    killed = subprocess.run([sys.executable, "-c", KILLER, database_url, target_url],
                            capture_output=True, timeout=60)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
    target = Store(target_url)
    with target.read() as conn:
        assert conn.execute(select(func.count()).select_from(calls)).scalar() == 0
    target.engine.dispose()
    assert copy_store(Store(database_url), Store(target_url)).rows["calls"] == 53
    assert dump(target_url) == dump(database_url)


def test_a_copy_while_writers_go_on_is_one_moment_and_its_chain_verifies(
        ws, project_dir, database_url, target_url):
    """On PostgreSQL the source was read at READ COMMITTED, a moment per table: a
    change made while the copy ran put audit_head past the audit rows already
    copied, so the copy's chain did not verify. The copy reads one snapshot."""
    fill(ws, 10)
    source = Store(ws.store.url)
    with trimtab.connect(project_dir, database_url=database_url) as other:
        def progress(table: str, done: int, total: int) -> None:
            if table == "audit_head" and done == 0:  # audit already copied
                other.open_incident(SYSTEM, severity="low", summary="during the copy")

        result = copy_store(source, Store(target_url), progress=progress)
    with trimtab.connect(project_dir, database_url=target_url) as copied:
        chain = copied.verify_audit()
        assert chain.ok, chain.problem
        assert chain.entries == result.rows["audit"] and not copied.incidents()
    assert ws.incidents()  # written, after the copy's moment
    source.dispose()
