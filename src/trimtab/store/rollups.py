"""Rollups: the call log pre-aggregated by minute, hour and day.

The recorder calls ``apply`` in the same transaction that inserts a batch,
with only the rows actually inserted, so every call is counted exactly once
even when a spool is replayed. Queries stitch a window together from day rows
in the middle, hour rows next to the edges and minute rows at the edges, so
their cost depends on the window, not on how many calls were made.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Connection, and_, or_, select

from trimtab.store import bulk
from trimtab.store.call_columns import COLUMN
from trimtab.store.latency_sketch import LatencySketch, bucket_of
from trimtab.store.schema.call_log import rollups

GRAIN = ("system", "env", "release_id", "model", "outcome")
KEY = ("resolution", "bucket", *GRAIN, "dimension", "value")
GROUPABLE = ("system", "env", "release", "model", "outcome", "user", "tag", "key")
#: The dimensions a query may break totals down by; at most one per query.
DIMENSIONS = ("user", "tag", "key")
STEP = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}


def floor(moment: datetime, resolution: str) -> datetime:
    moment = moment.replace(second=0, microsecond=0)
    if resolution in "hd":
        moment = moment.replace(minute=0)
    if resolution == "d":
        moment = moment.replace(hour=0)
    return moment


def floor_to(moment: datetime, step: timedelta) -> datetime:
    """The start of the ``step``-long slot holding ``moment`` (slots counted from
    2000-01-01 UTC, so a day's slots start at midnight)."""
    return _EPOCH + (moment - _EPOCH) // step * step


_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def ceil(moment: datetime, resolution: str) -> datetime:
    floored = floor(moment, resolution)
    return floored if floored == moment else floored + STEP[resolution]


@dataclass
class Totals:
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_micro_usd: int = 0
    cost_unknown: int = 0
    errors: int = 0
    sketch: LatencySketch = field(default_factory=LatencySketch)

    def add_totals(self, other: Totals) -> None:
        self.calls += other.calls
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cost_micro_usd += other.cost_micro_usd
        self.cost_unknown += other.cost_unknown
        self.errors += other.errors
        self.sketch.merge(other.sketch)

    def copy(self) -> Totals:
        return Totals(self.calls, self.input_tokens, self.output_tokens, self.cost_micro_usd,
                      self.cost_unknown, self.errors, self.sketch.copy())


# The same users, keys and tag sets recur call after call: work each out once.
# A gateway key's calls get "key" rows (value: the key id), so a key's monthly
# spend, what its budget is checked against, is a few rollup rows away.
@functools.lru_cache(maxsize=16_384)
def _dimensions_of(user: Any, tags: str | None, key: Any = None) -> tuple[tuple[str, str], ...]:
    found = []
    if user:
        found.append(("user", str(user)[:200]))
    if key:
        found.append(("key", str(key)[:200]))
    for key, value in (json.loads(tags) if tags else {}).items():
        found.append((f"tag:{key}"[:100], str(value)[:200]))
    return tuple(found)


# Positions of the columns the rollups read in a call row.
_TIME, _SYSTEM, _ENV, _RELEASE_ID, _MODEL, _STATUS = map(
    COLUMN.get, ("time", "system", "env", "release_id", "model", "status"))
_LATENCY_MS, _INPUT_TOKENS, _OUTPUT_TOKENS, _COST_MICRO_USD, _USER_ID, _TAGS, _KEY_ID = map(
    COLUMN.get, ("latency_ms", "input_tokens", "output_tokens", "cost_micro_usd", "user_id",
                 "tags", "api_key_id"))


def aggregate(rows: Sequence[Sequence[Any]]) -> dict[tuple, Totals]:
    """Rollup keys and totals for a batch of call rows (values in column order).

    Rows are grouped by their minute and grain, minute groups gathered into
    hours (where user and tag rows start: an hour's rows are grouped by their
    whole set of dimensions once, and each set handed to each dimension it
    names), hours into days, all as lists of row positions. Each rollup row is
    then summed from its positions with ``sum``/``max`` and a C counter: loops
    in C, not per-row Python additions or per-bucket merges.
    """
    if not rows:
        return {}
    # (minute, *grain) per row: one tuple, built in one pass.
    keys = [(r[_TIME].replace(second=0, microsecond=0), r[_SYSTEM], r[_ENV],
             r[_RELEASE_ID] or "", r[_MODEL] or "", r[_STATUS]) for r in rows]
    latencies = [r[_LATENCY_MS] for r in rows]
    tokens_in = [r[_INPUT_TOKENS] or 0 for r in rows]
    tokens_out = [r[_OUTPUT_TOKENS] or 0 for r in rows]
    costs = [r[_COST_MICRO_USD] for r in rows]
    unknown = [cost is None for cost in costs]
    costs = [cost or 0 for cost in costs]
    buckets = list(map(bucket_of, latencies))
    users = [r[_USER_ID] for r in rows]
    tags = [r[_TAGS] for r in rows]
    api_keys = [r[_KEY_ID] for r in rows]
    try:  # spooled rows hold tags as JSON text already
        dimensions = list(map(_dimensions_of, users, tags, api_keys))
    except TypeError:  # a dict: unhashable
        dimensions = list(map(_dimensions_of, users, map(_tags_text, tags), api_keys))

    by_minute: dict[tuple, list[int]] = {}
    for i, key in enumerate(keys):
        found = by_minute.get(key)
        if found is None:
            by_minute[key] = [i]
        else:
            found.append(i)
    # (hour, *grain, dimension, value) -> positions; "", "" for the plain rows.
    by_hour: dict[tuple, list[int]] = {}
    for (minute, *grain), at in by_minute.items():
        key = (minute.replace(minute=0), *grain, "", "")
        found = by_hour.get(key)
        if found is None:
            by_hour[key] = list(at)
        else:
            found.extend(at)
    shared: set[tuple] = set()  # keys whose list is a dimension set's, not their own
    for (hour, *grain, _, _), at in list(by_hour.items()):
        by_dimensions: dict[tuple, list[int]] = {}
        for i in at:
            found_dimensions = dimensions[i]
            if found_dimensions:
                found = by_dimensions.get(found_dimensions)
                if found is None:
                    by_dimensions[found_dimensions] = [i]
                else:
                    found.append(i)
        for found_dimensions, positions in by_dimensions.items():
            for dimension, value in found_dimensions:
                key = (hour, *grain, dimension, value)
                found = by_hour.get(key)
                if found is None:
                    by_hour[key] = positions  # the set's list: not to be extended
                    shared.add(key)
                elif key in shared:
                    by_hour[key] = found + positions  # now a list of its own
                    shared.discard(key)
                else:
                    found.extend(positions)
    # (day, *grain, dimension, value) -> the hour keys it gathers.
    by_day: dict[tuple, list[tuple]] = {}
    for hour_key in by_hour:
        key = (hour_key[0].replace(hour=0), *hour_key[1:])
        found = by_day.get(key)
        if found is None:
            by_day[key] = [hour_key]
        else:
            found.append(hour_key)

    def totals(at: list[int]) -> Totals:
        sketch = LatencySketch()
        # Counted in C straight into the plain dict a sketch holds.
        counted: dict[int, int] = {}
        _count_elements(counted, map(buckets.__getitem__, at))
        sketch.buckets, sketch.count = counted, len(at)
        sketch.total = sum(map(latencies.__getitem__, at))
        sketch.max = max(map(latencies.__getitem__, at))
        return Totals(calls=len(at), input_tokens=sum(map(tokens_in.__getitem__, at)),
                      output_tokens=sum(map(tokens_out.__getitem__, at)),
                      cost_micro_usd=sum(map(costs.__getitem__, at)),
                      cost_unknown=sum(map(unknown.__getitem__, at)), sketch=sketch)

    out: dict[tuple, Totals] = {}
    for key, at in by_minute.items():
        out[("m", *key, "", "")] = totals(at)
    for key, at in by_hour.items():
        out[("h", *key)] = totals(at)
    for key, hour_keys in by_day.items():
        if len(hour_keys) == 1:  # most days of a batch: a copy of its one hour
            out[("d", *key)] = out[("h", *hour_keys[0])].copy()
        else:
            out[("d", *key)] = totals([i for hour_key in hour_keys for i in by_hour[hour_key]])
    return out


try:  # the C loop behind Counter: without a Counter's per-call setup (~10 us a rollup row)
    from _collections import _count_elements
except ImportError:  # another Python: the same in Python
    def _count_elements(mapping: dict, iterable: Any) -> None:
        get = mapping.get
        for element in iterable:
            mapping[element] = get(element, 0) + 1


def _tags_text(tags: Any) -> str | None:
    return json.dumps(tags, sort_keys=True) if isinstance(tags, dict) else tags


VALUES = ("calls", "input_tokens", "output_tokens", "cost_micro_usd", "cost_unknown", "sketch")
assert tuple(c.name for c in rollups.columns) == (*KEY, "writer", *VALUES)


class RollupWriter:
    """One recorder's rollup rows, remembered so that a batch is one upsert.

    Rows are keyed by a writer id that only this object uses, so what it last
    committed is exactly what the database holds: it never reads a row before
    updating it. It reads back only rows it has forgotten: buckets older than
    ``horizon`` (evicted to bound memory) and rows a failed transaction may or
    may not have changed. Call ``apply`` inside the transaction that inserts
    the calls, then ``committed()`` after it commits, or ``failed()`` if it did
    not.
    """

    HORIZON = {"m": timedelta(minutes=15), "h": timedelta(hours=3), "d": timedelta(days=2)}

    def __init__(self, writer: str, *, new: bool = True, max_rows: int = 100_000):
        self.writer = writer
        self.max_rows = max_rows
        self._rows: dict[tuple, Totals] = {}
        self._pending: dict[tuple, Totals] = {}
        self._uncertain: set[tuple] = set()
        # Absent keys in buckets at or after this are known not stored. A new
        # writer id has no rows at all; otherwise nothing is known yet.
        far_future = datetime.max.replace(tzinfo=UTC)
        self._known_from: dict[str, datetime | None] = {r: None if new else far_future
                                                       for r in STEP}
        self._latest: dict[str, datetime] = {}

    def apply(self, conn: Connection, rows: Sequence[Sequence[Any]]) -> None:
        """Fold newly inserted call rows into this writer's rows (not yet committed)."""
        fresh = aggregate(rows)
        if not fresh:
            return
        forgotten = [k for k in fresh if k not in self._rows and self._maybe_stored(k)]
        stored = self._read(conn, forgotten) if forgotten else {}
        pending = self._pending
        values = []
        for key, totals in fresh.items():
            old = self._rows.get(key) or stored.get(key)
            if old is not None:
                # Merged in place: if the transaction fails, failed() forgets
                # every pending row, so a half-applied total is never trusted.
                pending[key] = old
                old.add_totals(totals)
                totals = old
            pending[key] = totals
            values.append((*key, self.writer, totals.calls, totals.input_tokens,
                           totals.output_tokens, totals.cost_micro_usd, totals.cost_unknown,
                           totals.sketch.to_json()))
        bulk.upsert(conn, rollups, values, key=(*KEY, "writer"), update=VALUES)

    def committed(self) -> None:
        for key in self._pending:
            latest = self._latest.get(key[0])
            if latest is None or key[1] > latest:
                self._latest[key[0]] = key[1]
        self._rows.update(self._pending)
        self._uncertain.difference_update(self._pending)
        self._pending = {}
        self._evict()

    def failed(self) -> None:
        """The transaction failed: it may still have committed (a lost reply), so
        the rows it touched are read back before their next update."""
        for key in self._pending:
            self._rows.pop(key, None)
            self._uncertain.add(key)
        self._pending = {}

    def _maybe_stored(self, key: tuple) -> bool:
        if key in self._uncertain:
            return True
        known_from = self._known_from[key[0]]
        return known_from is not None and key[1] < known_from

    def _read(self, conn: Connection, keys: list[tuple]) -> dict[tuple, Totals]:
        """The stored rows of ``keys``. Buckets go 200 to a query: a batch of
        back-dated calls (a replay, an import) spans thousands of minutes, and
        one OR over all of them passes SQLite's expression-depth limit (1000)."""
        wanted = set(keys)
        buckets = sorted({(k[0], k[1]) for k in keys})
        systems = {k[2] for k in keys}
        found = {}
        for start in range(0, len(buckets), 200):
            query = select(rollups).where(
                rollups.c.writer == self.writer,
                rollups.c.system.in_(systems),
                or_(*(and_(rollups.c.resolution == r, rollups.c.bucket == b)
                      for r, b in buckets[start:start + 200])),
            )
            for row in conn.execute(query):
                key = tuple(row._mapping[c] for c in KEY)
                if key in wanted:
                    found[key] = _totals(row)
        return found

    def _evict(self) -> None:
        """Forget buckets past the horizon; all of them if still too many rows."""
        if len(self._rows) <= self.max_rows:
            return
        cutoff = {r: latest - self.HORIZON[r] for r, latest in self._latest.items()}
        self._forget(lambda key: key[1] < cutoff[key[0]], cutoff)
        if len(self._rows) > self.max_rows // 2:
            self._forget(lambda key: True,
                         {r: latest + STEP[r] for r, latest in self._latest.items()})

    def _forget(self, which, known_from: dict[str, datetime]) -> None:
        self._rows = {k: v for k, v in self._rows.items() if not which(k)}
        for resolution, moment in known_from.items():
            current = self._known_from[resolution]
            self._known_from[resolution] = moment if current is None else max(current, moment)


def apply(conn: Connection, rows: Sequence[Sequence[Any]], writer: str) -> None:
    """Fold newly inserted call rows into ``writer``'s rollup rows, reading them first."""
    RollupWriter(writer, new=False).apply(conn, rows)


def _summed(acc: list) -> Totals:
    sketch = LatencySketch()
    sketch.buckets = {int(index): n for index, n in acc[6].items()}
    sketch.count, sketch.total, sketch.max = acc[7], acc[8], acc[9]
    return Totals(calls=acc[0], input_tokens=acc[1], output_tokens=acc[2],
                  cost_micro_usd=acc[3], cost_unknown=acc[4], errors=acc[5], sketch=sketch)


def _totals(row: Any) -> Totals:
    return Totals(
        calls=row.calls, input_tokens=row.input_tokens, output_tokens=row.output_tokens,
        cost_micro_usd=row.cost_micro_usd, cost_unknown=row.cost_unknown,
        errors=row.calls if row.outcome == "error" else 0,
        sketch=LatencySketch.from_json(row.sketch),
    )


Segment = tuple[str, datetime, datetime]


def plan(start: datetime, end: datetime, *, finest: str = "m") -> list[Segment]:
    """Cover [start, end) with the fewest rollup buckets: days, then hours, then minutes.

    With ``finest="h"`` (user and tag rows have no minute rows) the edges widen
    to whole hours.
    """
    if finest == "h":
        start, end = floor(start, "h"), ceil(end, "h")
    else:
        start, end = floor(start, "m"), ceil(end, "m")
    segments: list[Segment] = []

    def cover(lo: datetime, hi: datetime, levels: str) -> None:
        if lo >= hi:
            return
        level, rest = levels[0], levels[1:]
        if not rest:
            segments.append((level, lo, hi))
            return
        inner_lo, inner_hi = ceil(lo, level), floor(hi, level)
        if inner_lo >= inner_hi:
            cover(lo, hi, rest)
            return
        cover(lo, inner_lo, rest)
        segments.append((level, inner_lo, inner_hi))
        cover(inner_hi, hi, rest)

    cover(start, end, "dhm" if finest == "m" else "dh")
    return segments


def summarize(
    conn: Connection,
    start: datetime,
    end: datetime,
    *,
    by: tuple[str, ...] = (),
    tag: str | None = None,
    system: str | None = None,
    env: str | None = None,
) -> list[tuple[dict[str, str], Totals]]:
    """Totals over [start, end), grouped by ``by`` (system, env, release, model,
    outcome, user, tag, key). Returns (group, totals) pairs, largest cost first."""
    dimension = ""
    if "user" in by:
        dimension = "user"
    elif "tag" in by:
        dimension = f"tag:{tag}"
    elif "key" in by:
        dimension = "key"
    columns = {"release": "release_id", "user": "value", "tag": "value", "key": "value"}
    wanted = [rollups.c[columns.get(b, b)] for b in by]
    width = len(wanted)
    # Dashboards read a few thousand rows per window: each is summed into its group
    # as it comes, sketch buckets merged under their JSON keys and turned into
    # numbers once per group, not once per row.
    # group -> [calls, input, output, cost, cost_unknown, errors, buckets, n, total, max]
    groups: dict[tuple, list] = {}
    loads = orjson.loads
    for resolution, lo, hi in plan(start, end, finest="h" if dimension else "m"):
        for row in conn.execute(_rows(wanted, resolution, dimension, lo, hi, system, env)):
            key = tuple(row[:width])
            acc = groups.get(key)
            if acc is None:
                acc = groups[key] = [0, 0, 0, 0, 0, 0, {}, 0, 0.0, 0.0]
            _add(acc, row[width:], loads)
    result = [(dict(zip(by, key, strict=True)), _summed(acc)) for key, acc in groups.items()]
    result.sort(key=lambda item: (-item[1].cost_micro_usd, -item[1].calls))
    return result


def _rows(wanted: list, resolution: str, dimension: str, lo: datetime, hi: datetime,
          system: str | None, env: str | None):
    """The rollup rows of one resolution and dimension in [lo, hi): ``wanted``
    columns, then the values ``_add`` sums."""
    query = select(
        *wanted, rollups.c.calls, rollups.c.input_tokens, rollups.c.output_tokens,
        rollups.c.cost_micro_usd, rollups.c.cost_unknown, rollups.c.outcome, rollups.c.sketch,
    ).where(
        rollups.c.resolution == resolution, rollups.c.dimension == dimension,
        rollups.c.bucket >= lo, rollups.c.bucket < hi,
    )
    if system is not None:
        query = query.where(rollups.c.system == system)
    if env is not None:
        query = query.where(rollups.c.env == env)
    return query


def _add(acc: list, values: Sequence[Any], loads: Any) -> None:
    """Sum one rollup row's values into a group's accumulator (see summarize)."""
    calls, tokens_in, tokens_out, cost, unknown, outcome, text = values
    acc[0] += calls
    acc[1] += tokens_in
    acc[2] += tokens_out
    acc[3] += cost
    acc[4] += unknown
    if outcome == "error":
        acc[5] += calls
    sketch = loads(text)
    buckets = acc[6]
    for index, n in sketch["b"].items():
        buckets[index] = buckets.get(index, 0) + n
    acc[7] += sketch["n"]
    acc[8] += sketch["s"]
    if sketch["m"] > acc[9]:
        acc[9] = sketch["m"]


def months_with_calls(conn: Connection) -> list[str]:
    """YYYY-MM of every month with calls in the rollups (kept after the raw calls
    are pruned), oldest first."""
    days = conn.execute(
        select(rollups.c.bucket).where(rollups.c.resolution == "d").distinct()
    ).scalars()
    return sorted({f"{day.year}-{day.month:02d}" for day in days})


def tag_keys(conn: Connection, start: datetime, end: datetime) -> list[str]:
    """The tag keys (``team``, ``channel``…) calls in [start, end) carried, sorted:
    what a cost review breaks spend down by. Read from hour and day rows, where
    tag rows start."""
    dimensions = conn.execute(
        select(rollups.c.dimension).where(
            rollups.c.resolution.in_(("h", "d")), rollups.c.dimension.like("tag:%"),
            rollups.c.bucket >= start, rollups.c.bucket < end,
        ).distinct()
    ).scalars()
    return sorted({dimension[len("tag:"):] for dimension in dimensions})


def has_dimension(conn: Connection, dimension: str, start: datetime, end: datetime) -> bool:
    """Whether any call in [start, end) has rows of ``dimension`` (``key``: was made
    with a gateway key). Read from day rows: one index lookup."""
    return conn.execute(
        select(rollups.c.bucket).where(
            rollups.c.resolution == "d", rollups.c.dimension == dimension,
            rollups.c.bucket >= floor(start, "d"), rollups.c.bucket < end,
        ).limit(1)
    ).first() is not None
