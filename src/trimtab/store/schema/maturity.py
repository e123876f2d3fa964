"""Maturity assessments and the generated documents built from them."""

from sqlalchemy import (
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from trimtab.store.schema.base import UTCDateTime, metadata

# --- maturity assessments ---------------------------------------------------------

assessments = Table(
    "assessments",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("time", UTCDateTime, nullable=False),
    Column("system", String(200), nullable=False),
    Column("track", String(20), nullable=False),
    Column("stage", Integer, nullable=False),
    Column("target", Integer, nullable=False),
    Column("failing", Text, nullable=False),  # comma-separated check ids
    Column("result", Text, nullable=False),  # the whole assessment as JSON
    Column("actor", String(320), nullable=False),
    Index(None, "system", "time"),
)

documents = Table(
    "documents",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("system", String(200), nullable=False),
    Column("kind", String(60), nullable=False),  # technical-documentation, model-card, ...
    Column("format", String(10), nullable=False),  # md | html | pdf
    Column("sha256", String(64), nullable=False),
    Column("as_of", UTCDateTime, nullable=False),  # the evidence cut-off it was built at
    Column("generated_at", UTCDateTime, nullable=False),
    Column("owner", String(320), nullable=False),
    Column("missing", Integer, nullable=False),  # items marked missing in it
    Column("location", Text, nullable=True),
    Column("actor", String(320), nullable=False),
    Index(None, "system", "generated_at"),
)
