"""Column kinds (Evidently's inference rules) and the extractors that turn LLM
text, outputs and call records into numeric/categorical columns.

Kind inference mirrors ``evidently.core.datasets.infer_column_type`` (0.7.x):
floats are numerical; integers are categorical when they take at most
``INTEGER_CARDINALITY_LIMIT`` = 10 distinct values, numerical otherwise; bools
are categorical; strings are text when more than half of the non-missing values
are distinct, categorical otherwise. Evidently infers kinds on the *current*
dataset; so does :func:`trimtab.observe.drift.check_drift`.

Raw text is never tested directly (Evidently trains a domain classifier for
that); instead :func:`text_features` derives length, character classes, script
mix and the unseen-token rate, which drift like any other column.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from trimtab.errors import TrimtabError

NUMERICAL, CATEGORICAL, TEXT, UNKNOWN = "numerical", "categorical", "text", "unknown"
INTEGER_CARDINALITY_LIMIT = 10


def infer_kind(dtype: np.dtype | None, count: int, distinct: int | None) -> str:
    """Evidently's rule; ``dtype`` None means labels (strings), ``distinct`` None means many."""
    if dtype is None:
        return TEXT if distinct > 0.5 * count else CATEGORICAL
    if dtype.kind == "f":
        return NUMERICAL
    if distinct is not None and distinct <= INTEGER_CARDINALITY_LIMIT:
        return CATEGORICAL
    return NUMERICAL


def normalise(name: str, values: Any, *, force_categorical: bool = False):
    """Split a column into (finite numeric array | label counts, missing count).

    Returns ``(np.ndarray, missing)`` for numbers and ``(dict, missing)`` of label
    counts for strings/bools. Never copies a clean float/int array.
    """
    arr = values if isinstance(values, np.ndarray) else None
    if arr is None:
        seq = values if isinstance(values, Sequence) else list(values)
        probe = next((v for v in seq if v is not None and v == v), None)
        if isinstance(probe, (int, float, np.number)) and not isinstance(probe, (bool, np.bool_)):
            arr = np.array([np.nan if v is None else v for v in seq], dtype=np.float64)
            if all(isinstance(v, (int, np.integer)) for v in seq):
                arr = arr.astype(np.int64)
        else:
            return _label_counts(name, seq)
    if arr.ndim != 1:
        raise TrimtabError(f"column {name!r} has shape {arr.shape}; pass one value per row")
    kind = arr.dtype.kind
    if kind in "iu" and force_categorical:
        uniq, cnt = np.unique(arr, return_counts=True)
        return {int(u): int(c) for u, c in zip(uniq, cnt, strict=True)}, 0
    if kind == "f" and force_categorical:
        finite = arr[np.isfinite(arr)]
        uniq, cnt = np.unique(finite, return_counts=True)
        return {float(u): int(c) for u, c in zip(uniq, cnt, strict=True)}, arr.size - finite.size
    if kind in "iu":
        return arr, 0
    if kind == "f":
        finite = np.isfinite(arr)
        if finite.all():
            return arr, 0
        kept = arr[finite]
        return kept, arr.size - kept.size
    if kind == "b":
        trues = int(np.count_nonzero(arr))
        counts = {False: arr.size - trues, True: trues}
        return {k: v for k, v in counts.items() if v}, 0
    if kind in "USO":
        return _label_counts(name, arr.tolist())
    raise TrimtabError(
        f"column {name!r} has dtype {arr.dtype}, which drift checks do not handle; "
        "convert it to numbers or strings (e.g. a timestamp to an hour-of-day number)"
    )


def _label_counts(name: str, seq: Sequence[Any]) -> tuple[dict[Any, int], int]:
    try:
        counts: dict[Any, int] = Counter(seq)
    except TypeError:  # unhashable values: lists, dicts
        bad = next(v for v in seq if not isinstance(v, Hashable))
        raise TrimtabError(
            f"column {name!r} holds a {type(bad).__name__} value ({bad!r:.40}); "
            "drift checks take numbers, strings or bools: convert it first"
        ) from None
    missing = 0
    clean: dict[Any, int] = {}
    for key, n in counts.items():
        if key is None or (isinstance(key, float) and key != key):
            missing += n
            continue
        if isinstance(key, np.generic):
            key = key.item()
        if not isinstance(key, (str, int, float, bool)):
            raise TrimtabError(
                f"column {name!r} holds a {type(key).__name__} value ({key!r:.40}); "
                "drift checks take numbers, strings or bools: convert it first"
            )
        clean[key] = clean.get(key, 0) + n
    return clean, missing


# ---------------------------------------------------------------- text features

_TOKEN = re.compile(r"\w+", re.UNICODE)
_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK", "ARABIC", "HEBREW", "DEVANAGARI", "HANGUL",
            "HIRAGANA", "KATAKANA", "CJK", "THAI")


def _script(text: str) -> str:
    """Dominant Unicode script of the letters: a dependency-free proxy for language mix."""
    tally: Counter[str] = Counter()
    for ch in text:
        if ch.isalpha():
            uname = unicodedata.name(ch, "")
            tally[next((s for s in _SCRIPTS if uname.startswith(s)), "OTHER")] += 1
    if not tally:
        return "none"
    return tally.most_common(1)[0][0].lower()


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def vocabulary(texts: Iterable[str], limit: int = 100_000) -> dict[str, int]:
    """Document frequency of each token in the reference texts (the ``limit`` most common).

    Store it with the baseline: :func:`text_features` needs it to rate unseen tokens.
    """
    df: Counter[str] = Counter()
    for text in texts:
        df.update(set(tokens(text or "")))
    return dict(df.most_common(limit))


def text_features(
    texts: Sequence[str | None], vocab: Mapping[str, int], *, reference: bool = False,
    prefix: str = "",
) -> dict[str, np.ndarray]:
    """Numeric/categorical columns describing free text, one value per text.

    ``unseen_token_rate`` is the share of a text's tokens absent from the
    reference vocabulary. For the reference window itself (``reference=True``)
    a token counts as unseen when no *other* reference text has it
    (leave-one-out), so the reference distribution is not biased to zero.
    """
    n = len(texts)
    length = np.zeros(n)
    out = {k: np.full(n, np.nan) for k in ("letters", "digits", "spaces", "punct", "non_ascii",
                                           "unseen_token_rate")}
    script = np.empty(n, dtype=object)
    for i, text in enumerate(texts):
        if text is None:
            length[i] = np.nan
            script[i] = None
            continue
        size = len(text)
        length[i] = size
        script[i] = _script(text)
        if size:
            out["letters"][i] = sum(c.isalpha() for c in text) / size
            out["digits"][i] = sum(c.isdigit() for c in text) / size
            out["spaces"][i] = sum(c.isspace() for c in text) / size
            out["punct"][i] = sum(unicodedata.category(c).startswith("P") for c in text) / size
            out["non_ascii"][i] = sum(ord(c) > 127 for c in text) / size
        toks = tokens(text)
        if toks:
            floor = 1 if reference else 0
            out["unseen_token_rate"][i] = sum(vocab.get(t, 0) <= floor for t in toks) / len(toks)
    cols = {"length": length, **{f"{k}_share" if k != "unseen_token_rate" else k: v
                                 for k, v in out.items()}, "script": script}
    return {prefix + k: v for k, v in cols.items()}


# -------------------------------------------------------------- output features

_REFUSAL = re.compile(
    r"\b(i\s*(?:'m| am)\s*(?:sorry|unable|not able)|i\s*(?:can(?:'|no)t|cannot|won't)\s+"
    r"(?:help|assist|provide|comply|do that)|as an ai\b|i must decline)",
    re.IGNORECASE,
)


def output_features(
    outputs: Sequence[str | None], *, labels: Sequence[Any] | None = None,
    expect_json: bool = False, prefix: str = "output_",
) -> dict[str, np.ndarray]:
    """Columns for model outputs: length, empty and refusal flags, JSON validity, label.

    Refusals are matched by a short English phrase list; pass your own flag
    column if your prompts are in another language.
    """
    n = len(outputs)
    length = np.array([np.nan if o is None else len(o) for o in outputs], dtype=np.float64)
    empty = np.array([o is None or not o.strip() for o in outputs], dtype=bool)
    refusal = np.array([bool(o) and _REFUSAL.search(o) is not None for o in outputs], dtype=bool)
    cols: dict[str, np.ndarray] = {"length": length, "empty": empty, "refusal": refusal}
    if expect_json:
        cols["json_valid"] = np.array([_is_json(o) for o in outputs], dtype=bool)
    if labels is not None:
        if len(labels) != n:
            raise TrimtabError(
                f"labels has {len(labels)} values for {n} outputs; pass one per output")
        cols["label"] = np.array(list(labels), dtype=object)
    return {prefix + k: v for k, v in cols.items()}


def _is_json(text: str | None) -> bool:
    if not text:
        return False
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def ops_features(
    cost_micro_usd: Sequence[int | None], latency_ms: Sequence[float | None],
) -> dict[str, np.ndarray]:
    """Cost per call (USD, float: a distribution, never summed) and latency columns."""
    if len(cost_micro_usd) != len(latency_ms):
        raise TrimtabError("cost and latency must have one value per call each")
    cost = np.array([np.nan if c is None else c / 1e6 for c in cost_micro_usd], dtype=np.float64)
    latency = np.array([np.nan if v is None else v for v in latency_ms], dtype=np.float64)
    return {"cost_usd": cost, "latency_ms": latency}
