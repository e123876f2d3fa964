"""A full disk under the call spool, for real (a small tmpfs): a write the disk can
take only in part is undone, so the torn line never swallows the next good record;
a dropped record is counted and logged at a rate limit, or refused when required."""

from __future__ import annotations

import logging

import pytest

import trimtab
from tests.helpers.small_disk import fill, small_disk
from trimtab.recorder.recorder import Recorder
from trimtab.recorder.records import CallRecord


def call(i: int, text: str = "") -> CallRecord:
    return CallRecord(system="complaint-router", env="production", latency_ms=12.5,
                      model="sim-router-1",
                      request={"messages": [{"role": "user", "content": f"complaint {i} {text}"}]},
                      response={"text": f"answer {i}"})


def test_a_short_write_is_undone_and_the_next_record_lands_whole(database_url, tmp_path,
                                                                 caplog):
    caplog.set_level(logging.ERROR, "trimtab.recorder.recorder")
    with small_disk(tmp_path / "spool", "256k") as spool:
        recorder = Recorder(trimtab.Store(database_url), spool)
        first = recorder.record(call(1))
        assert recorder.flush(timeout=30)
        [segment] = spool.glob("*.jsonl")
        size = segment.stat().st_size
        assert size % 4096, "the segment's last page must have room left: a short write"
        filler = fill(spool)
        # Bigger than the room left in the segment's last page: the kernel takes a part.
        big = recorder.record(call(2, "x" * 20_000))
        assert segment.stat().st_size == size  # the torn part was cut off again
        more = [recorder.record(call(i, "x" * 20_000)) for i in range(3, 6)]
        with pytest.raises(trimtab.RecordingUnavailable, match="cannot write the call spool"):
            recorder.record(call(6, "x" * 20_000), required=True)
        assert segment.stat().st_size == size
        assert recorder.stats()["dropped"] == 5 and not recorder.writable()
        assert recorder.health()["status"] == "degraded"
        # Five drops within the rate limit: one log line, which says what happened.
        drops = [r for r in caplog.records if "dropped" in r.getMessage()]
        assert len(drops) == 1 and "No space left on device" in drops[0].getMessage()

        filler.unlink()
        assert recorder.writable()
        after = recorder.record(call(7))
        assert recorder.flush(timeout=30)
        stats = recorder.stats()
        recorder.close()
    stored = {c.id for c in trimtab.connect(database_url=database_url).calls(limit=50)}
    assert stored == {first, after}
    assert big not in stored and not set(more) & stored
    assert stats["corrupt"] == 0 and stats["dropped"] == 5
