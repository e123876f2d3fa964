"""Copy a whole store to another database: SQLite → PostgreSQL (and back).

Every table of the schema (``schema.metadata``, in foreign-key order, so a
table added later is copied without anyone remembering it) is read in
batches and inserted into the target with SQLAlchemy Core, which converts
types between dialects (timestamps, booleans, JSON kept as text, bytes). Rows
keep their ids and the audit rows their hashes, so the audit chain verifies on
the target. On PostgreSQL, each integer id's sequence is moved past the
copied ids afterwards.

The copy is atomic: one transaction on the target, so a copy that stops
(killed, disconnected, an error) leaves the target as it was, and running it
again starts from the beginning. The target must be empty (a fresh database
is migrated first): releases, deployments and the audit trail are append-only,
so nothing is overwritten or merged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Integer, Table, delete, func, insert, select, text

from trimtab.errors import TrimtabError
from trimtab.store.engine import Store
from trimtab.store.schema import metadata

BATCH = 5_000
#: Tables a fresh store already holds a row in (the audit chain's head at genesis).
SEEDED = {"audit_head"}

Progress = Callable[[str, int, int], None]  # table, rows copied so far, rows in table


@dataclass
class CopyResult:
    """Rows copied per table, in the order they were copied."""

    rows: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def tables() -> list[Table]:
    """Every table of the store, parents before children."""
    return list(metadata.sorted_tables)


def counts(store: Store) -> dict[str, int]:
    with store.read() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in tables()}


def copy_store(source: Store, target: Store, *, progress: Progress | None = None,
               batch: int = BATCH) -> CopyResult:
    """Copy every row of ``source`` into the empty ``target`` in one transaction."""
    if source.url == target.url:
        raise TrimtabError("the source and the target are the same database. "
                           "Fix: give another database URL.")
    held = {name: n for name, n in counts(target).items() if n and name not in SEEDED}
    if held:
        sample = ", ".join(f"{name} ({n:,} rows)" for name, n in list(held.items())[:5])
        raise TrimtabError(
            f"the target {target!r} is not empty: {sample}. Nothing was copied. Fix: copy "
            "into a new, empty database (releases, deployments and the audit trail are "
            "append-only, so a copy never overwrites or merges them)."
        )
    totals = counts(source)  # for the progress bar only: writers may move them
    result = CopyResult()
    with source.snapshot() as src, target.write() as dst:  # one moment of the source
        for table in tables():
            if table.name in SEEDED:
                dst.execute(delete(table))
            done = 0
            if progress:
                progress(table.name, 0, totals[table.name])
            rows = src.execution_options(yield_per=batch).execute(
                select(table).order_by(*table.primary_key.columns))
            for part in rows.partitions(batch):
                dst.execute(insert(table), [dict(row._mapping) for row in part])
                done += len(part)
                if progress:
                    progress(table.name, done, totals[table.name])
            result.rows[table.name] = done
        if target.dialect == "postgresql":
            _move_sequences(dst)
    return result


def _move_sequences(conn) -> None:
    """Point each integer id's sequence past the copied ids (PostgreSQL)."""
    for table in tables():
        keys = list(table.primary_key.columns)
        if len(keys) != 1 or not isinstance(keys[0].type, Integer) \
                or keys[0].autoincrement is False:
            continue
        column = keys[0].name
        sequence = conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"),
                                {"t": table.name, "c": column}).scalar()
        if sequence is None:
            continue
        conn.execute(text(
            f'SELECT setval(:s, COALESCE((SELECT MAX("{column}") FROM "{table.name}"), 0) + 1, '
            "false)"), {"s": sequence})
