"""Store.reading(): the reads of a dashboard page share one connection."""

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError

import trimtab


@pytest.fixture
def store(database_url):
    store = trimtab.Store(database_url)
    yield store
    store.dispose()


def _checkouts(store) -> list:
    found = []
    event.listen(store.engine, "checkout", lambda *args: found.append(1))
    return found


def test_reads_in_a_block_share_one_connection(store):
    checkouts = _checkouts(store)
    with store.reading():
        with store.read() as first:
            first.execute(text("SELECT 1"))
        with store.read() as second:
            with store.reading():  # nested: the same connection still
                with store.read() as third:
                    assert third is second
        assert first is second
    assert len(checkouts) == 1
    with store.read() as conn:  # outside the block: a read of its own
        assert conn is not first
    assert len(checkouts) == 2


def test_a_failed_read_does_not_fail_the_reads_after_it(store):
    with store.reading():
        with pytest.raises(DBAPIError), store.read() as conn:
            conn.execute(text("SELECT * FROM no_such_table"))
        with store.read() as conn:
            assert conn.execute(text("SELECT count(*) FROM systems")).scalar() == 0


def test_a_read_after_a_write_in_the_block_sees_it(store):
    with store.write() as conn:
        conn.execute(text("CREATE TABLE shared_reads_probe (x INTEGER)"))
    with store.reading():
        with store.read() as conn:
            assert conn.execute(text("SELECT count(*) FROM shared_reads_probe")).scalar() == 0
        with store.write() as conn:
            conn.execute(text("INSERT INTO shared_reads_probe VALUES (1)"))
        with store.read() as conn:
            assert conn.execute(text("SELECT count(*) FROM shared_reads_probe")).scalar() == 1
