"""The facade's own seams: ``started()`` asks without starting, and observers
subscribe (with the flush and close of an exporter that buffers) and leave."""

from __future__ import annotations

import pytest

SYSTEM = "complaint-router"


def test_started_asks_without_starting(ws):
    assert not ws.started("recorder") and not ws.started("store")
    assert not ws.started("recorder")  # asking twice starts nothing either
    ws.record(SYSTEM, "q", "a", 12)
    assert ws.started("recorder") and ws.started("store")
    with pytest.raises(ValueError, match="recorder"):
        ws.started("recoder")


def test_observers_subscribe_and_leave_with_their_hooks(ws):
    seen, pushed, closed = [], [], []

    def push(timeout: float) -> bool:
        pushed.append(timeout)
        return True

    ws.subscribe(seen.append, flush=push, close=lambda: closed.append(True))
    call_id = ws.record(SYSTEM, "q", "a", 12)
    assert [r.id for r in seen] == [call_id]
    assert ws.flush(5.0) and pushed == [5.0]
    ws.unsubscribe(seen.append)
    ws.record(SYSTEM, "q", "a", 12)
    assert len(seen) == 1 and ws.observers == []
    assert ws.flush(5.0) and pushed == [5.0]  # its flush left with it
    ws.close()
    assert closed == []
