"""The chart series summed per step by the database gives exactly what the
row-by-row sum it replaced gave (kept here as the reference)."""

import random
from datetime import UTC, datetime, timedelta

import orjson
import pytest

import trimtab
from trimtab.recorder.recorder import Recorder
from trimtab.recorder.records import CallRecord
from trimtab.store import rollup_series
from trimtab.store.rollups import STEP, _add, _rows, _summed, ceil, floor_to
from trimtab.store.schema.call_log import rollups


def reference_series(conn, start, end, step, *, system=None, env=None):
    """rollups.series before the database summed it: every row fetched and added here."""
    resolution = "h" if step % STEP["h"] == timedelta(0) else "m"
    start = floor_to(start, step)
    end = ceil(end, resolution)
    groups: dict[datetime, list] = {}
    for row in conn.execute(_rows([rollups.c.bucket], resolution, "", start, end, system, env)):
        key = start + (row[0] - start) // step * step
        acc = groups.get(key)
        if acc is None:
            acc = groups[key] = [0, 0, 0, 0, 0, 0, {}, 0, 0.0, 0.0]
        _add(acc, row[1:], orjson.loads)
    return [(key, _summed(groups[key])) for key in sorted(groups)]


@pytest.fixture
def store(database_url, tmp_path):
    """700 calls over the last 30 hours: two systems, two envs, three models, errors,
    unpriced calls, latencies from under a millisecond to minutes."""
    store = trimtab.Store(database_url)
    recorder = Recorder(store, tmp_path / "spool")
    rng = random.Random(5)
    now = datetime.now(UTC)
    for i in range(700):
        recorder.record(CallRecord(
            system="complaint-router" if i % 3 else "customer-triage",
            env="production" if i % 4 else "staging", model=f"sim-{i % 3}",
            latency_ms=rng.choice((0.4, 3.0)) if i % 37 == 0 else rng.lognormvariate(5, 1.2),
            status="error" if i % 9 == 0 else "ok",
            time=now - timedelta(seconds=rng.uniform(0, 30 * 3600)),
            input_tokens=rng.randrange(10, 500), output_tokens=rng.randrange(1, 90),
            cost_micro_usd=None if i % 40 == 0 else rng.randrange(1, 900),
            user_id=f"user-{i % 7}"))
    assert recorder.flush()
    recorder.close()
    yield store
    store.dispose()


def _numbers(found):
    return [(moment, t.calls, t.errors, t.input_tokens, t.output_tokens, t.cost_micro_usd,
             t.cost_unknown, t.sketch.buckets, t.sketch.count, t.sketch.max)
            for moment, t in found]


@pytest.mark.parametrize("window, step", [
    (timedelta(hours=1), timedelta(minutes=1)), (timedelta(hours=6), timedelta(minutes=5)),
    (timedelta(hours=24), timedelta(minutes=15)), (timedelta(days=2), timedelta(hours=1)),
    (timedelta(days=3), timedelta(hours=6)), (timedelta(days=3), timedelta(days=1))])
def test_the_database_summed_series_matches_the_row_by_row_one(store, window, step):
    end = datetime.now(UTC) + timedelta(minutes=1)
    for where in ({}, {"system": "complaint-router"}, {"system": "customer-triage",
                                                       "env": "staging"}, {"env": "production"}):
        with store.read() as conn:
            old = reference_series(conn, end - window, end, step, **where)
            new = rollup_series.series(conn, end - window, end, step, **where)
        assert old, where
        assert _numbers(new) == _numbers(old), where
        for (_, a), (_, b) in zip(old, new, strict=True):
            assert b.sketch.total == pytest.approx(a.sketch.total, rel=1e-12)
            assert [b.sketch.quantile(q) for q in (0.5, 0.95, 0.99)] == [
                a.sketch.quantile(q) for q in (0.5, 0.95, 0.99)]


def test_a_series_refuses_a_step_of_part_minutes_and_is_empty_without_calls(store):
    now = datetime.now(UTC)
    with store.read() as conn, pytest.raises(ValueError, match="whole minutes"):
        rollup_series.series(conn, now - timedelta(hours=1), now, timedelta(seconds=90))
    with store.read() as conn:
        assert rollup_series.series(conn, now - timedelta(hours=1), now, timedelta(minutes=1),
                                    system="no-such-system") == []
