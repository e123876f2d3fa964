"""The recorder's fast path keeps every total exact.

The writer remembers its own rollup rows instead of reading them before each
update, and writes each batch with one statement. These tests hold it to a
recount from scratch after failures, forgotten buckets and replays, on both
databases, and check that spool lines written by trimtab 0.1.0 still replay.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

import trimtab
from trimtab.recorder.recorder import Recorder
from trimtab.recorder.records import COLUMN, CallRecord, values_from_spool
from trimtab.store import calls as call_store
from trimtab.store import rollups as rollup_store
from trimtab.store.latency_sketch import LatencySketch
from trimtab.store.schema.call_log import rollups

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def records(n: int, *, seed: int, start: datetime = START, span: timedelta = timedelta(hours=5)):
    rng = random.Random(seed)
    return [
        CallRecord(
            system=rng.choice(["router", "drafter"]), env="production",
            latency_ms=round(rng.lognormvariate(5, 0.7), 3),
            status="error" if rng.random() < 0.1 else "ok",
            time=start + span * rng.random(), model=rng.choice(["small", "large"]),
            release_id=rng.choice(["r1", "r2"]), input_tokens=rng.randint(1, 500),
            output_tokens=rng.randint(0, 200),
            cost_micro_usd=None if rng.random() < 0.05 else rng.randint(1, 900),
            user_id=rng.choice([None, "ann", "bob", "cyd"]),
            tags=rng.choice([None, {"team": "ops"}, {"team": "sales", "tier": "gold"}]),
            request={"messages": [{"role": "user", "content": f"question {i}"}]},
        )
        for i in range(n)
    ]


def rows_of(batch: list[CallRecord]) -> list[list]:
    return [values_from_spool(r.to_line()) for r in batch]


def stored_rollups(store, writer: str) -> dict[tuple, tuple]:
    with store.read() as conn:
        found = conn.execute(select(rollups).where(rollups.c.writer == writer)).all()
    return {tuple(r._mapping[c] for c in rollup_store.KEY): (
        r.calls, r.input_tokens, r.output_tokens, r.cost_micro_usd, r.cost_unknown,
        LatencySketch.from_json(r.sketch).buckets) for r in found}


def recount(rows: list[list]) -> dict[tuple, tuple]:
    return {key: (t.calls, t.input_tokens, t.output_tokens, t.cost_micro_usd, t.cost_unknown,
                  t.sketch.buckets) for key, t in rollup_store.aggregate(rows).items()}


def write(store, writer, rows, *, fail_after_commit=False):
    """One recorder batch: calls and rollups in one transaction."""
    try:
        with store.ingest() as conn:
            inserted = call_store.insert_many(conn, rows)
            writer.apply(conn, [r for r in rows if r[COLUMN["id"]] in inserted])
    except Exception:
        writer.failed()
        raise
    if fail_after_commit:  # committed, but the reply was lost: the writer cannot know
        writer.failed()
    else:
        writer.committed()


def test_rollups_match_a_recount_after_many_batches(database_url):
    store = trimtab.Store(database_url)
    writer = rollup_store.RollupWriter("w-many")
    all_rows = rows_of(records(600, seed=1))
    for i in range(0, 600, 70):
        write(store, writer, all_rows[i:i + 70])
    assert stored_rollups(store, "w-many") == recount(all_rows)
    with store.read() as conn:
        assert call_store.count(conn) == 600


def test_a_failed_transaction_is_read_back_not_trusted(database_url):
    store = trimtab.Store(database_url)
    writer = rollup_store.RollupWriter("w-fail")
    first, second, third, fourth = (rows_of(records(120, seed=s)) for s in (2, 3, 4, 5))
    write(store, writer, first)
    write(store, writer, second, fail_after_commit=True)  # in the database after all
    with pytest.raises(RuntimeError):
        with store.ingest() as conn:  # really rolled back
            writer.apply(conn, third)
            raise RuntimeError("connection dropped")
    writer.failed()
    write(store, writer, fourth)
    assert stored_rollups(store, "w-fail") == recount(first + second + fourth)


def test_forgotten_buckets_are_read_back_when_late_calls_arrive(database_url):
    store = trimtab.Store(database_url)
    writer = rollup_store.RollupWriter("w-evict", max_rows=40)
    early = rows_of(records(200, seed=6))
    later = rows_of(records(200, seed=7, start=START + timedelta(days=3)))
    late = rows_of(records(150, seed=8))  # the first window again: evicted by now
    for batch in (early[:100], early[100:], later, late):
        write(store, writer, batch)
    assert len(writer._rows) <= 40
    assert stored_rollups(store, "w-evict") == recount(early + later + late)


def test_a_writer_that_is_not_new_reads_before_it_writes(database_url):
    store = trimtab.Store(database_url)
    first, second = rows_of(records(150, seed=9)), rows_of(records(150, seed=10))
    write(store, rollup_store.RollupWriter("w-shared"), first)
    write(store, rollup_store.RollupWriter("w-shared", new=False), second)
    assert stored_rollups(store, "w-shared") == recount(first + second)


def test_spool_lines_round_trip_to_the_stored_row():
    record = CallRecord(
        system="router", env="production", latency_ms=12.5, model="small",
        tags={"team": "qa"}, attempts=[{"provider": "p", "status": 200}],
        request={"text": "Grüße, naïve café", "at": datetime(2026, 1, 2, tzinfo=UTC)},
        response="a plain string stays as it is",
    )
    row = dict(zip(COLUMN, values_from_spool(record.to_line()), strict=True))
    assert row["time"] == record.time and row["id"] == record.id
    assert json.loads(row["request"]) == {"text": "Grüße, naïve café",
                                          "at": "2026-01-02 00:00:00+00:00"}
    assert "Grüße" in row["request"]  # stored as UTF-8 text, not \\u escapes
    assert row["response"] == "a plain string stays as it is"
    assert json.loads(row["tags"]) == {"team": "qa"}
    assert json.loads(row["attempts"]) == [{"provider": "p", "status": 200}]
    with pytest.raises(ValueError):
        values_from_spool(b'[99, "a format from the future"]')


def test_spool_lines_written_by_trimtab_0_1_0_are_replayed(database_url, tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    old = CallRecord(system="router", env="production", latency_ms=3.0, user_id="ann",
                     request={"q": "Grüße"}, tags={"team": "qa"})
    data = {**vars(old), "time": old.time.isoformat()}  # 0.1.0: one JSON object per line
    (spool / "old-host-1-x.jsonl").write_text(json.dumps(data, separators=(",", ":")) + "\n")
    store = trimtab.Store(database_url)
    recorder = Recorder(store, spool)
    assert recorder.flush(timeout=30)
    assert recorder.stats()["written"] == 1 and recorder.stats()["corrupt"] == 0
    recorder.close()
    stored = trimtab.connect(database_url=database_url).call(old.id)
    assert json.loads(stored.request) == {"q": "Grüße"} and stored.user_id == "ann"


def test_times_in_any_zone_are_stored_as_the_same_instant(database_url):
    store = trimtab.Store(database_url)
    writer = rollup_store.RollupWriter("w-zones")
    cest = timezone(timedelta(hours=2))
    made = [CallRecord(system="router", env="production", latency_ms=5.0,
                       time=datetime(2026, 6, 1, 11, 30, 15, 250000, tzinfo=cest)),
            CallRecord(system="router", env="production", latency_ms=5.0,
                       time=datetime(2026, 6, 1, 9, 30, 15, tzinfo=UTC))]
    write(store, writer, rows_of(made))
    ws = trimtab.connect(database_url=database_url)
    assert ws.call(made[0].id).time == datetime(2026, 6, 1, 9, 30, 15, 250000, tzinfo=UTC)
    assert ws.call(made[1].id).time == made[1].time
    assert {k[1] for k in stored_rollups(store, "w-zones") if k[0] == "m"} == {
        datetime(2026, 6, 1, 9, 30, tzinfo=UTC)}


def test_inserting_a_batch_that_meets_stored_ids_returns_only_the_new_ones(database_url):
    store = trimtab.Store(database_url)
    rows = rows_of(records(300, seed=11))
    with store.ingest() as conn:
        assert call_store.insert_many(conn, rows[:120]) == {r[0] for r in rows[:120]}
    with store.ingest() as conn:  # a replay: 120 stored, 180 new, one new id twice
        inserted = call_store.insert_many(conn, rows + [rows[200]])
    assert inserted == {r[0] for r in rows[120:]}
    with store.read() as conn:
        assert call_store.count(conn) == 300
