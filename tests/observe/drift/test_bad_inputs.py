"""Bad inputs give a clear verdict or a TrimtabError that names the column and the fix."""

from __future__ import annotations

import numpy as np
import pytest

from trimtab.errors import TrimtabError
from trimtab.observe import drift


@pytest.fixture
def rng():
    return np.random.default_rng(3)


def test_column_absent_from_one_window_is_reported_not_raised(rng):
    ref = {"latency": rng.normal(size=50), "old": rng.normal(size=50)}
    cur = {"latency": rng.normal(size=50), "new": rng.normal(size=50)}

    report = drift.check_drift(drift.profile(ref), cur)

    assert report["old"].status == "missing_in_current"
    assert report["new"].status == "missing_in_reference"
    assert "absent from the current window" in report["old"].reason
    assert report["old"].drifted is None
    assert [c.column for c in report.tested] == ["latency"]  # share counts tested columns only


def test_all_nan_column_is_not_tested_and_says_why(rng):
    ref = {"cost": np.full(100, np.nan), "ok": rng.normal(size=100)}
    cur = {"cost": rng.normal(size=100), "ok": rng.normal(size=100)}

    report = drift.check_drift(ref, cur)

    assert report["cost"].status == "no_data"
    assert "every value of 'cost' is missing" in report["cost"].reason
    assert report["cost"].missing_reference == 100
    assert report["ok"].status == "tested"


def test_nan_and_inf_are_dropped_and_counted_as_missing(rng):
    ref = rng.normal(size=300)
    cur = np.concatenate([rng.normal(size=290), [np.nan] * 5, [np.inf, -np.inf] * 2, [None]])
    verdict = drift.check_drift({"x": ref}, {"x": list(cur)})["x"]
    assert (verdict.n_current, verdict.missing_current) == (290, 10)


def test_empty_window_raises_with_the_fix():
    with pytest.raises(TrimtabError, match="current window has no rows; widen"):
        drift.check_drift({"x": [1.0, 2.0]}, {"x": []})
    with pytest.raises(TrimtabError, match="no columns"):
        drift.profile({})


def test_single_row_windows_still_get_a_verdict():
    report = drift.check_drift({"x": [1.0], "label": ["a"]}, {"x": [5.0], "label": ["b"]})
    assert report["x"].test == "z" and report["x"].n_reference == 1  # two values in all
    assert report["x"].drifted is False  # one row each is no evidence (p = 0.16)
    # One distinct string in one row is "text" by Evidently's rule; say what it is.
    assert report["label"].status == "text"
    forced = drift.check_drift({"label": ["a"]}, {"label": ["b"]}, kinds={"label": "categorical"})
    assert forced["label"].test == "z"


def test_constant_columns_do_not_drift_unless_the_constant_changes():
    same = drift.check_drift({"c": np.full(5_000, 2.5)}, {"c": np.full(4_000, 2.5)})["c"]
    assert same.test == "jensenshannon" and same.score == 0 and not same.drifted
    small = drift.check_drift({"c": np.full(50, 2.5)}, {"c": np.full(40, 2.5)})["c"]
    assert small.test == "z" and small.p_value == 1.0 and not small.drifted
    moved = drift.check_drift({"c": np.full(50, 2.5)}, {"c": np.full(40, 3.5)})["c"]
    assert moved.drifted


def test_constant_reference_against_varying_current_uses_std_floor(rng):
    verdict = drift.check_drift({"c": np.full(2_000, 1.0)}, {"c": rng.normal(1, 1, 2_000)})["c"]
    assert verdict.test == "wasserstein" and verdict.drifted  # std floored at 0.001


def test_numbers_in_one_window_and_labels_in_the_other_is_a_type_mismatch():
    verdict = drift.check_drift({"x": [1.0, 2.0, 3.0]}, {"x": ["a", "b", "c"]})["x"]
    assert verdict.status == "type_mismatch" and "same type" in verdict.reason


def test_free_text_column_points_to_text_features():
    ref = [f"message number {i}" for i in range(40)]
    verdict = drift.check_drift({"prompt": ref}, {"prompt": ref[::-1]})["prompt"]
    assert verdict.status == "text" and "text_features" in verdict.reason


def test_columns_of_different_lengths_raise_naming_them():
    with pytest.raises(TrimtabError, match=r"\['b'\] have 2 values"):
        drift.profile({"a": [1.0, 2.0, 3.0], "b": [1.0, 2.0]})


def test_unknown_test_or_wrong_kind_raise_naming_the_column():
    with pytest.raises(TrimtabError, match="unknown drift test 'kss'"):
        drift.check_drift({"x": [1.0, 2.0]}, {"x": [1.0, 2.0]}, method="kss")
    with pytest.raises(TrimtabError, match="column 'label' is categorical; test 'ks'"):
        drift.check_drift({"label": ["a", "b"] * 5}, {"label": ["a", "b"] * 5}, method="ks")


def test_unsupported_dtype_raises_with_a_conversion_hint():
    stamps = np.array(["2024-01-01", "2024-01-02"], dtype="datetime64[D]")
    with pytest.raises(TrimtabError, match="column 'ts' has dtype datetime64"):
        drift.profile({"ts": stamps})
    with pytest.raises(TrimtabError, match="column 'obj' holds a dict"):
        drift.profile({"obj": [{"a": 1}, {"b": 2}]})


def test_profile_from_another_schema_is_refused():
    with pytest.raises(TrimtabError, match="rebuild the baseline"):
        drift.DatasetProfile.from_dict({"schema": "other/9", "rows": 1, "columns": {}})
