"""Drift tests computed from profiles, with Evidently's test-choice rules.

Everything here reproduces ``evidently.legacy.calculations.stattests`` (0.7.x):

* choice (``registry._get_default_stattest``): n_values = distinct non-missing
  values of reference and current together; reference size = non-missing rows.
  Reference <= 1000 rows: numerical -> KS if n_values > 5, else chi-squared if
  n_values > 2, else Z; categorical -> chi-squared if n_values > 2, else Z.
  Reference > 1000 rows: numerical -> normed Wasserstein if n_values > 5, else
  Jensen-Shannon; categorical -> Jensen-Shannon.
* verdicts: KS drifts if p <= threshold; chi-squared and Z if p < threshold
  (strict, as in Evidently); distances (Wasserstein, JS, PSI) if >= threshold.
* numbers: KS is ``scipy.stats.ks_2samp``; chi-squared is ``scipy.stats.chisquare``
  of current counts against reference counts scaled to the current size; Z is
  the two-proportion pooled z-test with p = 2 * (1 - Phi(|z|)) and p = 1 when
  both windows hold the same single value; Wasserstein is W1 / max(std_ref,
  0.001) with the population std; JS is ``scipy.spatial.distance.jensenshannon``
  (natural log) of category shares, or -- for numeric columns with more than 20
  reference values -- of Sturges bins over the combined range; PSI uses the same
  bins with zero shares replaced as Evidently does (``utils.get_binned_data``).

Where each rule lives in evidently 0.7.23 (checked against its source):
test choice in ``legacy/calculations/stattests/registry.py`` (_get_default_stattest);
tests in ``.../stattests/{ks_stattest,chisquare_stattest,z_stattest,
wasserstein_distance_norm,jensenshannon,psi}.py``; binning in ``.../stattests/utils.py``;
NaN/inf dropping and the empty-column error in ``legacy/calculations/data_drift.py``
(get_one_column_drift); the dataset share (``share >= drift_share``) in the same
file (get_dataset_drift); kind inference in ``core/datasets.py`` (infer_column_type,
done on the current dataset: ``core/report.py`` Context.data_definition).
One Evidently quirk is not copied: its DriftedColumnsCount path only drops +-inf
from a column that also holds NaN, while its per-column ValueDrift always drops
them; trimtab always drops them (counted as missing).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.spatial import distance

from trimtab.observe.drift.columns import CATEGORICAL, NUMERICAL
from trimtab.observe.drift.profiles import RAW_LIMIT, ColumnProfile, NumericProfile
from trimtab.observe.drift.sketch import wasserstein as sketch_wasserstein


@dataclass(frozen=True)
class TestResult:
    """One test on one column. ``score`` is what Evidently compares to the threshold."""

    test: str
    label: str
    statistic: float
    p_value: float | None
    score: float
    threshold: float
    drifted: bool
    exact: bool = True
    error_bound: float | None = None  # |score - score on raw rows| <= error_bound
    note: str | None = None


@dataclass(frozen=True)
class _Spec:
    label: str
    threshold: float
    kinds: tuple[str, ...]
    run: Callable[..., TestResult]


def exact_sample(p: NumericProfile) -> np.ndarray | None:
    """The finite values themselves, when the profile still has them."""
    return p.values if p.values is not None else p.raw


def counts_of(p: ColumnProfile) -> dict | None:
    return p.distinct if isinstance(p, NumericProfile) else p.counts


def n_values(ref: ColumnProfile, cur: ColumnProfile) -> int | None:
    """Distinct values in both windows together; None when there are too many to count."""
    a, b = counts_of(ref), counts_of(cur)
    if a is None or b is None:
        return None
    return len(a.keys() | b.keys())


def choose_test(ref: ColumnProfile, cur: ColumnProfile, kind: str) -> str:
    """Evidently's default test for a column of ``kind`` (see module docstring)."""
    nv = n_values(ref, cur)
    few = nv is not None and nv <= 5
    if ref.count <= RAW_LIMIT:
        if kind == NUMERICAL and not few:
            return "ks"
        return "chisquare" if nv is None or nv > 2 else "z"
    if kind == NUMERICAL and not few:
        return "wasserstein"
    return "jensenshannon"


def run_test(name: str, ref: ColumnProfile, cur: ColumnProfile, kind: str,
             threshold: float | None = None) -> TestResult:
    spec = TESTS[name]
    return spec.run(ref, cur, kind, spec.threshold if threshold is None else threshold)


# ---------------------------------------------------------------- the tests

def _ks(ref, cur, kind, threshold) -> TestResult:
    ref_sample, ref_exact = ref.sample()
    cur_sample, cur_exact = cur.sample()
    res = stats.ks_2samp(ref_sample, cur_sample)
    p = float(res.pvalue)
    exact = ref_exact and cur_exact
    note = None if exact else "KS from a sketch pseudo-sample: D may be off by one centroid's share"
    return TestResult("ks", TESTS["ks"].label, float(res.statistic), p, p, threshold,
                      p <= threshold, exact, None, note)


def _aligned(ref, cur) -> tuple[list, np.ndarray, np.ndarray]:
    a, b = counts_of(ref), counts_of(cur)
    keys = list(a.keys() | b.keys())
    return (keys, np.array([a.get(k, 0) for k in keys], dtype=np.float64),
            np.array([b.get(k, 0) for k in keys], dtype=np.float64))


def _chisquare(ref, cur, kind, threshold) -> TestResult:
    _, r, c = _aligned(ref, cur)
    f_exp = r * (cur.count / ref.count)
    with np.errstate(divide="ignore", invalid="ignore"):
        res = stats.chisquare(c, f_exp)
    p = float(res.pvalue)
    return TestResult("chisquare", TESTS["chisquare"].label, float(res.statistic), p, p,
                      threshold, p < threshold)


def _z(ref, cur, kind, threshold) -> TestResult:
    keys, r, c = _aligned(ref, cur)
    ra, ca = counts_of(ref), counts_of(cur)
    if len(ra) == 1 and len(ca) == 1 and ra.keys() == ca.keys():
        z, p = 0.0, 1.0
    else:
        first = keys.index(sorted(keys, key=lambda k: (type(k).__name__, k))[0])
        n1, n2 = ref.count, cur.count
        p1 = float(n1 - r[first]) / n1
        p2 = float(n2 - c[first]) / n2
        pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = float((p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2)))
        p = float(2 * (1 - stats.norm.cdf(abs(z))))
    return TestResult("z", TESTS["z"].label, z, p, p, threshold, p < threshold)


def _wasserstein(ref, cur, kind, threshold) -> TestResult:
    norm = max(ref.std, 0.001)
    ref_sample, cur_sample = exact_sample(ref), exact_sample(cur)
    if ref.values is not None and cur_sample is not None:
        distance_ = float(stats.wasserstein_distance(ref_sample, cur_sample))
        bound = 0.0
    else:
        distance_ = sketch_wasserstein(ref.sketch, cur.sketch)
        bound = (ref.sketch.error + cur.sketch.error) / norm
    score = distance_ / norm
    return TestResult("wasserstein", TESTS["wasserstein"].label, score, None, score, threshold,
                      score >= threshold, bound == 0.0, bound)


def binned_shares(ref, cur, kind) -> tuple[np.ndarray, np.ndarray, bool]:
    """Evidently's ``get_binned_data``: category shares, or Sturges bins for numbers."""
    ref_counts = counts_of(ref)
    if kind == CATEGORICAL or (ref_counts is not None and len(ref_counts) <= 20):
        if counts_of(cur) is None:
            raise _Untestable("the current window has too many distinct values to compare shares")
        _, r, c = _aligned(ref, cur)
        return r / ref.count, c / cur.count, True
    lo, hi = min(ref.minimum, cur.minimum), max(ref.maximum, cur.maximum)
    n = ref.count + cur.count
    if lo == hi:
        edges = np.array([lo - 0.5, hi + 0.5])
    else:
        width = (hi - lo) / (np.log2(n) + 1.0)
        edges = np.linspace(lo, hi, int(np.ceil((hi - lo) / width)) + 1)
    exact = True
    shares = []
    for p in (ref, cur):
        sample = exact_sample(p)
        if sample is not None:
            hist = np.histogram(sample, edges)[0]
        else:
            hist, exact = p.sketch.histogram(edges, p.minimum, p.maximum), False
        shares.append(hist / p.count)
    return shares[0], shares[1], exact


def _js(ref, cur, kind, threshold) -> TestResult:
    r, c, exact = binned_shares(ref, cur, kind)
    value = float(distance.jensenshannon(r, c))
    note = None if exact else "bins filled from the sketch: each edge may move one centroid"
    return TestResult("jensenshannon", TESTS["jensenshannon"].label, value, None, value,
                      threshold, value >= threshold, exact, None, note)


def _fill_zeroes(shares: np.ndarray) -> np.ndarray:
    out = shares.astype(np.float64).copy()
    smallest = out[out != 0].min()
    out[out == 0] = smallest / 10**6 if smallest <= 0.0001 else 0.0001
    return out


def psi_band(value: float) -> str:
    """Conventional PSI reading: < 0.1 stable, 0.1-0.25 moderate shift, >= 0.25 major shift."""
    return "stable" if value < 0.1 else "moderate" if value < 0.25 else "major"


def _psi(ref, cur, kind, threshold) -> TestResult:
    r, c, exact = binned_shares(ref, cur, kind)
    r, c = _fill_zeroes(r), _fill_zeroes(c)
    value = float(np.sum((r - c) * np.log(r / c)))
    note = f"PSI band: {psi_band(value)}"
    if not exact:
        note += "; bins filled from the sketch: each edge may move one centroid"
    return TestResult("psi", TESTS["psi"].label, value, None, value, threshold,
                      value >= threshold, exact, None, note)


class _Untestable(Exception):
    """The profiles lack what this test needs; becomes a 'not tested' verdict."""


BOTH = (NUMERICAL, CATEGORICAL)
TESTS: dict[str, _Spec] = {
    "ks": _Spec("K-S p_value", 0.05, (NUMERICAL,), _ks),
    "chisquare": _Spec("chi-square p_value", 0.05, (CATEGORICAL,), _chisquare),
    "z": _Spec("Z-test p_value", 0.05, (CATEGORICAL,), _z),
    "wasserstein": _Spec("Wasserstein distance (normed)", 0.1, (NUMERICAL,), _wasserstein),
    "jensenshannon": _Spec("Jensen-Shannon distance", 0.1, BOTH, _js),
    "psi": _Spec("PSI", 0.1, BOTH, _psi),
}


def is_finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)
