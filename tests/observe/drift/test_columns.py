"""Column kinds follow Evidently's inference; LLM text, outputs and call records
become ordinary numeric/categorical columns that drift like any other."""

from __future__ import annotations

import numpy as np

from trimtab.observe import drift


def kind_of(values) -> str:
    return drift.profile({"c": values}).columns["c"].kind


def test_kind_inference_matches_evidently():
    rng = np.random.default_rng(0)
    assert kind_of(rng.normal(size=100)) == "numerical"
    assert kind_of(np.arange(100) % 10) == "categorical"  # int, 10 values
    assert kind_of(np.arange(100) % 11) == "numerical"  # int, 11 values
    assert kind_of(np.array([1.0, 2.0] * 50)) == "numerical"  # floats stay numerical
    assert kind_of(rng.random(100) < 0.5) == "categorical"
    assert kind_of(["a", "b"] * 50) == "categorical"
    assert kind_of([f"id-{i}" for i in range(100)]) == "text"  # > half distinct


def test_text_features_measure_length_classes_script_and_unseen_tokens():
    reference = ["hello world", "hello there", "the world is big"]
    vocab = drift.vocabulary(reference)

    ref_cols = drift.text_features(reference, vocab, reference=True)
    cur_cols = drift.text_features(["hello стол 42", "", None], vocab)

    assert list(ref_cols["length"]) == [11, 11, 16]
    # leave-one-out: "there", "the", "is", "big" appear in one reference text only
    assert ref_cols["unseen_token_rate"][1] == 0.5
    assert cur_cols["unseen_token_rate"][0] == 2 / 3  # "стол" and "42" are new
    assert cur_cols["script"][0] == "latin"  # 5 Latin letters beat 4 Cyrillic ones
    assert cur_cols["digits_share"][0] == 2 / 13
    assert np.isnan(cur_cols["length"][2]) and cur_cols["script"][2] is None


def test_text_features_feed_drift_checks():
    rng = np.random.default_rng(1)
    words = ["alpha", "beta", "gamma", "delta"]
    ref = [" ".join(rng.choice(words, 5)) for _ in range(300)]
    cur = [" ".join(rng.choice(words + ["ωμέγα"], 12)) for _ in range(300)]
    vocab = drift.vocabulary(ref)

    report = drift.check_drift(drift.text_features(ref, vocab, reference=True),
                               drift.text_features(cur, vocab))

    assert report["length"].drifted and report["unseen_token_rate"].drifted


def test_output_features_flag_empty_refusals_invalid_json_and_labels():
    outputs = ['{"ok": true}', "I'm sorry, I can't help with that.", "  ", "not json"]
    cols = drift.output_features(outputs, labels=["a", "b", "a", "c"], expect_json=True)
    assert list(cols["output_empty"]) == [False, False, True, False]
    assert list(cols["output_refusal"]) == [False, True, False, False]
    assert list(cols["output_json_valid"]) == [True, False, False, False]
    assert list(cols["output_label"]) == ["a", "b", "a", "c"]
    assert list(cols["output_length"]) == [12, 34, 2, 8]


def test_ops_features_turn_micro_dollars_and_latency_into_numeric_columns():
    cols = drift.ops_features([1500, None, 2500], [120.0, 80.5, None])
    assert cols["cost_usd"][0] == 0.0015 and np.isnan(cols["cost_usd"][1])
    assert np.isnan(cols["latency_ms"][2])
    report = drift.check_drift(cols, cols)
    assert report["cost_usd"].n_current == 2 and not report["cost_usd"].drifted
