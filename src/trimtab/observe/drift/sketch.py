"""A mergeable quantile sketch with a certified Wasserstein error bound.

Evidently's large-sample numeric test is the first Wasserstein distance (W1)
normed by the reference std. W1 needs the whole distribution, but a drift check
must never reload the reference rows, so the reference is kept as at most
``size`` weighted centroids (each the mean of a contiguous run of sorted values).

Why centroids and not bare quantiles: moving every value to the mean of its run
is a monotone transport plan, and monotone plans are optimal in 1-D, so the cost
of that move *is* ``W1(data, sketch)``. We compute it exactly while building
(``error``), and because W1 is a metric,

    |W1(ref, cur) - W1(ref_sketch, cur_sketch)| <= ref.error + cur.error.

Merging keeps the bound: W1 of a mixture is at most the weighted mean of the
parts' errors, and re-compressing adds its own exactly computed cost. A verdict
whose distance lies further than that bound from the threshold is therefore the
verdict Evidently computes from the raw rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_SIZE = 1024
# Fine bins per centroid in the fast (no sort) path; more bins, smaller error.
_FINE_FACTOR = 4
# If fixed-width bins leave an error above this share of the std, the data are
# heavy-tailed or clumped: pay for a sort and cut equal-count runs instead.
_REL_TOL = 1e-3


@dataclass(frozen=True)
class Summary:
    """One pass over a finite sample: the sketch plus exact moments."""

    sketch: QuantileSketch
    count: int
    mean: float
    m2: float  # sum of squared deviations from the mean (Chan-mergeable)
    minimum: float
    maximum: float
    distinct: dict[float, int] | None  # exact value counts when few distinct values


@dataclass(frozen=True, eq=False)
class QuantileSketch:
    """Sorted centroids (mean, count) and the exact W1 cost of the compression."""

    means: np.ndarray  # float64, ascending
    weights: np.ndarray  # int64 counts, same length
    error: float  # W1(true distribution, this sketch), in the column's units

    @property
    def count(self) -> int:
        return int(self.weights.sum())

    def to_dict(self) -> dict:
        return {
            "means": [float(v) for v in self.means],
            "weights": [int(w) for w in self.weights],
            "error": float(self.error),
        }

    @classmethod
    def from_dict(cls, data: dict) -> QuantileSketch:
        return cls(
            np.asarray(data["means"], dtype=np.float64),
            np.asarray(data["weights"], dtype=np.int64),
            float(data["error"]),
        )

    def merge(self, other: QuantileSketch, size: int = DEFAULT_SIZE) -> QuantileSketch:
        """Sketch of the union of both samples, error bound carried over."""
        na, nb = self.count, other.count
        if na == 0:
            return other
        if nb == 0:
            return self
        # Equal atoms coalesce, so exact sketches stay exact while values are few.
        means, where = np.unique(np.concatenate([self.means, other.means]), return_inverse=True)
        weights = np.bincount(where, weights=np.concatenate([self.weights, other.weights]))
        inherited = (na * self.error + nb * other.error) / (na + nb)
        return _compress(means, weights.astype(np.int64), inherited, size)

    def expand(self) -> np.ndarray:
        """A pseudo-sample (each centroid repeated by its count), for rank tests."""
        return np.repeat(self.means, self.weights)

    def histogram(self, edges: np.ndarray, lo: float, hi: float) -> np.ndarray:
        """Approximate counts per bin from the sketch's interpolated CDF.

        Each centroid is taken to sit at its mid-rank, the CDF is linear
        between centroids and pinned to 0 at ``lo`` and 1 at ``hi`` (the exact
        min and max), so a bin is off by at most the two centroids at its edges.
        """
        if self.error == 0.0:  # atoms are the exact values
            return np.histogram(self.means, bins=edges, weights=self.weights)[0]
        n = self.count
        mids = (np.cumsum(self.weights) - self.weights / 2.0) / n
        xs = np.concatenate([[lo], self.means, [hi]])
        fs = np.concatenate([[0.0], mids, [1.0]])
        cdf = np.interp(edges, xs, fs, left=0.0, right=1.0)
        return np.diff(cdf) * n


def summarise(x: np.ndarray, size: int = DEFAULT_SIZE, max_distinct: int = 64) -> Summary:
    """Summarise finite values ``x`` (any numeric dtype, no NaN/inf) in a few passes.

    Fast path: fixed-width bins over [min, max] via ``bincount`` (no sort). The
    per-bin deviations it needs for the error bound also give the exact second
    moment and, when every bin holds one value, the exact value counts for free.
    """
    n = int(x.size)
    if n == 0:
        empty = QuantileSketch(np.zeros(0), np.zeros(0, dtype=np.int64), 0.0)
        return Summary(empty, 0, float("nan"), 0.0, float("nan"), float("nan"), {})
    lo, hi = float(x.min()), float(x.max())
    if lo == hi:
        sketch = QuantileSketch(np.array([lo]), np.array([n], dtype=np.int64), 0.0)
        return Summary(sketch, n, lo, 0.0, lo, hi, {_key(lo, x.dtype): n})
    nbins = size * _FINE_FACTOR
    xf = x if x.dtype.kind == "f" else x.astype(np.float64)
    scale = nbins / (hi - lo)
    idx = ((xf - xf.dtype.type(lo)) * xf.dtype.type(scale)).astype(np.intp)
    np.clip(idx, 0, nbins - 1, out=idx)
    counts = np.bincount(idx, minlength=nbins)
    sums = np.bincount(idx, weights=xf, minlength=nbins)
    filled = counts > 0
    bin_means = np.zeros(nbins)
    bin_means[filled] = sums[filled] / counts[filled]
    dev = xf - bin_means[idx]
    abs_dev = np.bincount(idx, weights=np.abs(dev), minlength=nbins)
    sq_dev = np.bincount(idx, weights=dev * dev, minlength=nbins)
    del dev, idx
    mean = float(sums.sum() / n)
    c, m, w = counts[filled], bin_means[filled], abs_dev[filled]
    m2 = float(sq_dev.sum() + (c * (m - mean) ** 2).sum())
    exact = _exact_values(x, c, m, w, size)
    if exact is not None:  # few distinct values: the sketch is the data itself
        means, weights = exact
        sketch = QuantileSketch(means.astype(np.float64), weights, 0.0)
        distinct = None
        if means.size <= max_distinct:
            distinct = {_key(v, x.dtype): int(k) for v, k in zip(means, weights, strict=True)}
        return Summary(sketch, n, mean, m2, lo, hi, distinct)
    error = float(w.sum() / n)
    if error > _REL_TOL * (m2 / n) ** 0.5:
        means, weights, error = _sorted_runs(xf, nbins)
    else:
        means, weights = m, c.astype(np.int64)
    return Summary(_compress(means, weights, error, size), n, mean, m2, lo, hi, None)


def _key(value: float, dtype: np.dtype) -> float | int:
    return int(value) if dtype.kind in "iu" else float(value)


def _exact_values(x, counts, means, abs_dev, size) -> tuple[np.ndarray, np.ndarray] | None:
    """(values, counts) when there are at most ``size`` distinct values, else None."""
    if counts.size > size:
        return None  # at least one distinct value per filled bin
    if not abs_dev.any():  # every bin holds a single repeated value
        return means, counts.astype(np.int64)
    values, value_counts = np.unique(x, return_counts=True)
    if values.size > size:
        return None
    return values, value_counts.astype(np.int64)


def _sorted_runs(x: np.ndarray, runs: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Equal-count runs of the sorted sample: robust to outliers, costs a sort."""
    xs = np.sort(x)
    n = xs.size
    starts = np.unique(np.linspace(0, n, num=min(runs, n) + 1).astype(np.int64)[:-1])
    weights = np.diff(np.append(starts, n))
    means = np.add.reduceat(xs, starts, dtype=np.float64) / weights
    dev = np.abs(xs - np.repeat(means, weights))
    error = float(dev.sum() / n)
    return means, weights.astype(np.int64), error


def _compress(means, weights, error, size) -> QuantileSketch:
    """Group consecutive centroids into at most ``size`` groups.

    Groups are balanced on sqrt(weight * span), i.e. centroid density follows
    sqrt(density): the optimal allocation for W1 quantisation in 1-D, which
    keeps the error low in the tails where equal-weight groups get very wide.
    The extra W1 cost is exactly sum(w * |m - group mean|) / total, because
    grouping contiguous sorted atoms is again a monotone (optimal) plan.
    """
    total = int(weights.sum())
    if means.size <= size:
        return QuantileSketch(means, weights, error)
    gaps = np.diff(means)
    span = np.concatenate([gaps[:1], (gaps[:-1] + gaps[1:]) / 2.0, gaps[-1:]])
    key = np.sqrt(weights * span)
    if not key.any():
        key = np.ones_like(key)
    cum = np.cumsum(key) - key / 2.0
    group = np.minimum((cum * (size / key.sum())).astype(np.intp), size - 1)
    g_w = np.bincount(group, weights=weights, minlength=size)
    g_s = np.bincount(group, weights=means * weights, minlength=size)
    keep = g_w > 0
    g_m = np.zeros(size)
    g_m[keep] = g_s[keep] / g_w[keep]
    extra = float((weights * np.abs(means - g_m[group])).sum() / total)
    return QuantileSketch(g_m[keep], g_w[keep].astype(np.int64), error + extra)


def wasserstein(a: QuantileSketch, b: QuantileSketch) -> float:
    """W1 between two weighted centroid sets: integral of |F_a - F_b| dx."""
    points = np.union1d(a.means, b.means)
    if points.size < 2:
        return 0.0
    fa = _cdf(a, points[:-1])
    fb = _cdf(b, points[:-1])
    return float(np.sum(np.abs(fa - fb) * np.diff(points)))


def _cdf(s: QuantileSketch, points: np.ndarray) -> np.ndarray:
    cum = np.concatenate([[0], np.cumsum(s.weights)]) / s.count
    return cum[np.searchsorted(s.means, points, side="right")]
