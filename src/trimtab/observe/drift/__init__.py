"""Drift detection: compact baselines and Evidently-compatible verdicts.

Typical use (the monitor keeps the baseline JSON in the store)::

    baseline = drift.profile({"latency_ms": lat, "label": labels})
    stored = baseline.to_json()
    ...
    report = drift.check_drift(drift.DatasetProfile.from_json(stored),
                               {"latency_ms": lat_today, "label": labels_today})
    report.dataset_drift, report.drifted_columns, report["label"].p_value

Test choice, thresholds and dataset share follow Evidently 0.7's
DataDriftPreset defaults; see ``statistics`` for the rules and ``sketch`` for
the one approximation (Wasserstein from a sketch, with a certified bound).
"""

from trimtab.observe.drift.check import check_drift
from trimtab.observe.drift.columns import (
    CATEGORICAL,
    NUMERICAL,
    TEXT,
    infer_kind,
    ops_features,
    output_features,
    text_features,
    vocabulary,
)
from trimtab.observe.drift.profiles import (
    CategoricalProfile,
    DatasetProfile,
    NumericProfile,
    profile,
    profile_column,
)
from trimtab.observe.drift.report import ColumnVerdict, DriftReport
from trimtab.observe.drift.sketch import QuantileSketch
from trimtab.observe.drift.statistics import TESTS, TestResult, choose_test, psi_band

__all__ = [
    "CATEGORICAL",
    "NUMERICAL",
    "TEXT",
    "TESTS",
    "CategoricalProfile",
    "ColumnVerdict",
    "DatasetProfile",
    "DriftReport",
    "NumericProfile",
    "QuantileSketch",
    "TestResult",
    "check_drift",
    "choose_test",
    "infer_kind",
    "ops_features",
    "output_features",
    "profile",
    "profile_column",
    "psi_band",
    "text_features",
    "vocabulary",
]
