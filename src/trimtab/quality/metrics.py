"""The arithmetic of evals: classification metrics, fairness gaps, and whether a
difference between two runs on the same cases is more than chance.

Standard library only, so the `trimtab eval` gate needs no scientific stack.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any


def classification_report(expected: list[str], predicted: list[str]) -> dict[str, Any]:
    """Accuracy, per-class precision/recall/F1/support, macro-F1 and the confusion matrix
    (``confusion[expected][predicted]``). A class never predicted has precision 0; the
    macro average is over the classes that occur in ``expected``."""
    total = len(expected)
    pairs = Counter(zip(expected, predicted, strict=True))
    classes = sorted(set(expected))
    per_class: dict[str, dict[str, float | int]] = {}
    for label in classes:
        tp = pairs[(label, label)]
        predicted_as = sum(n for (_, p), n in pairs.items() if p == label)
        support = sum(n for (e, _), n in pairs.items() if e == label)
        precision = tp / predicted_as if predicted_as else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {"precision": round(precision, 6), "recall": round(recall, 6),
                            "f1": round(f1, 6), "support": support}
    confusion: dict[str, dict[str, int]] = {}
    for (e, p), n in sorted(pairs.items()):
        confusion.setdefault(e, {})[p] = n
    return {
        "accuracy": sum(n for (e, p), n in pairs.items() if e == p) / total if total else 0.0,
        "macro_f1": (sum(float(c["f1"]) for c in per_class.values()) / len(per_class)
                     if per_class else 0.0),
        "classes": per_class,
        "confusion": confusion,
    }


def mcnemar_exact(improved: int, regressed: int) -> float:
    """Two-sided p-value of McNemar's exact test on paired pass/fail outcomes.

    Only the discordant pairs count: under "no difference" a case that changed
    is as likely to have improved as regressed, so ``min(b, c)`` is binomial
    (n = b + c, p = 1/2).
    """
    n = improved + regressed
    if n == 0:
        return 1.0
    k = min(improved, regressed)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def largest_gap(values: dict[str, float | None]) -> tuple[float | None, str | None, str | None]:
    """(gap, best group, worst group) over groups with a value; None when fewer than two."""
    known = {g: v for g, v in values.items() if v is not None}
    if len(known) < 2:
        return None, None, None
    best = max(known, key=lambda g: known[g])
    worst = min(known, key=lambda g: known[g])
    return known[best] - known[worst], best, worst


def num(value: float | None) -> str:
    """A metric as printed: three decimals, n/a when there were no cases."""
    return "n/a" if value is None else f"{value:.3f}"


def wilson(passed: int, total: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The Wilson score interval (95% by default) for a share ``passed / total``."""
    if total == 0:
        return 0.0, 1.0
    share = passed / total
    centre = (share + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(share * (1 - share) / total + z * z / (4 * total * total)) / (
        1 + z * z / total)
    return max(0.0, centre - half), min(1.0, centre + half)


def cohen_kappa(pairs: list[tuple[str, str]]) -> float | None:
    """Agreement of two raters beyond chance over the items both rated; None when
    there is nothing to compare, 1.0 when both always gave one same label."""
    if not pairs:
        return None
    n = len(pairs)
    observed = sum(a == b for a, b in pairs) / n
    first = Counter(a for a, _ in pairs)
    second = Counter(b for _, b in pairs)
    expected = sum(first[label] * second[label] for label in first) / (n * n)
    if expected == 1.0:
        return 1.0 if observed == 1.0 else 0.0
    return (observed - expected) / (1 - expected)
