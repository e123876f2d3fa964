"""The call log: one row per AI call or prediction.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("system", sa.String(200), nullable=False),
        sa.Column("env", sa.String(100), nullable=False),
        sa.Column("release_id", sa.String(64), nullable=True),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("route", sa.String(20), nullable=False),
        sa.Column("provider", sa.String(100), nullable=True),
        sa.Column("model", sa.String(200), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("error_kind", sa.String(40), nullable=True),
        sa.Column("http_status", sa.Integer, nullable=True),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("ttft_ms", sa.Float, nullable=True),
        sa.Column("input_tokens", sa.Integer, nullable=True),
        sa.Column("output_tokens", sa.Integer, nullable=True),
        sa.Column("cached_input_tokens", sa.Integer, nullable=True),
        sa.Column("cache_write_tokens", sa.Integer, nullable=True),
        sa.Column("reasoning_tokens", sa.Integer, nullable=True),
        sa.Column("cost_micro_usd", sa.BigInteger, nullable=True),
        sa.Column("price_version", sa.String(60), nullable=True),
        sa.Column("attempt_count", sa.Integer, nullable=False),
        sa.Column("fallback_used", sa.Boolean, nullable=False),
        sa.Column("user_id", sa.String(200), nullable=True),
        sa.Column("api_key_id", sa.String(40), nullable=True),
        sa.Column("tags", sa.Text, nullable=True),
        sa.Column("attempts", sa.Text, nullable=True),
        sa.Column("logging_mode", sa.String(20), nullable=False),
        sa.Column("request", sa.Text, nullable=True),
        sa.Column("response", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_calls"),
    )
    op.create_index("ix_calls_system_time", "calls", ["system", "time"])
    op.create_index("ix_calls_time", "calls", ["time"])


def downgrade() -> None:
    op.drop_index("ix_calls_time", table_name="calls")
    op.drop_index("ix_calls_system_time", table_name="calls")
    op.drop_table("calls")
