"""Alert rules' state, alert events and quality scores.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_state",
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("system", sa.String(200), nullable=False),
        sa.Column("env", sa.String(100), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("active_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("rule", "system", "env", name="pk_alert_state"),
    )
    op.create_table(
        "alert_events",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("system", sa.String(200), nullable=False),
        sa.Column("env", sa.String(100), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("metric", sa.String(40), nullable=False),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alert_events"),
    )
    op.create_index("ix_alert_events_time", "alert_events", ["time"])
    op.create_index(
        "ix_alert_events_rule_system_env_id", "alert_events", ["rule", "system", "env", "id"]
    )
    op.create_table(
        "alert_deliveries",
        sa.Column("event_id", sa.Integer, nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("detail", sa.Text, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", "target", name="pk_alert_deliveries"),
        sa.ForeignKeyConstraint(
            ["event_id"], ["alert_events.id"], name="fk_alert_deliveries_event_id_alert_events"
        ),
    )
    op.create_index(
        "ix_alert_deliveries_status_updated_at", "alert_deliveries", ["status", "updated_at"]
    )
    op.create_table(
        "scores",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("call_id", sa.String(32), nullable=False),
        sa.Column("system", sa.String(200), nullable=False),
        sa.Column("env", sa.String(100), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("comment", sa.Text, nullable=True),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_scores"),
    )
    op.create_index("ix_scores_system_time", "scores", ["system", "time"])
    op.create_index("ix_scores_call_id", "scores", ["call_id"])


def downgrade() -> None:
    op.drop_index("ix_scores_call_id", table_name="scores")
    op.drop_index("ix_scores_system_time", table_name="scores")
    op.drop_table("scores")
    op.drop_index("ix_alert_deliveries_status_updated_at", table_name="alert_deliveries")
    op.drop_table("alert_deliveries")
    op.drop_index("ix_alert_events_rule_system_env_id", table_name="alert_events")
    op.drop_index("ix_alert_events_time", table_name="alert_events")
    op.drop_table("alert_events")
    op.drop_table("alert_state")
