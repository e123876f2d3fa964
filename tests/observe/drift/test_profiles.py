"""Baselines are compact JSON, merge like the windows they describe, and keep
just enough to reproduce the raw-row verdicts."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from trimtab.observe import drift
from trimtab.observe.drift.sketch import QuantileSketch, wasserstein


@pytest.fixture
def rng():
    return np.random.default_rng(11)


def test_profile_round_trips_through_json(rng):
    window = {
        "latency": rng.lognormal(5, 0.5, 5_000).astype(np.float32),
        "tokens": rng.integers(0, 6, 5_000),
        "model": rng.choice(["small", "large"], 5_000),
        "refusal": rng.random(5_000) < 0.1,
    }
    prof = drift.profile(window)

    text = prof.to_json()
    back = drift.DatasetProfile.from_json(text)

    assert json.loads(text)["schema"] == "trimtab.observe.drift.profile/1"
    assert back.to_dict() == json.loads(text)
    assert back.columns["refusal"].counts == {False: prof.columns["refusal"].counts[False],
                                              True: prof.columns["refusal"].counts[True]}
    assert back.columns["tokens"].kind == "categorical"  # integers with <= 10 values
    assert len(text) < 60_000  # a few kB per column, whatever the row count


def test_small_windows_keep_their_rows_and_large_ones_do_not(rng):
    small = drift.profile({"x": rng.normal(size=1_000)}).columns["x"]
    large = drift.profile({"x": rng.normal(size=1_001)}).columns["x"]
    assert small.values is not None and len(small.values) == 1_000
    assert large.values is None
    assert large.sketch.means.size <= 1024


def test_transient_rows_never_reach_json(rng):
    prof = drift.profile({"x": rng.normal(size=5_000)}, keep_raw=True)
    assert prof.columns["x"].raw is not None
    assert drift.DatasetProfile.from_json(prof.to_json()).columns["x"].raw is None


def test_merging_profiles_equals_profiling_the_union(rng):
    a = {"x": rng.normal(3, 2, 4_000), "label": rng.choice(["u", "v", "w"], 4_000)}
    b = {"x": rng.normal(4, 1, 6_000), "label": rng.choice(["u", "v"], 6_000)}
    union = {k: np.concatenate([a[k], b[k]]) for k in a}

    merged = drift.profile(a).merge(drift.profile(b))
    whole = drift.profile(union)

    mx, wx = merged.columns["x"], whole.columns["x"]
    assert merged.rows == 10_000 and mx.count == 10_000
    assert mx.mean == pytest.approx(wx.mean) and mx.std == pytest.approx(np.std(union["x"]))
    assert (mx.minimum, mx.maximum) == (wx.minimum, wx.maximum)
    assert merged.columns["label"].counts == whole.columns["label"].counts
    # The merged sketch is a different compression, but its certified bound holds.
    assert mx.sketch.count == 10_000
    exact = QuantileSketch(np.sort(union["x"]), np.ones(10_000, dtype=np.int64), 0.0)
    assert wasserstein(exact, mx.sketch) <= mx.sketch.error + 1e-12


def test_merged_small_windows_keep_rows_for_exact_ks(rng):
    a, b = rng.normal(size=300), rng.normal(size=400)
    merged = drift.profile({"x": a}).merge(drift.profile({"x": b}))
    cur = rng.normal(0.2, 1, 500)
    verdict = drift.check_drift(merged, {"x": cur})["x"]
    assert verdict.p_value == pytest.approx(stats.ks_2samp(np.concatenate([a, b]), cur).pvalue)


def test_a_column_missing_from_one_merged_window_counts_as_missing_rows(rng):
    merged = drift.profile({"x": rng.normal(size=10), "y": rng.normal(size=10)}).merge(
        drift.profile({"x": rng.normal(size=5)}))
    assert merged.columns["y"].missing == 5 and merged.columns["y"].count == 10


def test_sketch_bound_certifies_the_wasserstein_verdict(rng):
    """|W1 from sketches - W1 from rows| <= sum of the two certified errors."""
    for ref, cur in [
        (rng.normal(0, 1, 200_000), rng.normal(0.05, 1, 150_000)),
        (rng.lognormal(0, 1.5, 200_000), rng.lognormal(0.1, 1.5, 100_000)),
        (rng.standard_cauchy(100_000), rng.standard_cauchy(100_000)),
        (np.where(rng.random(100_000) < 0.3, 0.0, rng.exponential(5, 100_000)),
         rng.exponential(5, 50_000)),
    ]:
        r = drift.profile({"x": ref}).columns["x"]
        c = drift.profile({"x": cur}).columns["x"]
        assert abs(wasserstein(r.sketch, c.sketch) - stats.wasserstein_distance(ref, cur)) \
            <= r.sketch.error + c.sketch.error + 1e-9
        assert r.sketch.error <= 0.01 * np.std(ref)  # tight enough for a 0.1 threshold
