"""Recorded calls become drift columns: inputs, outputs and operations."""

from __future__ import annotations

import json

import numpy as np
import pytest

from trimtab.errors import TrimtabError
from trimtab.observe.drift import calls as call_columns
from trimtab.observe.drift.files import read_rows


def columns_of(rows, extraction=None, *, reference=False):
    raw, n, notes = call_columns.raw_columns(rows)
    extraction = extraction or call_columns.plan(raw)
    return call_columns.features(raw, n, extraction, reference=reference), extraction, notes


def test_recorded_inputs_become_one_column_per_key_and_outputs_one_per_field():
    rows = [
        {"request": json.dumps({"units": 3, "plan": "pro", "customer": {"age": 41}}),
         "response": json.dumps({"team": "packaging", "score": 0.9}), "status": "ok",
         "latency_ms": 120.0, "cost_micro_usd": 1500},
        {"request": json.dumps({"units": 5, "plan": "free", "customer": {"age": 29}}),
         "response": json.dumps({"team": "other", "score": 0.4}), "status": "ok",
         "latency_ms": 80.0, "cost_micro_usd": None},
        {"request": json.dumps({"units": 1, "plan": "pro", "customer": {"age": 35}}),
         "response": None, "status": "error", "latency_ms": 3000.0, "cost_micro_usd": None},
    ]
    cols, extraction, _ = columns_of(rows)

    assert list(cols["input.units"]) == [3, 5, 1]
    assert cols["input.plan"] == ["pro", "free", "pro"]
    assert list(cols["input.customer.age"]) == [41, 29, 35]
    assert cols["output.team"] == ["packaging", "other", None]  # the failed call has no output
    assert cols["output.json_valid"] == [True, True, None]
    assert cols["output.empty"] == [False, False, None]
    assert cols["error"] == [False, False, True]
    assert list(cols["latency_ms"]) == [120.0, 80.0, 3000.0]
    assert cols["cost_usd"][0] == 0.0015 and np.isnan(cols["cost_usd"][1])
    assert extraction["expect_json"] is True


def test_llm_calls_give_variables_as_columns_and_the_user_text_as_text_features():
    def llm(product, text, answer):
        return {"request": {"variables": {"product": product, "text": text},
                            "messages": [{"role": "system", "content": "You route complaints."},
                                         {"role": "user", "content": f"Complaint: {text}"}]},
                "response": answer, "status": "ok", "latency_ms": 300.0}

    rows = [llm("lid", f"the lid {i} leaks", '{"team": "packaging"}') for i in range(6)]
    rows.append(llm("fan", "I'm sorry, cannot parse", "I'm sorry, I can't help with that."))
    cols, extraction, _ = columns_of(rows, reference=True)

    assert cols["input.product"][:2] == ["lid", "lid"]
    assert "input.messages" in extraction["text"]  # the user turns' text is free text
    assert cols["input.messages.length"][0] == len("Complaint: the lid 0 leaks")
    assert "input.messages.unseen_token_rate" in cols and "input.messages.script" in cols
    assert "input.text.length" in cols  # the variable `text` is free text too
    assert cols["output.refusal"][-1] is True and cols["output.refusal"][0] is False
    assert cols["output.json_valid"][-1] is False
    assert cols["output.team"][0] == "packaging"


def test_scalar_outputs_are_labels_and_free_text_outputs_become_text_features():
    labels, _, _ = columns_of([{"request": {"x": 1.0}, "response": lab}
                               for lab in ["spam", "ham", "spam", "ham"]])
    assert labels["output.label"] == ["spam", "ham", "spam", "ham"]
    numbers, _, _ = columns_of([{"request": {"x": 1.0}, "response": json.dumps(v)}
                                for v in [0.2, 0.7, 0.9]])
    assert list(numbers["output.value"]) == [0.2, 0.7, 0.9]
    texts, extraction, _ = columns_of([{"request": {"x": 1.0}, "response": f"answer {i} here"}
                                       for i in range(5)])
    assert "output.label" in extraction["text"]
    assert "output.text.unseen_token_rate" in texts and "output.label" not in texts


def test_the_plan_from_the_reference_cuts_the_current_window_the_same_way():
    reference = [{"request": {"note": f"note number {i}"}} for i in range(10)]
    current = [{"request": {"note": "note"}} for _ in range(10)]  # all equal: not "text" alone
    _, extraction, _ = columns_of(reference, reference=True)
    cols, _, _ = columns_of(current, extraction)
    assert "input.note.length" in cols and "input.note" not in cols


def test_files_read_like_calls_and_name_the_bad_line(tmp_path):
    good = tmp_path / "train.csv"
    good.write_text("age,plan,output\n41,pro,churn\n29,,stay\n")
    rows = read_rows(good, {"output": "output"})
    assert rows[0] == {"request": {"age": 41, "plan": "pro"}, "response": "churn"}
    assert rows[1]["request"]["plan"] is None

    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("a,b\n1,2\n3,4\n5\n")
    with pytest.raises(TrimtabError, match=r"bad.csv:4: 1 fields, but the header has 2"):
        read_rows(bad_csv)
    bad_jsonl = tmp_path / "bad.jsonl"
    bad_jsonl.write_text('{"inputs": {"a": 1}}\n\n{"inputs": {"a": 2}\n')
    with pytest.raises(TrimtabError, match=r"bad.jsonl:3: not valid JSON"):
        read_rows(bad_jsonl)
    listed = tmp_path / "list.jsonl"
    listed.write_text("[1, 2]\n")
    with pytest.raises(TrimtabError, match=r"list.jsonl:1: a list, not a JSON object"):
        read_rows(listed)
    with pytest.raises(TrimtabError, match="cannot read .txt"):
        (tmp_path / "x.txt").write_text("x")
        read_rows(tmp_path / "x.txt")
    with pytest.raises(TrimtabError, match="no such file"):
        read_rows(tmp_path / "missing.csv")
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet at all")
    with pytest.raises(TrimtabError, match="not a readable Parquet file"):
        read_rows(broken)


def test_parquet_rows_read_like_jsonl(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    import pyarrow as pa

    path = tmp_path / "ref.parquet"
    pq.write_table(pa.table({"units": [1, 2], "output": ["a", "b"], "latency_ms": [5.0, 6.0]}),
                   path)
    assert read_rows(path, {"output": "output", "latency_ms": "latency_ms"}) == [
        {"request": {"units": 1}, "response": "a", "latency_ms": 5.0},
        {"request": {"units": 2}, "response": "b", "latency_ms": 6.0},
    ]
