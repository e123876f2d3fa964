"""A record the store refuses (a value its column cannot hold) never stops the writer:
the batch is split until that row stands alone, the rest is stored, and the refused
record goes to the spool's dead-letter file, logged and counted."""

from __future__ import annotations

import json
import stat
from dataclasses import replace

import pytest

import trimtab
from tests.recorder.test_recorder_writer import call, stored_ids
from trimtab.recorder.recorder import Recorder


@pytest.mark.parametrize(("poison", "writer"), [
    pytest.param({"model": ["not", "text"]}, "thread", id="a-list-in-a-text-column"),
    pytest.param({"input_tokens": 2**63}, "process", id="an-integer-past-its-column"),
])
def test_a_row_the_store_refuses_is_set_aside_and_the_rest_is_recorded(
        database_url, tmp_path, caplog, capfd, poison, writer):
    spool = tmp_path / "spool"
    recorder = Recorder(trimtab.Store(database_url), spool, writer=writer)
    good = [recorder.record(call(i)) for i in range(10)]
    bad = recorder.record(replace(call(99), **poison))
    good += [recorder.record(call(i)) for i in range(10, 20)]
    assert recorder.flush(timeout=20), "the writer is stuck on the refused row"
    good += [recorder.record(call(i)) for i in range(20, 25)]  # and goes on afterwards
    assert recorder.flush(timeout=20)
    assert sorted(stored_ids(database_url)) == sorted(good)
    stats = recorder.stats()
    assert stats["quarantined"] == 1 and stats["written"] == 25 and stats["duplicates"] == 0
    recorder.close()
    [line] = (spool / "dead-letter" / "calls.jsonl").read_bytes().splitlines()
    entry = json.loads(line)
    assert entry["call_id"] == bad and entry["error"] and entry["time"]
    assert entry["record"][1:4] == ["complaint-router", "production", 109.0]  # replayable
    assert stat.S_IMODE((spool / "dead-letter" / "calls.jsonl").stat().st_mode) == 0o600
    said = caplog.text + capfd.readouterr().err
    assert f"the store refused 1 call record(s) (latest: call {bad}" in said
