"""The call log, its pre-aggregated rollups and the counts of records a process
could not spool: everything the recorder writes about calls."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from trimtab.store.schema.base import UTCDateTime, metadata

# One row per AI call or prediction. The id is time-ordered and made by the
# caller, so a replayed record is ignored instead of duplicated, and inserts
# never contend on a sequence.
calls = Table(
    "calls",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("time", UTCDateTime, nullable=False),
    Column("system", String(200), nullable=False),
    Column("env", String(100), nullable=False),
    Column("release_id", String(64), nullable=True),
    Column("source", String(20), nullable=False),  # sdk | gateway | record | instrument
    Column("route", String(20), nullable=False),  # primary | canary | shadow
    Column("provider", String(100), nullable=True),
    Column("model", String(200), nullable=True),
    Column("status", String(20), nullable=False),  # ok | error
    Column("error_kind", String(40), nullable=True),
    Column("http_status", Integer, nullable=True),
    Column("latency_ms", Float, nullable=False),
    Column("ttft_ms", Float, nullable=True),
    Column("input_tokens", Integer, nullable=True),
    Column("output_tokens", Integer, nullable=True),
    Column("cached_input_tokens", Integer, nullable=True),
    Column("cache_write_tokens", Integer, nullable=True),
    Column("reasoning_tokens", Integer, nullable=True),
    Column("cost_micro_usd", BigInteger, nullable=True),
    Column("price_version", String(60), nullable=True),
    Column("attempt_count", Integer, nullable=False),
    Column("fallback_used", Boolean, nullable=False),
    Column("user_id", String(200), nullable=True),
    Column("api_key_id", String(40), nullable=True),
    Column("tags", Text, nullable=True),  # JSON object
    Column("attempts", Text, nullable=True),  # JSON list
    Column("logging_mode", String(20), nullable=False),
    Column("request", Text, nullable=True),  # after redaction; None in metadata mode
    Column("response", Text, nullable=True),
    Column("error", Text, nullable=True),
    # What the provider was asked and answered (migration 0023): NULL on calls recorded
    # before it, on failed calls (no answer: no id, no finish reason) and where a source
    # does not know them. Bounded by the writer (recorder/call_fields.py).
    Column("response_id", String(200), nullable=True),  # call_columns.RESPONSE_ID_CHARS
    Column("finish_reasons", Text, nullable=True),  # JSON list, one per choice
    Column("params", Text, nullable=True),  # JSON object: the sampling params sent
    Index(None, "system", "time"),
    Index(None, "time"),
)

# Pre-aggregated calls, so dashboards and alerts never scan the raw log.
# Resolutions m/h/d (minute, hour, day). Rows with an empty dimension hold the
# (system, env, release, model, outcome) grain; rows with dimension "user" or
# "tag:<key>" attribute cost per user or tag value at h/d resolution. Each
# recorder process writes its own rows (``writer``), so replicas never contend.
rollups = Table(
    "rollups",
    metadata,
    Column("resolution", String(1), nullable=False),
    Column("bucket", UTCDateTime, nullable=False),
    Column("system", String(200), nullable=False),
    Column("env", String(100), nullable=False),
    Column("release_id", String(64), nullable=False),
    Column("model", String(200), nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("dimension", String(100), nullable=False),
    Column("value", String(200), nullable=False),
    Column("writer", String(32), nullable=False),
    Column("calls", BigInteger, nullable=False),
    Column("input_tokens", BigInteger, nullable=False),
    Column("output_tokens", BigInteger, nullable=False),
    Column("cost_micro_usd", BigInteger, nullable=False),
    Column("cost_unknown", BigInteger, nullable=False),
    Column("sketch", Text, nullable=False),
    PrimaryKeyConstraint(
        "resolution", "bucket", "system", "env", "release_id", "model", "outcome",
        "dimension", "value", "writer",
    ),
    Index(None, "resolution", "dimension", "bucket"),
    Index(None, "resolution", "dimension", "system", "bucket"),  # one system's rows
)

# --- records a process could not spool ----------------------------------------------

# Counted per system and env by the process that dropped them, reported a few seconds
# apart straight to the store (its spool is what failed); alert recording-dropped reads it.
recording_drops = Table(
    "recording_drops",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("time", UTCDateTime, nullable=False),
    Column("reporter", String(200), nullable=False),  # the recorder's owner: host-pid-random
    Column("system", String(200), nullable=False),
    Column("env", String(100), nullable=False),
    Column("dropped", Integer, nullable=False),
    Index(None, "time"),
)
