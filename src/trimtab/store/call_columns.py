"""The calls table's columns, in order, without loading SQLAlchemy: the recorder
builds rows in this order on the hot path, and store/calls.py checks it against
the schema."""

CALL_COLUMNS = (
    "id", "time", "system", "env", "release_id", "source", "route", "provider", "model",
    "status", "error_kind", "http_status", "latency_ms", "ttft_ms", "input_tokens",
    "output_tokens", "cached_input_tokens", "cache_write_tokens", "reasoning_tokens",
    "cost_micro_usd", "price_version", "attempt_count", "fallback_used", "user_id",
    "api_key_id", "tags", "attempts", "logging_mode", "request", "response", "error",
)
COLUMN = {name: i for i, name in enumerate(CALL_COLUMNS)}
