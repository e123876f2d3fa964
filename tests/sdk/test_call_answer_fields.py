"""An SDK call through the simulated provider stores the answer's id and finish reason and
the sampling params sent (the release's, with the caller's over them); streamed too."""

from __future__ import annotations

import asyncio
import json

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
