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
#: The longest text ``finish_reasons_text`` makes: every character of every reason
#: written as a six-character escape, quotes and commas, and the "+N more" entry.
REASONS_TEXT_MAX = (FINISH_REASONS_MAX + 1) * (FINISH_REASON_CHARS * 6 + 3) + 2


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
    if len(value) == 1 and type(value[0]) is str and 0 < len(value[0]) <= FINISH_REASON_CHARS:
        return value  # the common case (one choice), without building a new list
    reasons = [r[:FINISH_REASON_CHARS] for r in value[:FINISH_REASONS_MAX] if type(r) is str]
    if len(value) > FINISH_REASONS_MAX:
        reasons.append(f"+{len(value) - FINISH_REASONS_MAX} more")
    return reasons or None


def finish_reasons_text(value: Any) -> str | None:
    """``bounded_reasons`` as the JSON list the column keeps."""
    if type(value) is list and len(value) == 1 and type(value[0]) is str \
            and 0 < len(value[0]) <= FINISH_REASON_CHARS:
        return jsontext.dumps(value)  # the common case, at the writer's pace
    reasons = bounded_reasons(value)
    return jsontext.dumps(reasons) if reasons else None


def params_text(value: Any) -> str | None:
    """The sampling params sent, as a JSON object: as they are when at most
    ``PARAMS_KEYS`` of them fit in ``PARAMS_CHARS`` of JSON (the SDK and gateway send
    only scalars and short lists, so one dump is all a row costs the writer).
    Otherwise cut down to scalars (and lists of at most 8 of them, for ``stop``),
    strings to ``PARAM_CHARS``, and params that still do not fit are dropped and
    counted under ``"_dropped"``; objects (tools, say) are not sampling parameters,
    and the request column keeps them."""
    if type(value) is not dict or not value:
        return None
    if len(value) <= PARAMS_KEYS:  # the common case: a few short params, dumped once
        text = jsontext.dumps(value)
        if len(text) <= PARAMS_CHARS:
            return text
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
