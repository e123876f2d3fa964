"""The optional filters of a listing (calls, audit entries, alert events), built one way."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, Table

_Q = TypeVar("_Q", bound=Select)


def matching(query: _Q, table: Table, *, since: datetime | None = None,
             until: datetime | None = None, **equal: Any) -> _Q:
    """``query`` narrowed to rows whose columns equal the values given and whose
    ``time`` is in [since, until); a value of None leaves its column open."""
    for column, value in equal.items():
        if value is not None:
            query = query.where(table.c[column] == value)
    if since is not None:
        query = query.where(table.c.time >= since)
    if until is not None:
        query = query.where(table.c.time < until)
    return query
