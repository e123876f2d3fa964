"""The call log. Inserts are idempotent: a replayed spool never duplicates a row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, delete, func, or_, select

from trimtab.errors import NotFound, TrimtabError
from trimtab.store import audit, bulk
from trimtab.store.call_columns import CALL_COLUMNS
from trimtab.store.filters import matching
from trimtab.store.holds import held_call_filter
from trimtab.store.rollups import summarize
from trimtab.store.schema.call_log import calls

COLUMNS = tuple(c.name for c in calls.columns)
assert COLUMNS == CALL_COLUMNS, "records.CALL_COLUMNS must follow the calls table"


@dataclass(frozen=True)
class Call:
    id: str
    time: datetime
    system: str
    env: str
    release_id: str | None
    source: str
    route: str
    provider: str | None
    model: str | None
    status: str
    error_kind: str | None
    http_status: int | None
    latency_ms: float
    ttft_ms: float | None
    input_tokens: int | None
    output_tokens: int | None
    cached_input_tokens: int | None
    cache_write_tokens: int | None
    reasoning_tokens: int | None
    cost_micro_usd: int | None
    price_version: str | None
    attempt_count: int
    fallback_used: bool
    user_id: str | None
    api_key_id: str | None
    tags: str | None
    attempts: str | None
    logging_mode: str
    request: str | None
    response: str | None
    error: str | None
    response_id: str | None = None  # the provider's id for its answer
    finish_reasons: str | None = None  # JSON list
    params: str | None = None  # JSON object: the sampling params sent

    def to_dict(self) -> dict[str, Any]:
        import json

        data = dict(self.__dict__)
        data["time"] = self.time.isoformat()
        for name in ("tags", "attempts", "finish_reasons", "params"):
            data[name] = json.loads(data[name]) if data[name] else None
        return data


def insert_many(conn: Connection, rows: list[Sequence[Any]]) -> set[str]:
    """Insert rows (values in column order, as ``records.values_from_spool``
    makes them), skipping ids already stored; returns the ids actually inserted.

    The recorder's hot loop: one statement per batch (see store/bulk.py)."""
    return set(bulk.insert_new(conn, calls, rows, key="id"))


#: Calls a filter the indexes cannot serve (text, env, status, model, release) reads at
#: most: the newest that match the system and time range (bench/call_search.py measures
#: the cost; narrow the time range to reach older ones).
SEARCH_SCAN = 20_000


def query(
    conn: Connection,
    *,
    system: str | None = None,
    env: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    status: str | None = None,
    release: str | None = None,
    model: str | None = None,
    text: str | None = None,
    scan: int = SEARCH_SCAN,
    limit: int = 50,
) -> list[Call]:
    """Newest first. ``release`` is a release id or a prefix of one; ``until`` is exclusive.

    ``system`` and the time range are read through the (system, time) and (time)
    indexes. The other filters look at the newest ``scan`` calls of those only:
    without the bound, a filter that matches nothing (a model no call used, a
    system without errors) walked the whole call log, 10,000,000 rows at the
    scale the dashboard is built for. ``text`` keeps the calls whose stored
    request, response or error contains it (case-insensitive for ASCII): a
    bounded scan rather than a full-text index, so the call log's inserts stay as
    cheap as they are and retention stays a plain delete."""
    statement = select(calls).order_by(calls.c.time.desc(), calls.c.id.desc())
    statement = matching(statement, calls, system=system, since=since, until=until)
    if not any((env, status, release, model, text)):
        return [Call(**r._mapping) for r in conn.execute(statement.limit(limit))]
    newest = statement.limit(scan).subquery()
    statement = matching(select(newest).order_by(newest.c.time.desc(), newest.c.id.desc()),
                         newest, env=env, status=status, model=model)
    if release is not None:
        statement = statement.where(newest.c.release_id.startswith(release, autoescape=True))
    if text:
        statement = statement.where(or_(*(newest.c[name].icontains(text, autoescape=True)
                                          for name in ("request", "response", "error"))))
    return [Call(**r._mapping) for r in conn.execute(statement.limit(limit))]


def get(conn: Connection, ref: str) -> Call:
    ref = ref.strip().lower()
    rows = conn.execute(select(calls).where(_id_prefix(ref)).limit(2)).all()
    if not rows:
        raise NotFound(f"no call has an id starting with {ref!r}. Fix: `trimtab calls`.")
    if len(rows) > 1:
        raise TrimtabError(f"call prefix {ref!r} is ambiguous. Fix: give more characters.")
    return Call(**rows[0]._mapping)


def _id_prefix(ref: str):
    """Ids starting with ``ref``, through the primary key's index.

    ``LIKE 'ref%'`` alone is a full scan of the table on both databases (SQLite's
    LIKE ignores case; PostgreSQL's index under a non-C collation cannot serve
    LIKE): 1.3 s for one call of 1M (bench/dashboard_pages.py). Ids are lowercase
    hex, so every id with the prefix sorts in ``[ref, ref + "g")`` in any
    collation, a range the index answers; the LIKE stays for exactness.
    """
    prefix = calls.c.id.startswith(ref, autoescape=True)
    if ref and all(c in "0123456789abcdef" for c in ref):
        return and_(calls.c.id >= ref, calls.c.id < ref + "g", prefix)
    return prefix


def existing(conn: Connection, ids: list[str]) -> set[str]:
    """Which of ``ids`` the call log still holds: retention prunes calls that other
    tables (a review sample's items) still name."""
    found: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        found.update(conn.execute(select(calls.c.id).where(calls.c.id.in_(chunk))).scalars())
    return found


def count(conn: Connection, system: str | None = None) -> int:
    statement = matching(select(func.count()).select_from(calls), calls, system=system)
    return conn.execute(statement).scalar_one()


def systems(conn: Connection) -> list[str]:
    """Every system the call log holds calls of, declared or not."""
    return list(conn.execute(select(calls.c.system).distinct().order_by(calls.c.system)).scalars())


def count_before(conn: Connection, system: str, before: datetime, *,
                 held: bool = False) -> int:
    """How many of a system's calls older than ``before`` pruning would delete
    (``held=True``: how many a legal hold keeps instead)."""
    kept = held_call_filter()
    statement = select(func.count()).select_from(calls).where(
        calls.c.system == system, calls.c.time < before, kept if held else ~kept)
    return conn.execute(statement).scalar_one()


def prune(
    conn: Connection, system: str, before: datetime, *, actor: str, policy: dict[str, Any]
) -> int:
    """Delete a system's calls older than ``before``; returns how many went.

    Audited in the same transaction when anything went (``policy`` says why:
    the declared retention_days, or an explicit --older-than). Rollups are
    aggregates without prompt or answer text, so they stay. A call under an
    active legal hold (store/holds.py) is never deleted; the audit entry says
    how many were kept.
    """
    deleted = conn.execute(
        delete(calls).where(calls.c.system == system, calls.c.time < before,
                            ~held_call_filter())
    ).rowcount
    if deleted:
        held = count_before(conn, system, before, held=True)
        audit.append(
            conn, actor=actor, action="calls.prune", object_type="system", object_id=system,
            system=system, payload={"deleted": deleted, "before": before.isoformat(), **policy,
                                    **({"held": held} if held else {})},
        )
    return deleted


@dataclass(frozen=True)
class Coverage:
    """How complete the call log of one system and environment is over a window:
    the maturity checks A4 (structured logs) and O5 (cost attribution) read it."""

    calls: int
    complete: int  # release, model, latency, tokens, cost and status all present
    attributed: int  # priced, with a model and a user or tags to charge it to
    spend_micro_usd: int = 0


#: Calls whose fields ``coverage`` reads at most: the newest of the window.
COVERAGE_SAMPLE = 5_000


def coverage(conn: Connection, system: str, env: str, since: datetime,
             until: datetime | None = None) -> Coverage:
    """The newest ``COVERAGE_SAMPLE`` calls of the window through the (system, time)
    index, counted in one aggregate; the status and latency columns are never
    null, so only the nullable fields are counted.

    Bounded because every dashboard page that shows a maturity stage asks: a
    scan of a busy system's week of calls took 0.6 s at 1M calls in 30 days and
    grows with the traffic (bench/dashboard_pages.py). When the window holds
    more calls than the sample, its call count and spend come from the rollups
    (exact) and the complete and attributed counts are the sample's shares of
    that count. ``until`` (default: now) ends the window, for evidence as of a past
    moment.
    """
    end = until if until is not None else datetime.now(UTC) + timedelta(minutes=1)
    complete = (calls.c.release_id.is_not(None) & calls.c.model.is_not(None)
                & calls.c.input_tokens.is_not(None) & calls.c.output_tokens.is_not(None)
                & calls.c.cost_micro_usd.is_not(None))
    attributed = (calls.c.cost_micro_usd.is_not(None) & calls.c.model.is_not(None)
                  & (calls.c.user_id.is_not(None) | calls.c.tags.is_not(None)))
    newest = (select(complete.label("complete"), attributed.label("attributed"),
                     calls.c.cost_micro_usd)
              .where(calls.c.system == system, calls.c.env == env, calls.c.time >= since,
                     calls.c.time < end)
              .order_by(calls.c.time.desc()).limit(COVERAGE_SAMPLE).subquery())
    statement = select(
        func.count(),
        func.count().filter(newest.c.complete),
        func.count().filter(newest.c.attributed),
        func.coalesce(func.sum(newest.c.cost_micro_usd), 0),
    )
    total, full, charged, spend = conn.execute(statement).one()
    if total >= COVERAGE_SAMPLE:
        window = summarize(conn, since, end, system=system, env=env)
        if window and window[0][1].calls > total:
            sums = window[0][1]
            full = round(full / total * sums.calls)
            charged = round(charged / total * sums.calls)
            total, spend = sums.calls, sums.cost_micro_usd
    return Coverage(calls=total, complete=full, attributed=charged, spend_micro_usd=int(spend))


@dataclass(frozen=True)
class WindowCounts:
    """What the call log holds of one system over a window (an incident's evidence)."""

    calls: int
    errors: int  # any status but ok
    users: int  # distinct user ids among the calls that carry one
    by_release: dict[str, int]  # release id ("" when unknown) -> calls
    by_env: dict[str, int]
    first: datetime | None
    last: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {"calls": self.calls, "errors": self.errors, "users": self.users,
                "by_release": self.by_release, "by_env": self.by_env,
                "first": self.first.isoformat() if self.first else None,
                "last": self.last.isoformat() if self.last else None}


def window_counts(conn: Connection, system: str, start: datetime, end: datetime) -> WindowCounts:
    """Counts over the indexed (system, time) range [start, end)."""
    where = (calls.c.system == system, calls.c.time >= start, calls.c.time < end)
    total, errors, users, first, last = conn.execute(select(
        func.count(), func.count().filter(calls.c.status != "ok"),
        func.count(calls.c.user_id.distinct()), func.min(calls.c.time), func.max(calls.c.time),
    ).where(*where)).one()
    by_release = {r or "": n for r, n in conn.execute(
        select(calls.c.release_id, func.count()).where(*where).group_by(calls.c.release_id))}
    by_env = {e: n for e, n in conn.execute(
        select(calls.c.env, func.count()).where(*where).group_by(calls.c.env))}
    return WindowCounts(calls=total, errors=errors, users=users, by_release=by_release,
                        by_env=by_env, first=first, last=last)
