"""A batch of back-dated calls (a replay, an import, `trimtab demo`) spans
thousands of minute buckets; its rollups are still read and written."""

from datetime import UTC, datetime, timedelta


def test_a_batch_spanning_thousands_of_minutes_is_stored_with_its_rollups(ws):
    ws.sync()
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(days=2)
    for i in range(1500):  # one call a minute: 1,500 minute buckets in one drain
        ws.record("complaint-router", {"text": "x"}, {"team": "other"}, 10.0 + i % 7,
                  model="sim-router-1", user="agent-1", time=start + timedelta(minutes=i))
    assert ws.flush()
    [row] = ws.metrics(window=timedelta(days=3), by=("system",))
    assert row.calls == 1500
