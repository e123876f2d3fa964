"""One statement per batch: how the recorder writes thousands of rows a second.

Going through SQLAlchemy's compiled statements costs tens of microseconds per
row in Python, more than the database spends. These write pre-built SQL
straight to the driver: on PostgreSQL the batch is COPYed into the table
(into a temp table, then moved with one ``INSERT ... SELECT ... ON CONFLICT``,
when a replay meets stored keys, and for upserts); on SQLite a one-row
``INSERT`` run by ``executemany`` (a loop in C), or, to learn which keys a
replay inserted, one multi-row ``VALUES ... RETURNING`` per chunk. Values go
through the bind processors SQLAlchemy would use (a column at a time), so rows
read back exactly as if a Core ``insert()`` had written them; except that Float
and Boolean values must already be Python floats (or ints) and bools, which
both drivers take as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import repeat
from operator import attrgetter
from typing import Any

from sqlalchemy import Boolean, Connection, Float, Table
from sqlalchemy import exc as sa_exc

from trimtab.errors import StoreUnavailable

# (table name, dialect class) -> (column names, [(index, processor)])
_PLANS: dict[tuple[str, type], tuple[tuple[str, ...], list]] = {}
_SQLITE_MAX_VARIABLES = 32_766  # SQLite >= 3.32; older builds have 999, see _chunk_rows


def _plan(conn: Connection, table: Table):
    dialect = conn.dialect
    key = (table.name, type(dialect))
    plan = _PLANS.get(key)
    if plan is None:
        names = tuple(c.name for c in table.columns)
        processors = []
        for i, column in enumerate(table.columns):
            process = column.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None and not isinstance(column.type, Float | Boolean):
                processors.append((i, _column_processor(process, column, dialect)))
        plan = _PLANS[key] = (names, processors)
    return plan


def _column_processor(process, column, dialect):
    """A function from a column's values to the values bound for them.

    UTC times (the common case: the recorder makes every time UTC) skip the
    per-value Python call: SQLite stores them as text, formatted here in C
    loops, and PostgreSQL takes them as they are. Used only if it gives
    exactly what SQLAlchemy's processor gives on sample values; a column with
    anything else (another zone, naive, None) goes through SQLAlchemy's own
    processor value by value.
    """
    from trimtab.store.schema.base import UTCDateTime

    def each(values: Sequence[Any]) -> Sequence[Any]:
        return [None if value is None else process(value) for value in values]

    if not isinstance(column.type, UTCDateTime):
        return each
    if dialect.name == "sqlite":
        def bound_utc(values: Sequence[Any]) -> Sequence[Any]:
            return list(map(str.removesuffix, map(datetime.isoformat, values, repeat(" "),
                                                  repeat("microseconds")), repeat("+00:00")))
    else:
        def bound_utc(values: Sequence[Any]) -> Sequence[Any]:
            return values

    def utc(values: Sequence[Any]) -> Sequence[Any]:
        if set(map(type, values)) == {datetime} and set(map(_tzinfo, values)) == {UTC}:
            return bound_utc(values)
        return each(values)

    samples = (datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
               datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC),
               datetime(2026, 11, 23, 15, 0, tzinfo=UTC))
    return utc if list(utc(samples)) == each(samples) else each


_tzinfo = attrgetter("tzinfo")


def _bound(rows: Sequence[Sequence[Any]], names: Sequence[str], processors: list) -> list:
    """The values to bind, row by row: rows turned into columns and back in C,
    each processed column a pass over its values."""
    columns = list(zip(*rows, strict=True))  # strict: every row as long as the first
    if len(columns) != len(names):
        raise ValueError(f"rows have {len(columns)} values for {len(names)} columns")
    for i, process in processors:
        columns[i] = process(columns[i])
    return list(zip(*columns, strict=True))


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(f'"{n}"' for n in names)


def _chunk_rows(conn: Connection, width: int) -> int:
    limit = _SQLITE_MAX_VARIABLES
    raw = conn.connection.dbapi_connection
    getlimit = getattr(raw, "getlimit", None)  # Python >= 3.11
    if getlimit is not None:
        import sqlite3

        limit = getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    return max(1, min(1000, limit // width))


def _copy_to_staging(conn: Connection, table: Table, names: Sequence[str], values) -> str:
    """COPY rows into a session temp table (emptied at commit); returns its name.

    COPY rows are formatted in C by psycopg; an INSERT ... SELECT from here
    then applies the conflict rule the target table needs.
    """
    staging = f"trimtab_staging_{table.name}"
    with conn.connection.dbapi_connection.cursor() as cursor:
        cursor.execute(f'CREATE TEMP TABLE IF NOT EXISTS "{staging}" '
                       f'(LIKE "{table.name}") ON COMMIT DELETE ROWS')
        with cursor.copy(f'COPY "{staging}" ({_quoted(names)}) FROM STDIN') as copy:
            for row in values:
                copy.write_row(row)
    return staging


def _copy_new(conn: Connection, table: Table, names: Sequence[str], values) -> bool:
    """COPY rows into the table itself; False (and nothing written) if a key is taken."""
    from psycopg.errors import UniqueViolation

    with conn.connection.dbapi_connection.cursor() as cursor:
        cursor.execute("SAVEPOINT trimtab_copy_new")
        try:
            with cursor.copy(f'COPY "{table.name}" ({_quoted(names)}) FROM STDIN') as copy:
                for row in values:
                    copy.write_row(row)
        except UniqueViolation:
            cursor.execute("ROLLBACK TO SAVEPOINT trimtab_copy_new")
            cursor.execute("RELEASE SAVEPOINT trimtab_copy_new")
            return False
        cursor.execute("RELEASE SAVEPOINT trimtab_copy_new")
    return True


def insert_new(
    conn: Connection, table: Table, rows: Sequence[Sequence[Any]], key: str
) -> list[Any]:
    """Insert rows (values in table column order), skipping any whose ``key``
    is already stored; returns the keys actually inserted."""
    if not rows:
        return []
    names, processors = _plan(conn, table)
    values = _bound(rows, names, processors)
    head = f'INSERT INTO "{table.name}" ({_quoted(names)}) '
    tail = f' ON CONFLICT ("{key}") DO NOTHING RETURNING "{key}"'
    if conn.dialect.name == "postgresql":
        # Nearly always every row is new: COPY straight into the table. A replay
        # that meets a stored id (or repeats one) fails the COPY on the key, rolls
        # back to the savepoint and goes through the staging table's ON CONFLICT.
        if _copy_new(conn, table, names, values):
            at = names.index(key)
            return [row[at] for row in rows]
        staging = _copy_to_staging(conn, table, names, values)
        sql = f'{head}SELECT {_quoted(names)} FROM "{staging}"{tail}'
        return list(conn.exec_driver_sql(sql).scalars())
    # Nearly always every row is new: one executemany of a one-row INSERT
    # (a loop in C, no RETURNING: SQLite buffers what it returns) and count.
    # Only a replay that meets stored ids rolls back to the savepoint and
    # inserts again, naming them.
    one = "(" + ", ".join("?" * len(names)) + ")"
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.execute("SAVEPOINT trimtab_insert_new")
        cursor.executemany(f'{head}VALUES {one} ON CONFLICT ("{key}") DO NOTHING', values)
        if cursor.rowcount == len(values):
            cursor.execute("RELEASE trimtab_insert_new")
            at = names.index(key)
            return [row[at] for row in rows]
        cursor.execute("ROLLBACK TO trimtab_insert_new")
        cursor.execute("RELEASE trimtab_insert_new")
    finally:
        cursor.close()
    return [k for found in _sqlite_chunks(conn, head, tail, values, lambda r: list(r.scalars()))
            for k in found]


def _sqlite_chunks(conn: Connection, head: str, tail: str, values: list[list[Any]], read):
    """One multi-row VALUES statement per chunk (SQLite caps bound variables)."""
    width = len(values[0])
    one = "(" + ", ".join("?" * width) + ")"
    step = _chunk_rows(conn, width)
    for start in range(0, len(values), step):
        chunk = values[start:start + step]
        sql = f"{head}VALUES {', '.join([one] * len(chunk))}{tail}"
        yield read(conn.exec_driver_sql(sql, tuple(value for row in chunk for value in row)))


def upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[Sequence[Any]],
    key: Sequence[str],
    update: Sequence[str],
) -> None:
    """Insert rows (values in table column order); where ``key`` matches a stored
    row, overwrite its ``update`` columns instead. Keys must be unique in ``rows``."""
    if not rows:
        return
    names, processors = _plan(conn, table)
    values = _bound(rows, names, processors)
    head = f'INSERT INTO "{table.name}" ({_quoted(names)}) '
    tail = (f" ON CONFLICT ({_quoted(key)}) DO UPDATE SET "
            + ", ".join(f'"{c}" = excluded."{c}"' for c in update))
    if conn.dialect.name == "postgresql":
        staging = _copy_to_staging(conn, table, names, values)
        conn.exec_driver_sql(f'{head}SELECT {_quoted(names)} FROM "{staging}"{tail}')
        return
    one = "(" + ", ".join("?" * len(names)) + ")"
    # SQLite: "INSERT ... SELECT ... ON CONFLICT" is ambiguous, VALUES is not.
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.executemany(f"{head}VALUES {one}{tail}", values)
    finally:
        cursor.close()


#: PostgreSQL error classes a row's own values cause: data exceptions (22: out of
#: range, bad encoding), integrity (23: a NULL or a check a value breaks), program
#: limits (54: a value too big to index) and a datatype mismatch (42804).
_ROW_CLASSES = ("22", "23", "54")
_ROW_STATES = ("42804",)


def row_fault(exc: BaseException) -> bool:
    """Whether ``exc`` comes from the rows inserted (retrying the same rows fails the
    same way), not from the store being unreachable, busy or missing a table."""
    if isinstance(exc, StoreUnavailable):
        return False
    if isinstance(exc, OverflowError | TypeError | ValueError | UnicodeError | ArithmeticError):
        return True  # raised binding a value, or summing it into a rollup
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return False
        exc = exc.orig  # what the driver raised (bulk inserts call the driver directly)
    if not type(exc).__module__.startswith(("sqlite3", "psycopg")):
        return False
    sqlstate = getattr(exc, "sqlstate", None)
    if sqlstate:  # PostgreSQL said why
        return sqlstate[:2] in _ROW_CLASSES or sqlstate in _ROW_STATES
    # psycopg refusing a value before sending it (a NUL in a string, a type it cannot
    # adapt), or sqlite3 refusing to bind or keep one: neither names a state.
    return type(exc).__name__ in ("DataError", "IntegrityError", "ProgrammingError")
