"""How right a classic model's predictions were, once their true labels arrived.

Per window and release: accuracy, precision/recall/F1 per class and macro-F1
(classes), MAE and RMSE (numbers). A window holds the labels that *arrived*
in it, grouped by the release that made each prediction: a label is known
only when it arrives, so a rule over the last day reads the last day's
verdicts instead of waiting for predictions whose truth is weeks away.

The store counts (label, prediction) pairs and sums errors; nothing here
loads one row per label. A numeric target has a pair per label, so past
MAX_PAIRS pairs the per-class scores are skipped and MAE/RMSE remain.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from trimtab.store import labels as label_store

if TYPE_CHECKING:
    from trimtab.store import Store

MAX_PAIRS = 10_000
MAX_CLASSES = 100


@dataclass(frozen=True)
class ClassScores:
    label: str
    support: int  # labels of this class
    predicted: int  # predictions of this class
    precision: float
    recall: float
    f1: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class LabelMetrics:
    """One system's label metrics over a window, for one release or (``release_id``
    "*") all of them together. None where a metric does not apply."""

    system: str
    env: str | None
    release_id: str | None  # "*": every release; None: calls made with no release
    start: datetime
    end: datetime
    labels: int
    correct: int
    numeric: int  # labels where label and prediction are both numbers
    mae: float | None
    rmse: float | None
    classes: list[ClassScores] | None = field(default=None)
    note: str = ""

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.labels if self.labels else None

    @property
    def macro_f1(self) -> float | None:
        if not self.classes:
            return None
        return sum(c.f1 for c in self.classes) / len(self.classes)

    def scores_of(self, label: str) -> ClassScores | None:
        return next((c for c in self.classes or () if c.label == label), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "system": self.system, "env": self.env, "release_id": self.release_id,
            "start": self.start.isoformat(), "end": self.end.isoformat(),
            "labels": self.labels, "correct": self.correct, "accuracy": self.accuracy,
            "macro_f1": self.macro_f1, "numeric": self.numeric, "mae": self.mae,
            "rmse": self.rmse,
            "classes": None if self.classes is None else [c.to_dict() for c in self.classes],
            "note": self.note,
        }


ALL = "*"


def compute(store: Store, system: str, *, window: timedelta = timedelta(days=7),
            end: datetime | None = None, env: str | None = None) -> list[LabelMetrics]:
    """All releases together first, then each release (newest label counts only
    decide membership, not order: releases sort by id). Empty when no label
    arrived in the window."""
    end = end or datetime.now(UTC)
    start = end - window
    with store.read() as conn:
        totals = label_store.totals(conn, system=system, start=start, end=end, env=env)
        pairs = label_store.confusion(conn, system=system, start=start, end=end, env=env,
                                      limit=MAX_PAIRS) if totals else []
    if not totals:
        return []
    too_many = len(pairs) > MAX_PAIRS
    per_release: dict[str | None, dict[tuple[str, str], int]] = defaultdict(dict)
    overall: dict[tuple[str, str], int] = defaultdict(int)
    if not too_many:
        for release, value, predicted, count in pairs:
            per_release[release][(value, predicted)] = count
            overall[(value, predicted)] += count
    sums = [0, 0, 0, 0.0, 0.0]
    rows = []
    for release, labels, correct, numeric, abs_sum, sq_sum in totals:
        for i, v in enumerate((labels, correct, numeric, abs_sum, sq_sum)):
            sums[i] += v
        rows.append(_metrics(system, env, release, start, end, labels, correct, numeric,
                             abs_sum, sq_sum, None if too_many else per_release[release]))
    labels, correct, numeric, abs_sum, sq_sum = sums
    together = _metrics(system, env, ALL, start, end, int(labels), int(correct), int(numeric),
                        float(abs_sum), float(sq_sum), None if too_many else dict(overall))
    return [together, *rows]


def _metrics(system, env, release, start, end, labels, correct, numeric, abs_sum, sq_sum,
             pairs: dict[tuple[str, str], int] | None) -> LabelMetrics:
    classes, note = None, ""
    if pairs is None:
        note = (f"more than {MAX_PAIRS:,} distinct (label, prediction) pairs: per-class "
                "scores skipped (a numeric target reads MAE and RMSE)")
    else:
        classes, note = _classes(pairs)
    return LabelMetrics(
        system=system, env=env, release_id=release, start=start, end=end, labels=labels,
        correct=correct, numeric=numeric,
        mae=abs_sum / numeric if numeric else None,
        rmse=math.sqrt(sq_sum / numeric) if numeric else None,
        classes=classes, note=note)


def _classes(pairs: dict[tuple[str, str], int]) -> tuple[list[ClassScores] | None, str]:
    """Per class of the labels and predictions: precision, recall, F1 (0 where a
    class was never predicted or never true, as scikit-learn's zero_division=0)."""
    support: dict[str, int] = defaultdict(int)
    predicted: dict[str, int] = defaultdict(int)
    hits: dict[str, int] = defaultdict(int)
    for (value, guess), count in pairs.items():
        support[value] += count
        predicted[guess] += count
        if value == guess:
            hits[value] += count
    names = sorted(set(support) | set(predicted))
    if len(names) > MAX_CLASSES:
        return None, (f"{len(names):,} distinct classes (more than {MAX_CLASSES}): per-class "
                      "scores skipped")
    scores = []
    for name in names:
        p = hits[name] / predicted[name] if predicted[name] else 0.0
        r = hits[name] / support[name] if support[name] else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        scores.append(ClassScores(name, support[name], predicted[name], p, r, f1))
    return scores, ""
