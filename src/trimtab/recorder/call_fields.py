"""The answer columns of a call row (response id, finish reasons, sampling params),
made storable and bounded.

They come from outside: a provider's answer (an upstream may be hostile or broken
and send a 10 MB id or 10,000 finish reasons), a caller's params, or a hand-made
spool line. The writer passes every row through here (``values_from_spool``), so
each row costs a few hundred bytes at most whatever arrived; the bounds are in
store/call_columns.py and documented in docs/store.md.
"""

from __future__ import annotations

import math
from typing import Any

from trimtab import jsontext
from trimtab.store.call_columns import (
    FINISH_REASON_CHARS,
    FINISH_REASONS_MAX,
    PARAM_CHARS,
    PARAMS_CHARS,
    PARAMS_KEYS,
    RESPONSE_ID_CHARS,
)

_KEY_CHARS = 64
_LIST_ITEMS = 8


def response_id_text(value: Any) -> str | None:
    """The provider's id, cut to ``RESPONSE_ID_CHARS``; None for anything not a text."""
    if type(value) is not str or not value:
        return None
    return value[:RESPONSE_ID_CHARS]


def bounded_reasons(value: Any) -> list[str] | None:
    """At most ``FINISH_REASONS_MAX`` reasons (one per choice), each cut to
    ``FINISH_REASON_CHARS``; when more came, a last entry ``"+N more"`` counts them,
    so a reader sees that the list was cut rather than a wrong number of choices."""
    if type(value) is str:
        value = [value]
    if type(value) is not list:
        return None
    reasons = [r[:FINISH_REASON_CHARS] for r in value[:FINISH_REASONS_MAX] if type(r) is str]
    if len(value) > FINISH_REASONS_MAX:
        reasons.append(f"+{len(value) - FINISH_REASONS_MAX} more")
    return reasons or None


def finish_reasons_text(value: Any) -> str | None:
    """``bounded_reasons`` as the JSON list the column keeps."""
    reasons = bounded_reasons(value)
    return jsontext.dumps(reasons) if reasons else None


def params_text(value: Any) -> str | None:
    """The sampling params sent, as a JSON object of scalars (and short lists of them,
    for ``stop``): at most ``PARAMS_KEYS`` keys, strings cut to ``PARAM_CHARS``, and
    ``PARAMS_CHARS`` of JSON in all. Params that do not fit are dropped and counted
    under ``"_dropped"``; values that are not scalars (objects, tools) are left out,
    since they are not sampling parameters and the request column keeps them."""
    if type(value) is not dict or not value:
        return None
    kept: dict[str, Any] = {}
    for key, item in value.items():
        if len(kept) == PARAMS_KEYS:
            break
        if type(key) is not str:
            continue
        if type(item) is list:
            scalars = [v for v in map(_scalar, item[:_LIST_ITEMS]) if v is not _SKIP]
            item = scalars if scalars or not item else _SKIP  # tools: not a sampling param
        else:
            item = _scalar(item)
        if item is not _SKIP:
            kept[key[:_KEY_CHARS]] = item
    if not kept:
        return None
    text = jsontext.dumps(kept)
    if len(text) <= PARAMS_CHARS:
        return text
    fitting: dict[str, Any] = {}
    dropped = 0
    for key, item in kept.items():  # rare: only a hostile or odd caller gets here
        trial = jsontext.dumps({**fitting, key: item, "_dropped": len(kept)})
        if len(trial) <= PARAMS_CHARS:
            fitting[key] = item
        else:
            dropped += 1
    return jsontext.dumps({**fitting, "_dropped": dropped})


_SKIP = object()


def _scalar(value: Any) -> Any:
    if value is None or type(value) in (bool, int):
        return value
    if type(value) is float:
        return value if math.isfinite(value) else _SKIP
    if type(value) is str:
        return value[:PARAM_CHARS]
    return _SKIP
