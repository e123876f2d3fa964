"""Governance records: two-person approvals, the kill switch, incidents and their
notes, drills, independent reviews, freezes and legal holds."""

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from trimtab.store.schema.base import UTCDateTime, metadata

# --- two-person approval --------------------------------------------------------

# A promotion held until enough approvers agree. ``state``: pending, approved
# (quorum reached, applying), applied, rejected, expired.
approval_requests = Table(
    "approval_requests",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("system", String(200), nullable=False),
    Column("env", String(100), nullable=False),
    Column("release_id", String(64), ForeignKey("releases.id"), nullable=False),
    Column("mode", String(20), nullable=False),  # promote | canary
    Column("percent", Integer, nullable=True),
    Column("reason", Text, nullable=False),
    Column("requested_by", String(320), nullable=False),
    Column("requested_at", UTCDateTime, nullable=False),
    Column("required", Integer, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("state", String(20), nullable=False),
    Column("decided_at", UTCDateTime, nullable=True),
    Column("deployment_id", Integer, ForeignKey("deployments.id"), nullable=True),
    Index(None, "state", "requested_at"),
)

# One decision per approver and request (the key refuses a replay).
approval_votes = Table(
    "approval_votes",
    metadata,
    Column("request_id", String(16), ForeignKey("approval_requests.id"), nullable=False),
    Column("approver", String(320), nullable=False),
    Column("decision", String(10), nullable=False),  # approve | reject
    Column("release_id", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("time", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("request_id", "approver"),
)

# --- the kill switch --------------------------------------------------------------

# Append-only: each suspend or resume of a (system, env); the latest row says
# whether it is suspended. A suspend row carries the safe answer declared when
# it was made (``mode``: reply | refusal | error, and its text), so a runtime
# answers it without reading the project file.
suspensions = Table(
    "suspensions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("system", String(200), nullable=False),
    Column("env", String(100), nullable=False),
    Column("action", String(10), nullable=False),  # suspend | resume
    Column("mode", String(10), nullable=True),
    Column("message", Text, nullable=True),
    Column("reason", Text, nullable=False),
    Column("actor", String(320), nullable=False),
    Column("time", UTCDateTime, nullable=False),
    Index(None, "system", "env", "id"),
)

# --- incidents ----------------------------------------------------------------------

# What went wrong, when the team became aware (every regulatory deadline runs
# from it), and which reporting categories apply (JSON list).
incidents = Table(
    "incidents",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("system", String(200), nullable=False),
    Column("severity", String(20), nullable=False),
    Column("summary", Text, nullable=False),
    Column("categories", Text, nullable=False),
    Column("aware_at", UTCDateTime, nullable=False),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("opened_by", String(320), nullable=False),
    Column("closed_at", UTCDateTime, nullable=True),
    Column("closed_by", String(320), nullable=True),
    Column("root_cause", Text, nullable=True),
    Column("actions", Text, nullable=True),
    Index(None, "system", "aware_at"),
)

# The incident's timeline, appended as it unfolds.
incident_notes = Table(
    "incident_notes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("incident_id", String(16), ForeignKey("incidents.id"), nullable=False),
    Column("time", UTCDateTime, nullable=False),
    Column("actor", String(320), nullable=False),
    Column("text", Text, nullable=False),
    Index(None, "incident_id", "id"),
)

# --- incident drills -------------------------------------------------------------

drills = Table(
    "drills",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("system", String(200), nullable=False),
    Column("held_at", UTCDateTime, nullable=False),
    Column("scenario", Text, nullable=False),
    Column("participants", Text, nullable=False),  # JSON list
    Column("findings", Text, nullable=False),
    Column("restore_minutes", Float, nullable=True),  # how long the rehearsed restore took
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("actor", String(320), nullable=False),
    Index(None, "system", "held_at"),
)

# --- independent reviews ---------------------------------------------------------

assurance_reviews = Table(
    "assurance_reviews",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("system", String(200), nullable=False),
    Column("reviewer", String(320), nullable=False),
    Column("organisation", String(320), nullable=False),
    Column("reviewed_at", UTCDateTime, nullable=False),
    Column("scope", Text, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("actor", String(320), nullable=False),
    Index(None, "system", "reviewed_at"),
)

assurance_findings = Table(
    "assurance_findings",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("review_id", String(32), ForeignKey("assurance_reviews.id"), nullable=False),
    Column("system", String(200), nullable=False),
    Column("number", Integer, nullable=False),  # 1, 2, ... within its review
    Column("text", Text, nullable=False),
    Column("status", String(16), nullable=False),  # open | closed
    Column("due_at", UTCDateTime, nullable=False),
    Column("closed_at", UTCDateTime, nullable=True),
    Column("closed_by", String(320), nullable=True),
    Column("resolution", Text, nullable=True),
    UniqueConstraint("review_id", "number"),
    Index(None, "system", "status"),
)

# --- incident freezes and legal holds --------------------------------------------

# A serious incident's freeze: the system's releases stay as they were (``pinned``:
# JSON {env: release id} at freeze time); promote and rollback are refused until
# the freeze is lifted, save an audited admin override.
freezes = Table(
    "freezes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("system", String(200), nullable=False),
    Column("incident_id", String(16), nullable=True),
    Column("pinned", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("frozen_at", UTCDateTime, nullable=False),
    Column("frozen_by", String(320), nullable=False),
    Column("lifted_at", UTCDateTime, nullable=True),
    Column("lifted_by", String(320), nullable=True),
    Column("lift_reason", Text, nullable=True),
    Index(None, "system", "lifted_at"),
)

# A legal hold: a system's calls from ``since`` to ``until`` (open: up to now) are
# evidence, exempt from pruning until the hold is released (explicitly, audited).
legal_holds = Table(
    "legal_holds",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("system", String(200), nullable=False),
    Column("incident_id", String(16), nullable=True),
    Column("since", UTCDateTime, nullable=False),
    Column("until", UTCDateTime, nullable=True),
    Column("reason", Text, nullable=False),
    Column("placed_at", UTCDateTime, nullable=False),
    Column("placed_by", String(320), nullable=False),
    Column("released_at", UTCDateTime, nullable=True),
    Column("released_by", String(320), nullable=True),
    Column("release_reason", Text, nullable=True),
    Index(None, "system", "released_at"),
)
