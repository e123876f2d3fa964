"""Compare a reference profile with a current window, column by column."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trimtab.errors import TrimtabError
from trimtab.observe.drift import report as r
from trimtab.observe.drift.columns import CATEGORICAL, NUMERICAL, TEXT
from trimtab.observe.drift.profiles import (
    CategoricalProfile,
    ColumnProfile,
    DatasetProfile,
    NumericProfile,
    profile,
)
from trimtab.observe.drift.statistics import TESTS, _Untestable, choose_test, counts_of, run_test

Window = DatasetProfile | Mapping[str, Any]


def check_drift(
    reference: Window,
    current: Window,
    *,
    columns: list[str] | None = None,
    drift_share: float = 0.5,
    method: str | None = None,
    per_column_method: Mapping[str, str] | None = None,
    threshold: float | None = None,
    per_column_threshold: Mapping[str, float] | None = None,
    kinds: Mapping[str, str] | None = None,
) -> r.DriftReport:
    """Drift verdicts of ``current`` against ``reference``, Evidently's defaults.

    Either window may be a :class:`DatasetProfile` (a stored baseline) or raw
    ``{column: values}``; raw windows are profiled here, keeping their rows in
    memory so rank tests (KS) stay exact. ``method``/``threshold`` override
    Evidently's choice for every column, the ``per_column_*`` maps for one.
    Raises :class:`TrimtabError` for empty windows and bad options; anything
    wrong with a single column becomes a "not tested" verdict with a reason.
    """
    ref = _as_profile(reference, "reference", kinds)
    cur = _as_profile(current, "current", kinds)
    if not 0 < drift_share <= 1:
        raise TrimtabError(
            f"drift_share={drift_share} must be in (0, 1]; Evidently's default is 0.5")
    for name in [method, *(per_column_method or {}).values()]:
        if name is not None and name not in TESTS:
            raise TrimtabError(f"unknown drift test {name!r}; choose one of {sorted(TESTS)}")
    names = columns if columns is not None else list(dict.fromkeys([*ref.columns, *cur.columns]))
    verdicts = []
    for name in names:
        chosen = (per_column_method or {}).get(name, method)
        limit = (per_column_threshold or {}).get(name, threshold)
        verdicts.append(_check_column(name, ref.columns.get(name), cur.columns.get(name),
                                      chosen, limit))
    return r.DriftReport(verdicts, drift_share, ref.rows, cur.rows)


def _as_profile(window: Window, which: str, kinds: Mapping[str, str] | None) -> DatasetProfile:
    if isinstance(window, DatasetProfile):
        prof = window
    elif isinstance(window, Mapping):
        try:
            prof = profile(window, kinds=kinds, keep_raw=True)
        except TrimtabError as exc:
            raise TrimtabError(f"{which} window: {exc}") from None
    else:
        raise TrimtabError(
            f"the {which} window is a {type(window).__name__}; pass a DatasetProfile or "
            "a mapping {column: values}"
        )
    if prof.rows == 0:
        raise TrimtabError(
            f"the {which} window has no rows; widen the time window or wait for traffic "
            "before checking drift"
        )
    return prof


def _check_column(name: str, ref: ColumnProfile | None, cur: ColumnProfile | None,
                  method: str | None, threshold: float | None) -> r.ColumnVerdict:
    if ref is None or cur is None:
        which = "reference" if ref is None else "current"
        status = r.MISSING_IN_REFERENCE if ref is None else r.MISSING_IN_CURRENT
        return r.ColumnVerdict(
            name, status, reason=f"column {name!r} is absent from the {which} window; "
            "log it in both windows or leave it out with columns=",
            n_reference=getattr(ref, "count", 0), n_current=getattr(cur, "count", 0))
    sizes = dict(n_reference=ref.count, n_current=cur.count,
                 missing_reference=ref.missing, missing_current=cur.missing)
    # An all-missing column has no type of its own: it is empty, not mismatched.
    for which, p in (("reference", ref), ("current", cur)):
        if p.count == 0:
            return r.ColumnVerdict(
                name, r.NO_DATA, kind=cur.kind if cur.count else ref.kind,
                reason=f"every value of {name!r} is missing (None/NaN/inf) in the {which} "
                "window; fix its logging or drop the column", **sizes)
    if type(ref) is not type(cur):
        kinds = ("numeric" if isinstance(p, NumericProfile) else "labels" for p in (ref, cur))
        return r.ColumnVerdict(
            name, r.TYPE_MISMATCH, reason="reference holds {} but current holds {}; fix the "
            "logging so both windows have the same type".format(*kinds), **sizes)
    kind = cur.kind  # Evidently infers column types on the current dataset
    notes = []
    if kind == TEXT:
        return r.ColumnVerdict(
            name, r.TEXT_COLUMN, kind=kind, reason="free-text column (most values distinct); "
            "derive numeric columns with trimtab.observe.drift.text_features() and check those, or "
            "pass kinds={...: 'categorical'}", **sizes)
    if kind == CATEGORICAL and (counts_of(ref) is None or counts_of(cur) is None):
        if isinstance(ref, NumericProfile):
            kind = NUMERICAL
            notes.append("tested as numerical: the reference has too many distinct values "
                         "to compare as categories")
        else:
            return r.ColumnVerdict(
                name, r.UNTESTABLE, kind=kind, reason="more categories than the profile "
                "keeps; group rare labels into 'other' before profiling", **sizes)
    test = method or choose_test(ref, cur, kind)
    # Evidently's own choice may put chi2/Z/JS on few-valued numbers; a user's may not.
    if method and (kind not in TESTS[test].kinds or isinstance(ref, CategoricalProfile)
                   and kind == NUMERICAL):
        raise TrimtabError(
            f"column {name!r} is {kind}; test {test!r} applies to {'/'.join(TESTS[test].kinds)} "
            "columns only: pick another method for it with per_column_method=")
    try:
        res = run_test(test, ref, cur, kind, threshold)
    except _Untestable as exc:
        return r.ColumnVerdict(name, r.UNTESTABLE, kind=kind, test=test, reason=str(exc), **sizes)
    notes.extend(n for n in [res.note] if n)
    return r.ColumnVerdict(
        name, r.TESTED, kind=kind, test=res.test, test_label=res.label,
        statistic=res.statistic, p_value=res.p_value, score=res.score,
        threshold=res.threshold, drifted=bool(res.drifted), exact=res.exact,
        error_bound=res.error_bound, reason="; ".join(notes) or None, **sizes)
