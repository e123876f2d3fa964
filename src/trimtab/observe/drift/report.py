"""Drift verdicts: per column, and for the dataset as Evidently's drift share.

A verdict must be auditable on its own, so each one carries the test, the
statistic, the p-value or distance, the threshold and both sample sizes; a
column that could not be tested says why instead of crashing the whole check.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

TESTED = "tested"
MISSING_IN_REFERENCE = "missing_in_reference"
MISSING_IN_CURRENT = "missing_in_current"
NO_DATA = "no_data"  # every value missing in one window
TYPE_MISMATCH = "type_mismatch"
TEXT_COLUMN = "text"  # free text: derive features with text_features()
UNTESTABLE = "untestable"  # the profile lacks what the test needs (too many categories)


@dataclass(frozen=True)
class ColumnVerdict:
    """The drift verdict on one column.

    ``score`` is what is compared with ``threshold``: the p-value for KS,
    chi-squared and Z (drift when small), the distance for Wasserstein,
    Jensen-Shannon and PSI (drift when large). ``drifted`` is None when the
    column was not tested (see ``status`` and ``reason``).
    """

    column: str
    status: str
    kind: str | None = None
    test: str | None = None
    test_label: str | None = None
    statistic: float | None = None
    p_value: float | None = None
    score: float | None = None
    threshold: float | None = None
    drifted: bool | None = None
    n_reference: int = 0
    n_current: int = 0
    missing_reference: int = 0
    missing_current: int = 0
    exact: bool = True
    error_bound: float | None = None
    reason: str | None = None

    @property
    def certain(self) -> bool:
        """True when an approximation cannot have flipped the verdict."""
        if self.error_bound is None or self.score is None or self.threshold is None:
            return self.exact
        return abs(self.score - self.threshold) > self.error_bound

    def summary(self) -> str:
        if self.status != TESTED:
            return f"{self.column}: not tested ({self.status}): {self.reason}"
        cmp = "p" if self.p_value is not None else "distance"
        verdict = "DRIFT" if self.drifted else "no drift"
        return (f"{self.column}: {verdict} -- {self.test_label} {cmp}={_fmt(self.score)} "
                f"threshold={_fmt(self.threshold)} (n_ref={self.n_reference}, "
                f"n_cur={self.n_current})")

    def to_dict(self) -> dict[str, Any]:
        out = {k: _clean(v) for k, v in asdict(self).items()}
        out["certain"] = self.certain
        return out


@dataclass(frozen=True)
class DriftReport:
    """All column verdicts plus the dataset-level verdict.

    Like Evidently, the dataset drifts when the share of drifted columns is at
    least ``drift_share``. Unlike Evidently (which raises on them), columns that
    could not be tested are listed but left out of the share's denominator.
    """

    columns: list[ColumnVerdict]
    drift_share: float = 0.5
    n_reference_rows: int = 0
    n_current_rows: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def tested(self) -> list[ColumnVerdict]:
        return [c for c in self.columns if c.status == TESTED]

    @property
    def drifted_columns(self) -> list[str]:
        return [c.column for c in self.columns if c.drifted]

    @property
    def not_tested(self) -> list[ColumnVerdict]:
        return [c for c in self.columns if c.status != TESTED]

    @property
    def share(self) -> float:
        tested = self.tested
        return len(self.drifted_columns) / len(tested) if tested else 0.0

    @property
    def dataset_drift(self) -> bool:
        return bool(self.tested) and self.share >= self.drift_share

    def __getitem__(self, column: str) -> ColumnVerdict:
        for verdict in self.columns:
            if verdict.column == column:
                return verdict
        raise KeyError(column)

    def summary(self) -> str:
        head = (f"dataset drift: {'YES' if self.dataset_drift else 'no'} -- "
                f"{len(self.drifted_columns)}/{len(self.tested)} columns drifted "
                f"(share {self.share:.3f}, threshold {self.drift_share})")
        return "\n".join([head, *(f"  {c.summary()}" for c in self.columns)])

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset_drift": self.dataset_drift,
            "share": self.share,
            "drift_share": self.drift_share,
            "n_columns_tested": len(self.tested),
            "n_columns_drifted": len(self.drifted_columns),
            "drifted_columns": self.drifted_columns,
            "n_reference_rows": self.n_reference_rows,
            "n_current_rows": self.n_current_rows,
            "columns": [c.to_dict() for c in self.columns],
            "notes": list(self.notes),
        }


def _clean(value: Any) -> Any:
    """Strict JSON has no NaN/inf: write them as the strings "inf", "-inf", "nan"."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"
