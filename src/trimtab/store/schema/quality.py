"""Quality evidence: scores on calls, eval runs and their cases, human review
samples and verdicts, flags, sampled-scoring cursors and ground-truth labels."""

from sqlalchemy import (
    BigInteger,
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
    UniqueConstraint,
)

from trimtab.store.schema.base import UTCDateTime, metadata

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
