"""The answer columns are bounded by the writer, whatever a record carries: a hostile
provider's (or a hand-made record's) 10 MB id, 10,000 finish reasons or a params object
of megabytes cost a few hundred bytes of a stored row, on both databases."""

from __future__ import annotations

import json

from trimtab.recorder.call_fields import finish_reasons_text, params_text, response_id_text
from trimtab.recorder.records import CallRecord, values_from_spool
from trimtab.store.call_columns import (
    COLUMN,
    FINISH_REASON_CHARS,
    FINISH_REASONS_MAX,
    PARAM_CHARS,
    PARAMS_CHARS,
    RESPONSE_ID_CHARS,
)


def test_oversized_answer_fields_are_bounded_when_stored(ws):
    record = CallRecord(system="complaint-router", env="production", latency_ms=3.0,
                        response_id="r" * 10_000_000, finish_reasons=["stop"] * 10_000,
                        params={f"p{i}": "v" * 10_000 for i in range(1000)})
    ws.emit(record)
    assert ws.flush()
    call = ws.call(record.id)
    assert call.response_id == "r" * RESPONSE_ID_CHARS
    reasons = json.loads(call.finish_reasons)
    assert reasons == ["stop"] * FINISH_REASONS_MAX + ["+9984 more"]
    params = json.loads(call.params)
    assert len(call.params) <= PARAMS_CHARS
    assert params["p0"] == "v" * PARAM_CHARS and params["_dropped"] > 0
    assert len(params) - 1 + params["_dropped"] == 32  # PARAMS_KEYS kept, then cut to fit


def test_a_record_without_them_stores_nulls(ws):
    record = CallRecord(system="complaint-router", env="production", latency_ms=3.0,
                        status="error", error="upstream 500")
    ws.emit(record)
    assert ws.flush()
    call = ws.call(record.id)
    assert (call.response_id, call.finish_reasons, call.params) == (None, None, None)
    assert call.to_dict()["finish_reasons"] is None and call.to_dict()["params"] is None


def test_the_bounds_one_by_one():
    assert response_id_text("") is None and response_id_text(42) is None
    assert response_id_text("chatcmpl-1") == "chatcmpl-1"
    assert finish_reasons_text("length") == '["length"]'
    assert finish_reasons_text(["x" * 500, 7, "stop"]) == json.dumps(
        ["x" * FINISH_REASON_CHARS, "stop"], separators=(",", ":"))
    assert finish_reasons_text({"stop": 1}) is None and finish_reasons_text([]) is None
    # Params that fit are kept as sent, with one dump (the writer's common case).
    assert params_text({"temperature": 0.2, "stop": ["\n"]}) == '{"temperature":0.2,"stop":["\\n"]}'
    # Past PARAMS_CHARS: scalars and short lists of them only (an object or NaN is not
    # a sampling param), strings cut, and then whatever still fits.
    kept = json.loads(params_text({"temperature": 0.2, "stop": ["a"] * 50, "seed": 2**70,
                                   "tools": [{"type": "function"}], "top_p": float("nan"),
                                   "logit_bias": {"1": 2}, 3: "numeric key",
                                   "pad": "z" * 3000}))
    assert kept == {"temperature": 0.2, "stop": ["a"] * 8, "seed": 2**70,
                    "pad": "z" * PARAM_CHARS}
    assert params_text({}) is None and params_text(["temperature"]) is None


def test_a_spool_line_with_a_lone_surrogate_in_the_id_still_fits_its_column():
    record = CallRecord(system="s", env="e", latency_ms=1.0,
                        response_id="\ud800" * 150 + "tail")
    values = values_from_spool(record.to_line())
    stored = values[COLUMN["response_id"]]
    assert len(stored) == RESPONSE_ID_CHARS and stored.encode()
