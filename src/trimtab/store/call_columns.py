"""The calls table's columns, in order, without loading SQLAlchemy: the recorder
builds rows in this order on the hot path, and store/calls.py checks it against
the schema."""

CALL_COLUMNS = (
    "id", "time", "system", "env", "release_id", "source", "route", "provider", "model",
    "status", "error_kind", "http_status", "latency_ms", "ttft_ms", "input_tokens",
    "output_tokens", "cached_input_tokens", "cache_write_tokens", "reasoning_tokens",
    "cost_micro_usd", "price_version", "attempt_count", "fallback_used", "user_id",
    "api_key_id", "tags", "attempts", "logging_mode", "request", "response", "error",
    "response_id", "finish_reasons", "params",
)
COLUMN = {name: i for i, name in enumerate(CALL_COLUMNS)}

# Bounds on what a provider (or a hand-made record) puts in the answer columns, so a
# hostile upstream's 10 MB id or 10,000 finish reasons cost a few hundred bytes a row.
# recorder/call_fields.py applies them; docs/store.md ("The call record") documents them.
RESPONSE_ID_CHARS = 200  # the id is cut to this many characters
FINISH_REASONS_MAX = 16  # reasons kept; more are counted in a last "+N more" entry
FINISH_REASON_CHARS = 40  # each reason cut to this
PARAMS_KEYS = 32  # sampling params kept, in the order sent
PARAMS_CHARS = 2000  # the JSON text of all of them at most; params past it are dropped
PARAM_CHARS = 200  # past PARAMS_CHARS: a string (a key: 64) cut to this, a list to 8 items
