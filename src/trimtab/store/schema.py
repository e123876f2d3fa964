"""The tables. One schema for SQLite and PostgreSQL; Alembic migrations build it.

Keys are chosen so the scale-out path stays open: releases are keyed by their
content hash (idempotent inserts), deployments and audit entries are append-only
and time-ordered.
"""

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC in and out, on both backends.

    SQLite has no timezone type, so values are stored as naive UTC there and
    made aware again on the way out; audit hashes depend on this round trip
    being exact to the microsecond.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use datetime.now(UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


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
)

# Virtual keys for the gateway: one per application, hashed at rest. The key
# carries the env a call runs in by default and the attribution its calls get.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("secret_sha256", String(64), nullable=False),
    Column("default_env", String(100), nullable=False),
    Column("systems", Text, nullable=True),  # JSON list; NULL = every system
    Column("tags", Text, nullable=True),  # JSON object
    Column("envs", Text, nullable=True),  # JSON list; NULL = every environment
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(320), nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
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

# Quality scores on recorded calls (human review, evaluators, user feedback),
# like Langfuse scores. The call's system and env are copied in so the
# quality_score alert reads them by system and time without a join.
scores = Table(
    "scores",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("call_id", String(32), nullable=False),
    Column("system", String(200), nullable=False),
    Column("env", String(100), nullable=False),
    Column("name", String(100), nullable=False),
    Column("value", Float, nullable=False),
    Column("comment", Text, nullable=True),
    Column("actor", String(320), nullable=False),
    Column("time", UTCDateTime, nullable=False),
    # Since 0017: the call's release (per-release quality), and pass/fail where the
    # score came from a scorer that says so (sampled scoring of real outputs).
    Column("release_id", String(64), nullable=True),
    Column("passed", Boolean, nullable=True),
    Index(None, "system", "time"),
    Index(None, "call_id"),
)

# --- identities and roles -------------------------------------------------------

# People and pipelines that act on the store. Never deleted: a removed identity
# keeps its row so the audit trail's names still resolve.
identities = Table(
    "identities",
    metadata,
    Column("name", String(320), primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(320), nullable=False),
    Column("removed_at", UTCDateTime, nullable=True),
    Column("removed_by", String(320), nullable=True),
)

# A role in a project, or in one system of it (``system`` set).
grants = Table(
    "grants",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("identity", String(320), ForeignKey("identities.name"), nullable=False),
    Column("role", String(20), nullable=False),  # viewer | reviewer | operator | approver | admin
    Column("project", String(200), nullable=False),
    Column("system", String(200), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(320), nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
    Column("revoked_by", String(320), nullable=True),
    Index(None, "identity", "project"),
)

# API tokens for identities: the sha256 of the secret, never the secret.
tokens = Table(
    "tokens",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("identity", String(320), ForeignKey("identities.name"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("secret_sha256", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(320), nullable=False),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
)

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

# --- evals ----------------------------------------------------------------------

# One row per eval run: a suite of a system run against one release on one
# dataset (its sha256: a changed dataset is a new baseline). ``passed`` is the
# gate's verdict; ``summary`` the JSON of every scorer's metric, the fairness
# gaps and the comparison with the baseline run.
eval_runs = Table(
    "eval_runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("system", String(200), nullable=False),
    Column("suite", String(200), nullable=False),
    Column("release_id", String(64), nullable=False),
    Column("dataset_path", Text, nullable=False),
    Column("dataset_sha256", String(64), nullable=False),
    Column("cases", Integer, nullable=False),
    Column("passed_cases", Integer, nullable=False),
    Column("errors", Integer, nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("baseline_run_id", String(32), nullable=True),
    Column("cost_micro_usd", BigInteger, nullable=True),
    Column("summary", Text, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=False),
    Column("actor", String(320), nullable=False),
    Column("ci_url", Text, nullable=True),
    Index(None, "system", "suite", "release_id", "dataset_sha256"),
)

# Every case of a run: its answer (under the system's logging mode), each
# scorer's verdict (JSON), latency and cost.
eval_results = Table(
    "eval_results",
    metadata,
    Column("run_id", String(32), ForeignKey("eval_runs.id"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("case_id", String(200), nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("output", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("latency_ms", Float, nullable=False),
    Column("cost_micro_usd", BigInteger, nullable=True),
    Column("input_tokens", Integer, nullable=True),
    Column("output_tokens", Integer, nullable=True),
    Column("model", String(200), nullable=True),
    Column("scores", Text, nullable=False),  # JSON {scorer: verdict}
    Column("tags", Text, nullable=True),  # JSON object
    PrimaryKeyConstraint("run_id", "position"),
)

# --- human review -----------------------------------------------------------------

# One sample per system, environment and ISO week, drawn with a recorded seed so
# the same draw can be repeated; ``strata`` is the JSON of how many calls each
# (release, model) had and how many were drawn from it.
review_samples = Table(
    "review_samples",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("system", String(200), nullable=False),
    Column("env", String(100), nullable=False),
    Column("week", String(10), nullable=False),  # 2026-W49
    Column("seed", BigInteger, nullable=False),
    Column("size", Integer, nullable=False),
    Column("population", Integer, nullable=False),
    Column("strata", Text, nullable=False),
    Column("drawn_at", UTCDateTime, nullable=False),
    Column("actor", String(320), nullable=False),
    UniqueConstraint("system", "env", "week"),
)

review_items = Table(
    "review_items",
    metadata,
    Column("sample_id", String(32), ForeignKey("review_samples.id"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("call_id", String(32), nullable=False),
    Column("stratum", Text, nullable=False),
    PrimaryKeyConstraint("sample_id", "position"),
)

# A person's verdict on one call; one per reviewer and call.
reviews = Table(
    "reviews",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("call_id", String(32), nullable=False),
    Column("system", String(200), nullable=False),
    Column("sample_id", String(32), nullable=True),
    Column("reviewer", String(320), nullable=False),
    Column("verdict", String(10), nullable=False),  # pass | fail
    Column("score", Integer, nullable=True),  # 1-5
    Column("labels", Text, nullable=True),  # JSON list
    Column("comment", Text, nullable=True),
    Column("time", UTCDateTime, nullable=False),
    UniqueConstraint("call_id", "reviewer"),
    Index(None, "system", "time"),
)

# A call flagged for review by a person or an alert: it always joins the review sample.
call_flags = Table(
    "call_flags",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("call_id", String(32), nullable=False),
    Column("system", String(200), nullable=False),
    Column("env", String(100), nullable=False),
    Column("source", String(20), nullable=False),  # user | alert
    Column("reason", Text, nullable=True),
    Column("actor", String(320), nullable=False),
    Column("time", UTCDateTime, nullable=False),
    UniqueConstraint("call_id"),
    Index(None, "system", "time"),
)

# Sampled scoring of real outputs: how far each system's calls have been read (the
# newest call considered), so a restarted monitor resumes and never scores a call twice.
# Not `call_id`: erasing a person's calls deletes rows naming a call, not the cursor.
scoring_cursors = Table(
    "scoring_cursors",
    metadata,
    Column("system", String(200), primary_key=True),
    Column("call_time", UTCDateTime, nullable=False),
    Column("last_call_id", String(32), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Per system and release: calls seen and drawn, so each release gets its share.
scoring_counts = Table(
    "scoring_counts",
    metadata,
    Column("system", String(200), nullable=False),
    Column("release_id", String(64), nullable=False),
    Column("seen", Integer, nullable=False),
    Column("sampled", Integer, nullable=False),
    PrimaryKeyConstraint("system", "release_id"),
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


# --- ground truth for classic models ------------------------------------------------

# The true label of one recorded call, arrived later (a chargeback, a resolved
# ticket). One row per call: a later label replaces the value and counts up
# ``revision``. The call's system, env, release and time and its prediction are
# copied in at labelling time, so the metrics never join the call log (which
# retention prunes) and read one indexed (system, time) range.
labels = Table(
    "labels",
    metadata,
    Column("call_id", String(32), primary_key=True),
    Column("system", String(200), nullable=False),
    Column("env", String(100), nullable=False),
    Column("release_id", String(64), nullable=True),
    Column("call_time", UTCDateTime, nullable=False),
    Column("value", String(200), nullable=False),  # the true label, normalised
    Column("predicted", String(201), nullable=False),  # the call's output, normalised
    Column("error", Float, nullable=True),  # predicted - value when both are numbers
    Column("revision", Integer, nullable=False),  # 1 for the first label, 2 for the next...
    Column("actor", String(320), nullable=False),
    Column("time", UTCDateTime, nullable=False),  # when the label arrived
    Index(None, "system", "time"),
)

# The dashboard's browser sessions: a cookie names one by a random secret, kept
# here only as its SHA-256; signing out sets ``ended_at``, so a copied cookie stops
# working at once in every worker. Rows past ``expires_at`` are deleted on sign-in.
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id", String(64), primary_key=True),  # sha256 hex of the cookie's secret
    Column("kind", String(1), nullable=False),  # u: a user's API token, k: a gateway key
    Column("subject", String(64), nullable=False),  # the token's or the key's id
    Column("name", String(320), nullable=False),  # the user or the key, for people
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime, nullable=True),
    Index(None, "expires_at"),
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
