"""A silent partition between the recorder's writer and PostgreSQL (its connections stop
answering, new ones work) is noticed and logged within seconds, and the writer goes on
on fresh connections: every call recorded during the partition is stored."""

from __future__ import annotations

import pytest

import trimtab
from tests.helpers.tcp_proxy import bounded, proxied
from tests.recorder.test_recorder_writer import call, stored_ids
from trimtab.recorder.recorder import Recorder


@pytest.mark.parametrize("writer", ["thread", "process"])
def test_calls_recorded_during_a_partition_are_all_stored(postgres_url, tmp_path, writer,
                                                          caplog, capfd):
    trimtab.Store(postgres_url).dispose()  # migrated directly, before the partition
    with proxied(postgres_url, trimtab_stall_timeout="1") as (proxy, url):
        recorder = Recorder(trimtab.Store(url, migrate=False), tmp_path / "spool",
                            writer=writer, interval=0.05)
        ids = [recorder.record(call(i)) for i in range(50)]
        assert recorder.flush(timeout=20)  # the writer holds a connection now
        assert proxy.freeze() >= 1
        ids += [recorder.record(call(i)) for i in range(50, 250)]  # answered meanwhile
        took, flushed = bounded(lambda: recorder.flush(timeout=30), 40)
        assert flushed is True and took < 15, f"not stored within {took:.1f}s"
        assert sorted(stored_ids(postgres_url)) == sorted(ids)  # still partitioned: all in
        assert recorder.stats()["written"] == 250
        assert recorder.stats()["quarantined"] == 0  # a lost connection is not a bad row
        recorder.close()
    # The writer (a thread here, or its own process writing to stderr) said so.
    assert "a store connection stopped answering" in caplog.text + capfd.readouterr().err
