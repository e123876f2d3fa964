"""The hash-chained audit log and its head row, which serialises writers and lets
verify catch a truncated tail."""

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from trimtab.store.schema.base import UTCDateTime, metadata

audit = Table(
    "audit",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("time", UTCDateTime, nullable=False),
    Column("actor", String(320), nullable=False),
    Column("action", String(100), nullable=False),
    Column("object_type", String(50), nullable=False),
    Column("object_id", String(200), nullable=False),
    Column("system", String(200), nullable=True),
    # Canonical JSON text, hashed exactly as stored (a JSON column would re-order keys).
    Column("payload", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index(None, "system", "seq"),
    Index(None, "time"),
)

# One row: the newest seq and hash. Writers lock it to serialise the chain, and
# verify compares it with the last entry, so a truncated tail is caught too.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)
