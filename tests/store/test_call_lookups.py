"""Call lookups stay on the index at scale: an id prefix is a key range, and the
log coverage the maturity checks read is a bounded sample with rollup totals."""

from datetime import UTC, datetime, timedelta

import pytest

from trimtab.errors import NotFound, TrimtabError
from trimtab.store import calls as call_store


def test_a_call_is_found_by_its_id_or_any_unique_prefix_and_only_by_those(ws):
    ids = [ws.record("complaint-router", {"text": "x"}, "ok", 5.0, user="u") for _ in range(3)]
    assert ws.flush()
    for ref in ids:
        assert ws.call(ref).id == ref
        assert ws.call(ref[:24].upper()).id == ref  # case does not matter
    assert ws.call(ids[0] + "").id == ids[0]
    with pytest.raises(TrimtabError, match="ambiguous"):
        ws.call(ids[0][:2])
    with pytest.raises(NotFound):
        ws.call(ids[0][:-1] + "g")  # not hex: no id starts with it
    with pytest.raises(NotFound):
        ws.call("zz%")


def test_coverage_over_its_sample_scales_the_shares_to_the_rollup_totals(ws, monkeypatch):
    start = datetime.now(UTC) - timedelta(hours=2)
    for i in range(12):  # the 4 oldest have no user or tags: not attributed
        ws.record("complaint-router", {"text": "x"}, "ok", 5.0, model="m",
                  cost_micro_usd=100, input_tokens=1, output_tokens=1,
                  user=None if i < 4 else "agent", time=start + timedelta(minutes=i))
    assert ws.flush()
    since = start - timedelta(minutes=1)
    with ws.store.read() as conn:
        whole = call_store.coverage(conn, "complaint-router", "production", since)
        monkeypatch.setattr(call_store, "COVERAGE_SAMPLE", 6)
        sampled = call_store.coverage(conn, "complaint-router", "production", since)
    assert (whole.calls, whole.attributed, whole.spend_micro_usd) == (12, 8, 1200)
    # The newest 6 are all attributed; calls and spend still count all 12.
    assert (sampled.calls, sampled.attributed, sampled.spend_micro_usd) == (12, 12, 1200)


def test_filters_the_indexes_cannot_serve_look_at_the_newest_scan_calls_only(ws):
    """A filter that matches nothing must not walk the whole call log: env, status,
    model, release and text look at the newest ``scan`` calls of the system and
    time range; narrowing the time range reaches older ones."""
    start = datetime.now(UTC) - timedelta(hours=1)
    for i in range(10):  # the two oldest failed, on another model
        ws.record("complaint-router", {"text": f"call {i}"}, "ok", 5.0,
                  model="old-model" if i < 2 else "new-model",
                  status="error" if i < 2 else "ok", time=start + timedelta(minutes=i))
    assert ws.flush()
    with ws.store.read() as conn:
        def found(scan: int, **filters) -> int:
            return len(call_store.query(conn, scan=scan, limit=100, **filters))

        assert found(10, status="error") == 2 and found(10, model="old-model") == 2
        assert found(8, status="error") == 0  # the two errors are older than the newest 8
        assert found(8, model="old-model") == 0 and found(8, text="call 1") == 0
        assert found(8, system="complaint-router", model="new-model") == 8
        until = start + timedelta(minutes=3)  # the time range is served by the index
        assert found(3, status="error", until=until) == 2
        assert found(3, text="call 1", until=until) == 1
        assert found(3) == 10  # no such filter: no bound but the limit
