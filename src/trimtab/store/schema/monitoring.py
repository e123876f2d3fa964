"""What the monitor keeps: alert states, the append-only alert events and their
delivery outbox, and drift baselines and results."""

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from trimtab.store.schema.base import UTCDateTime, metadata

# --- alerts -------------------------------------------------------------------

# The current state of each (rule, system, env) an alert rule watches; env "*"
# when the rule covers all environments together. One row each, overwritten by
# every evaluation; the history is in alert_events.
alert_state = Table(
    "alert_state",
    metadata,
    Column("rule", String(200), nullable=False),
    Column("system", String(200), nullable=False),
    Column("env", String(100), nullable=False),
    Column("state", String(20), nullable=False),  # ok | no_data | pending | firing | resolved
    Column("value", Float, nullable=True),
    Column("since", UTCDateTime, nullable=False),  # when this state began
    Column("active_since", UTCDateTime, nullable=True),  # when the condition began to hold
    Column("evaluated_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("rule", "system", "env"),
)

# Append-only: one row when an alert fires and one when it resolves. ``payload``
# is the JSON document channels and commands receive.
alert_events = Table(
    "alert_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("time", UTCDateTime, nullable=False),
    Column("rule", String(200), nullable=False),
    Column("system", String(200), nullable=False),
    Column("env", String(100), nullable=False),
    Column("state", String(20), nullable=False),  # firing | resolved
    Column("severity", String(20), nullable=False),
    Column("metric", String(40), nullable=False),
    Column("value", Float, nullable=True),
    Column("threshold", Float, nullable=False),
    Column("payload", Text, nullable=False),
    Index(None, "time"),
    Index(None, "rule", "system", "env", "id"),
)

# The outbox: one row per event and channel (or "run:" for the rule's command),
# written with the event, so a notification survives a crash or a channel that
# is down, and two monitors never send the same one twice (claims).
alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    Column("event_id", Integer, ForeignKey("alert_events.id"), nullable=False),
    Column("target", String(200), nullable=False),
    Column("status", String(20), nullable=False),  # pending | sending | sent | failed | gave_up
    Column("attempts", Integer, nullable=False),
    Column("detail", Text, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("event_id", "target"),
    Index(None, "status", "updated_at"),
)

# Drift reference profiles: the serialised DatasetProfile of a window (never its
# rows) plus how calls were turned into columns (text columns, vocabularies),
# so a later check extracts the current window the same way.
drift_baselines = Table(
    "drift_baselines",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("system", String(200), nullable=False),
    Column("env", String(100), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("source", String(20), nullable=False),  # calls | file
    Column("release_id", String(64), nullable=True),
    Column("window_start", UTCDateTime, nullable=True),
    Column("window_end", UTCDateTime, nullable=True),
    Column("rows", Integer, nullable=False),
    Column("profile", Text, nullable=False),  # DatasetProfile JSON
    Column("extraction", Text, nullable=False),  # JSON: text columns, vocabularies
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(320), nullable=False),
    Index(None, "system", "env", "created_at"),
)

# One row per drift check: the dataset verdict and every column's verdict.
drift_results = Table(
    "drift_results",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("time", UTCDateTime, nullable=False),
    Column("system", String(200), nullable=False),
    Column("env", String(100), nullable=False),
    Column("baseline_id", String(32), nullable=True),
    Column("reference", Text, nullable=False),  # what the reference was, in words
    Column("current", Text, nullable=False),
    Column("current_start", UTCDateTime, nullable=True),
    Column("current_end", UTCDateTime, nullable=True),
    Column("n_reference", Integer, nullable=False),
    Column("n_current", Integer, nullable=False),
    Column("dataset_drift", Boolean, nullable=False),
    Column("share_drifted", Float, nullable=False),
    Column("drift_share", Float, nullable=False),  # the dataset threshold
    Column("n_columns_tested", Integer, nullable=False),
    Column("n_columns_drifted", Integer, nullable=False),
    Column("columns", Text, nullable=False),  # JSON list of column verdicts
    Column("actor", String(320), nullable=False),
    Index(None, "system", "env", "time"),
)
