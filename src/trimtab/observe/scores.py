"""Quality scores on recorded calls: a reviewer's or an evaluator's verdict, audited.

``quality_score`` alert rules average them (see observe/alerts.py).
"""

from __future__ import annotations

import math

from trimtab.actor import current_actor
from trimtab.errors import TrimtabError
from trimtab.store import Store
from trimtab.store import calls as call_store
from trimtab.store import scores as score_store
from trimtab.store.scores import Score


def add(store: Store, call_id: str, name: str, value: float,
        comment: str | None = None, *, actor: str | None = None) -> Score:
    if not name or len(name) > 100:
        raise TrimtabError(f"score name {name!r}: give 1 to 100 characters, e.g. helpful.")
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isfinite(value):
        raise TrimtabError(f"score value {value!r}: give a finite number, e.g. 0.8 or 4.")
    with store.write() as conn:
        call = call_store.get(conn, call_id)
        return score_store.add(conn, call, name=name, value=float(value), comment=comment,
                               actor=actor or current_actor())


def for_call(store: Store, call_id: str) -> list[Score]:
    with store.read() as conn:
        return score_store.for_call(conn, call_store.get(conn, call_id).id)
