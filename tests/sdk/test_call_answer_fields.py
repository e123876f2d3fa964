"""An SDK call through the simulated provider stores the answer's id and finish reason and
the sampling params sent (the release's, with the caller's over them); streamed too."""

from __future__ import annotations

import asyncio
import json

import pytest

from trimtab import TrimtabError

SYSTEM = "complaint-router"
COMPLAINT = {"customer": "ACME GmbH", "product": "K-200",
             "text": "The charger sparks when plugged in."}


def test_a_call_stores_its_answer_id_finish_reason_and_params(live):
    ws, _ = live
    result = ws.system(SYSTEM).run(COMPLAINT, params={"seed": 5, "temperature": 0.4,
                                                      "stop": ["\n\n"]})
    assert ws.flush()
    call = ws.call(result.call_id)
    assert call.response_id == result.response.id and call.response_id.startswith("chatcmpl-")
    assert json.loads(call.finish_reasons) == [result.finish_reason] == ["stop"]
    # trimtab.yaml says temperature 0 and max_tokens 200; the caller's params win.
    assert json.loads(call.params) == {"temperature": 0.4, "max_tokens": 200, "seed": 5,
                                       "stop": ["\n\n"]}


def test_a_streamed_call_stores_the_finish_reason_of_its_last_chunk(live):
    ws, _ = live

    async def stream():
        run = ws.system(SYSTEM).astream(COMPLAINT)
        chunks = [chunk async for chunk in run]
        return run, chunks

    run, chunks = asyncio.run(stream())
    # The reason comes once, at the end (only usage after it), as providers send it.
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["stop"]
    assert "stop" in (chunks[-1].finish_reason, chunks[-2].finish_reason)
    assert ws.flush()
    call = ws.call(run.result.call_id)
    assert json.loads(call.finish_reasons) == ["stop"]
    assert call.response_id == run.result.response.id
    assert json.loads(call.params) == {"temperature": 0, "max_tokens": 200}


def test_a_call_recorded_from_elsewhere_keeps_its_answer_within_the_bounds(live):
    ws, _ = live
    kept = ws.record(SYSTEM, inputs={"text": "hinge"}, output={"team": "mechanical"},
                     latency_ms=210, model="gpt-4o-mini", response_id="chatcmpl-" + "x" * 500,
                     finish_reasons=["stop"] * 20, params={"temperature": 0.2, "seed": 1})
    assert ws.flush()
    call = ws.call(kept)
    assert call.response_id == ("chatcmpl-" + "x" * 500)[:200]
    assert json.loads(call.finish_reasons) == ["stop"] * 16 + ["+4 more"]
    assert json.loads(call.params) == {"temperature": 0.2, "seed": 1}


@pytest.mark.parametrize("field, value", [
    ("response_id", ""), ("response_id", 42), ("finish_reasons", "stop"),
    ("finish_reasons", ["stop", None]), ("params", ["temperature"]), ("params", {1: 0}),
])
def test_a_recorded_answer_of_the_wrong_kind_is_refused_with_the_field_named(live, field,
                                                                             value):
    ws, _ = live
    with pytest.raises(TrimtabError, match=f"record\\(\\): {field} must be"):
        ws.record(SYSTEM, inputs={"text": "hinge"}, output="x", latency_ms=1,
                  **{field: value})
    assert ws.flush()
    assert ws.calls(system=SYSTEM, limit=5) == []
