"""The systems, their content-addressed releases and the append-only deployments
that move a release into an environment (promote, rollback, canary, shadow)."""

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from trimtab.store.schema.base import UTCDateTime, metadata

systems = Table(
    "systems",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("kind", String(20), nullable=False),
    Column("description", Text, nullable=False),
    Column("owner", String(320), nullable=False),
    Column("tier", Integer, nullable=False),
    Column("risk", String(20), nullable=False),
    Column("customer_facing", Boolean, nullable=False),
    Column("target_stage", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

releases = Table(
    "releases",
    metadata,
    # sha256 of the canonical spec: same content, same id, stored once.
    Column("id", String(64), primary_key=True),
    Column("system_id", Integer, ForeignKey("systems.id"), nullable=False),
    Column("spec", Text, nullable=False),
    Column("note", Text, nullable=False),
    Column("author", String(320), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("git_commit", String(64), nullable=True),
    Column("git_dirty", Boolean, nullable=True),
    Index(None, "system_id", "created_at"),
)

deployments = Table(
    "deployments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("system_id", Integer, ForeignKey("systems.id"), nullable=False),
    Column("env", String(100), nullable=False),
    Column("release_id", String(64), ForeignKey("releases.id"), nullable=False),
    # promote | rollback set the stable release; canary | shadow add a candidate
    # beside it (percent of traffic) until the next promote or rollback.
    Column("action", String(20), nullable=False),
    Column("percent", Integer, nullable=True),
    # The deployment a plain rollback returns to; None at the bottom of the stack.
    Column("parent_id", Integer, ForeignKey("deployments.id"), nullable=True),
    Column("reason", Text, nullable=False),
    Column("actor", String(320), nullable=False),
    Column("ci_url", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "system_id", "env", "id"),
)
