"""The tables. One schema for SQLite and PostgreSQL; Alembic migrations build it.

Keys are chosen so the scale-out path stays open: releases are keyed by their
content hash (idempotent inserts), deployments and audit entries are append-only
and time-ordered.

One module per concept; import a table from its module. Importing any of them runs
this file first, which loads them all, so ``metadata`` (exported here for the code
that walks every table: migrations, copy, erasure) is always complete.
"""

from trimtab.store.schema import (  # noqa: F401 (each registers its tables on metadata)
    access,
    audit_chain,
    call_log,
    governance,
    maturity,
    monitoring,
    quality,
    release_history,
)
from trimtab.store.schema.base import metadata

__all__ = ["metadata"]
