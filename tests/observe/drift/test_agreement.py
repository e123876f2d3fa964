"""Verdicts match the numbers scipy gives on the raw rows, under Evidently's rules.

Each test builds two small windows, runs ``check_drift`` the way the monitor
does (reference stored as a JSON profile, current as rows) and recomputes the
expected statistic by hand with scipy.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.spatial import distance

from trimtab.observe import drift


def stored(window: dict) -> drift.DatasetProfile:
    """What the store hands back: the reference profile after a JSON round trip."""
    return drift.DatasetProfile.from_json(drift.profile(window).to_json())


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def test_small_numeric_reference_uses_ks_with_p_at_most_threshold(rng):
    ref = rng.normal(0, 1, 400)
    cur = rng.normal(0.3, 1, 300)

    verdict = drift.check_drift(stored({"x": ref}), {"x": cur})["x"]

    expected = stats.ks_2samp(ref, cur)
    assert verdict.test == "ks" and verdict.test_label == "K-S p_value"
    assert verdict.statistic == pytest.approx(expected.statistic)
    assert verdict.p_value == pytest.approx(expected.pvalue)
    assert verdict.drifted == bool(expected.pvalue <= 0.05)
    assert (verdict.n_reference, verdict.n_current, verdict.threshold) == (400, 300, 0.05)
    assert verdict.exact


def test_small_categorical_reference_uses_chi_squared_on_rescaled_counts(rng):
    ref = rng.choice(["a", "b", "c"], 500, p=[0.5, 0.3, 0.2]).astype(object)
    cur = rng.choice(["a", "b", "c"], 200, p=[0.4, 0.3, 0.3]).astype(object)

    verdict = drift.check_drift(stored({"label": ref}), {"label": cur})["label"]

    keys = ["a", "b", "c"]
    observed = [np.sum(cur == k) for k in keys]
    expected_counts = [np.sum(ref == k) * 200 / 500 for k in keys]
    expected = stats.chisquare(observed, expected_counts)
    assert verdict.test == "chisquare"
    assert verdict.p_value == pytest.approx(expected.pvalue)
    assert verdict.statistic == pytest.approx(expected.statistic)
    assert verdict.drifted == bool(expected.pvalue < 0.05)


def test_binary_column_on_small_reference_uses_two_proportion_z_test(rng):
    ref = rng.random(800) < 0.30
    cur = rng.random(600) < 0.36

    verdict = drift.check_drift(stored({"refusal": ref}), {"refusal": cur})["refusal"]

    p1, p2 = ref.mean(), cur.mean()
    pooled = (ref.sum() + cur.sum()) / (800 + 600)
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1 / 800 + 1 / 600))
    assert verdict.test == "z" and verdict.kind == "categorical"
    assert abs(verdict.statistic) == pytest.approx(abs(z))
    assert verdict.p_value == pytest.approx(2 * (1 - stats.norm.cdf(abs(z))))


def test_few_valued_numbers_use_chi_squared_or_z_like_categories(rng):
    ref = rng.choice([1.0, 2.0, 3.0, 4.0], 300)
    cur = rng.choice([1.0, 2.0, 3.0, 4.0], 300)
    assert drift.check_drift(stored({"x": ref}), {"x": cur})["x"].test == "chisquare"
    flags = rng.choice([0.0, 1.0], 300)
    assert drift.check_drift(stored({"x": flags}), {"x": flags[::-1]})["x"].test == "z"


def test_large_numeric_reference_uses_wasserstein_normed_by_reference_std(rng):
    ref = rng.normal(10, 2, 20_000)
    cur = rng.normal(10.5, 2, 5_000)

    verdict = drift.check_drift(stored({"latency": ref}), {"latency": cur})["latency"]

    expected = stats.wasserstein_distance(ref, cur) / np.std(ref)
    assert verdict.test == "wasserstein" and verdict.p_value is None
    assert verdict.threshold == 0.1
    assert abs(verdict.score - expected) <= verdict.error_bound
    assert verdict.error_bound < 0.01  # the sketch bound is far below the 0.1 threshold
    assert verdict.drifted and verdict.certain


def test_large_categorical_reference_uses_jensen_shannon_of_shares(rng):
    labels = np.array(["x", "y", "z"], dtype=object)
    ref = labels[rng.choice(3, 5_000, p=[0.6, 0.3, 0.1])]
    cur = labels[rng.choice(3, 3_000, p=[0.3, 0.3, 0.4])]

    verdict = drift.check_drift(stored({"intent": ref}), {"intent": cur})["intent"]

    shares = [[np.mean(w == k) for k in labels] for w in (ref, cur)]
    expected = distance.jensenshannon(shares[0], shares[1])
    assert verdict.test == "jensenshannon"
    assert verdict.score == pytest.approx(expected)
    assert verdict.drifted == bool(expected >= 0.1)


def test_large_reference_with_few_numeric_values_uses_jensen_shannon(rng):
    ref = rng.choice([1.0, 2.0, 3.0, 4.0, 5.0], 3_000)
    cur = rng.choice([1.0, 2.0, 3.0, 4.0, 5.0], 3_000, p=[0.4, 0.3, 0.1, 0.1, 0.1])

    verdict = drift.check_drift(stored({"rating": ref}), {"rating": cur})["rating"]

    keys = [1.0, 2.0, 3.0, 4.0, 5.0]
    expected = distance.jensenshannon([np.mean(ref == k) for k in keys],
                                      [np.mean(cur == k) for k in keys])
    assert verdict.test == "jensenshannon" and verdict.score == pytest.approx(expected)


def test_psi_on_request_uses_evidently_sturges_bins_and_zero_filling(rng):
    ref = rng.normal(0, 1, 500)
    cur = rng.normal(0.4, 1, 500)

    verdict = drift.check_drift(stored({"x": ref}), {"x": cur}, method="psi")["x"]

    edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
    r = np.histogram(ref, edges)[0] / 500
    c = np.histogram(cur, edges)[0] / 500
    for shares in (r, c):
        low = shares[shares > 0].min()
        shares[shares == 0] = low / 1e6 if low <= 1e-4 else 1e-4
    expected = np.sum((r - c) * np.log(r / c))
    assert verdict.test == "psi" and verdict.score == pytest.approx(expected)
    assert verdict.drifted == bool(expected >= 0.1)
    assert "PSI band" in verdict.reason
    assert drift.psi_band(0.05) == "stable" and drift.psi_band(0.3) == "major"


def test_integer_columns_with_at_most_ten_values_are_categorical(rng):
    ref = rng.integers(0, 8, 3_000)
    verdict = drift.check_drift(stored({"n": ref}), {"n": rng.integers(0, 8, 3_000)})["n"]
    assert verdict.kind == "categorical" and verdict.test == "jensenshannon"
    wide = rng.integers(0, 500, 3_000)
    assert drift.check_drift(stored({"n": wide}), {"n": wide})["n"].test == "wasserstein"


def test_dataset_drift_is_share_of_drifted_columns_at_least_drift_share(rng):
    ref = {f"c{i}": rng.normal(0, 1, 300) for i in range(4)}
    cur = {f"c{i}": rng.normal(3.0 if i < 2 else 0.0, 1, 300) for i in range(4)}

    report = drift.check_drift(stored(ref), cur)

    assert report.drifted_columns == ["c0", "c1"]
    assert report.share == 0.5 and report.dataset_drift  # 0.5 >= 0.5, as Evidently
    assert not drift.check_drift(stored(ref), cur, drift_share=0.75).dataset_drift


def test_thresholds_and_methods_can_be_overridden_per_column(rng):
    ref, cur = rng.normal(0, 1, 300), rng.normal(0.1, 1, 300)
    report = drift.check_drift(stored({"a": ref, "b": ref}), {"a": cur, "b": cur},
                               per_column_method={"a": "wasserstein"},
                               per_column_threshold={"b": 0.99})
    assert report["a"].test == "wasserstein" and report["b"].threshold == 0.99
    assert report["b"].drifted  # any p-value <= 0.99 counts as drift here


def test_report_serialises_to_plain_json(rng):
    report = drift.check_drift(stored({"x": rng.normal(size=200)}), {"x": rng.normal(size=200)})
    data = report.to_dict()
    assert data["columns"][0]["test"] == "ks"
    assert {"statistic", "p_value", "threshold", "n_reference", "n_current"} <= set(
        data["columns"][0])
    assert "no drift" in report.summary() or "DRIFT" in report.summary()
