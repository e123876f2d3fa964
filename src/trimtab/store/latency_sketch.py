"""A mergeable latency sketch with a guaranteed relative error (DDSketch-style).

Values fall into logarithmic buckets of ratio gamma = (1 + a) / (1 - a); any
quantile read back lies within ``a`` (1%) of the true value. Two sketches merge
by adding bucket counts, so per-minute rollups sum into any window without
keeping raw latencies.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import orjson

ACCURACY = 0.01
GAMMA = (1 + ACCURACY) / (1 - ACCURACY)
_LOG_GAMMA = math.log(GAMMA)
MIN_VALUE = 1e-3  # ms; anything faster is reported as this
MAX_VALUE = 1e9  # ms (11 days); anything slower, or not a number, is counted as this


def bucket_of(value_ms: float) -> int:
    """The bucket a value falls in (rollups compute it once per call, then count)."""
    if not value_ms < MAX_VALUE:  # inf and NaN too: a bad value must not stop the writer
        value_ms = MAX_VALUE
    return math.ceil(math.log(max(value_ms, MIN_VALUE)) / _LOG_GAMMA)


class LatencySketch:
    __slots__ = ("buckets", "count", "total", "max")

    def __init__(self) -> None:
        self.buckets: dict[int, int] = {}
        self.count = 0
        self.total = 0.0
        self.max = 0.0

    def add(self, value_ms: float, count: int = 1) -> None:
        index = bucket_of(value_ms)
        self.buckets[index] = self.buckets.get(index, 0) + count
        self.count += count
        self.total += value_ms * count
        self.max = max(self.max, value_ms)

    def merge(self, other: LatencySketch) -> LatencySketch:
        for index, n in other.buckets.items():
            self.buckets[index] = self.buckets.get(index, 0) + n
        self.count += other.count
        self.total += other.total
        self.max = max(self.max, other.max)
        return self

    def copy(self) -> LatencySketch:
        sketch = LatencySketch()
        sketch.buckets = dict(self.buckets)
        sketch.count, sketch.total, sketch.max = self.count, self.total, self.max
        return sketch

    def quantile(self, q: float) -> float | None:
        if self.count == 0:
            return None
        rank = q * (self.count - 1)
        seen = 0
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if seen > rank:
                return min(2 * GAMMA**index / (GAMMA + 1), self.max)
        return self.max

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    def to_json(self) -> str:
        # The recorder serialises every rollup row a batch touches: orjson, buckets
        # in whatever order they were counted (readers key them by index).
        return orjson.dumps(
            {"b": self.buckets, "n": self.count, "s": round(self.total, 6), "m": self.max},
            option=orjson.OPT_NON_STR_KEYS,
        ).decode()

    @classmethod
    def from_json(cls, text: str) -> LatencySketch:
        data = orjson.loads(text)
        sketch = cls()
        sketch.buckets = {int(k): v for k, v in data["b"].items()}
        sketch.count, sketch.total, sketch.max = data["n"], data["s"], data["m"]
        return sketch

    @classmethod
    def of(cls, values: Iterable[float]) -> LatencySketch:
        sketch = cls()
        for value in values:
            sketch.add(value)
        return sketch
