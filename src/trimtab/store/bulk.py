"""One statement per batch: how the recorder writes thousands of rows a second.

Going through SQLAlchemy's compiled statements costs tens of microseconds per
row in Python, more than the database spends. These write pre-built SQL
straight to the driver: on PostgreSQL the batch is COPYed into a temp table
and moved with one ``INSERT ... SELECT ... ON CONFLICT``; on SQLite one
multi-row ``VALUES`` per chunk, or ``executemany`` in C. Values go through
the bind processors SQLAlchemy would use, so rows read back exactly as if a
Core ``insert()`` had written them; except that Float and Boolean values
must already be Python floats (or ints) and bools, which both drivers take
as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Boolean, Connection, Float, Table

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
                processors.append((i, _faster(process, column, dialect)))
        plan = _PLANS[key] = (names, processors)
    return plan


def _faster(process, column, dialect):
    """SQLite stores UTC times as text; format the common case (already UTC) directly.

    Used only if it gives exactly what SQLAlchemy's processor gives on sample
    values; anything not in UTC (or naive, which the processor rejects) still
    goes through SQLAlchemy's own processor.
    """
    from trimtab.store.schema import UTCDateTime

    if dialect.name != "sqlite" or not isinstance(column.type, UTCDateTime):
        return process

    def utc_text(value):
        if value.tzinfo is not UTC:
            return process(value)
        return value.replace(tzinfo=None).isoformat(" ", "microseconds")

    samples = (datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
               datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC),
               datetime(2026, 11, 23, 15, 0, tzinfo=UTC))
    return utc_text if all(utc_text(v) == process(v) for v in samples) else process


def _bound(rows: Sequence[Sequence[Any]], processors: list) -> list[list[Any]]:
    if not processors:
        return [list(row) for row in rows]
    out = []
    for row in rows:
        values = list(row)
        for i, process in processors:
            if values[i] is not None:
                values[i] = process(values[i])
        out.append(values)
    return out


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


def insert_new(
    conn: Connection, table: Table, rows: Sequence[Sequence[Any]], key: str
) -> list[Any]:
    """Insert rows (values in table column order), skipping any whose ``key``
    is already stored; returns the keys actually inserted."""
    if not rows:
        return []
    names, processors = _plan(conn, table)
    values = _bound(rows, processors)
    head = f'INSERT INTO "{table.name}" ({_quoted(names)}) '
    tail = f' ON CONFLICT ("{key}") DO NOTHING RETURNING "{key}"'
    if conn.dialect.name == "postgresql":
        staging = _copy_to_staging(conn, table, names, values)
        sql = f'{head}SELECT {_quoted(names)} FROM "{staging}"{tail}'
        return list(conn.exec_driver_sql(sql).scalars())
    # Nearly always every row is new: insert without RETURNING (SQLite buffers
    # what it returns: ~15% of the insert) and count. Only a replay that meets
    # stored ids rolls back to the savepoint and inserts again, naming them.
    conn.exec_driver_sql("SAVEPOINT trimtab_insert_new")
    if sum(_sqlite_chunks(conn, head, tail.removesuffix(f' RETURNING "{key}"'), values,
                          lambda result: result.rowcount)) == len(values):
        conn.exec_driver_sql("RELEASE trimtab_insert_new")
        at = names.index(key)
        return [row[at] for row in rows]
    conn.exec_driver_sql("ROLLBACK TO trimtab_insert_new")
    conn.exec_driver_sql("RELEASE trimtab_insert_new")
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
    values = _bound(rows, processors)
    head = f'INSERT INTO "{table.name}" ({_quoted(names)}) '
    tail = (f" ON CONFLICT ({_quoted(key)}) DO UPDATE SET "
            + ", ".join(f'"{c}" = excluded."{c}"' for c in update))
    if conn.dialect.name == "postgresql":
        staging = _copy_to_staging(conn, table, names, values)
        conn.exec_driver_sql(f'{head}SELECT {_quoted(names)} FROM "{staging}"{tail}')
        return
    one = "(" + ", ".join("?" * len(names)) + ")"
    # SQLite: "INSERT ... SELECT ... ON CONFLICT" is ambiguous, VALUES is not.
    conn.exec_driver_sql(f"{head}VALUES {one}{tail}", [tuple(v) for v in values])
