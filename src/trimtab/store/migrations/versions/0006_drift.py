"""Drift reference profiles and drift check results.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "drift_baselines",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("system", sa.String(200), nullable=False),
        sa.Column("env", sa.String(100), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("release_id", sa.String(64), nullable=True),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("profile", sa.Text, nullable=False),
        sa.Column("extraction", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(320), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_drift_baselines"),
    )
    op.create_index(
        "ix_drift_baselines_system_env_created_at", "drift_baselines",
        ["system", "env", "created_at"],
    )
    op.create_table(
        "drift_results",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("system", sa.String(200), nullable=False),
        sa.Column("env", sa.String(100), nullable=False),
        sa.Column("baseline_id", sa.String(32), nullable=True),
        sa.Column("reference", sa.Text, nullable=False),
        sa.Column("current", sa.Text, nullable=False),
        sa.Column("current_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("current_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("n_reference", sa.Integer, nullable=False),
        sa.Column("n_current", sa.Integer, nullable=False),
        sa.Column("dataset_drift", sa.Boolean, nullable=False),
        sa.Column("share_drifted", sa.Float, nullable=False),
        sa.Column("drift_share", sa.Float, nullable=False),
        sa.Column("n_columns_tested", sa.Integer, nullable=False),
        sa.Column("n_columns_drifted", sa.Integer, nullable=False),
        sa.Column("columns", sa.Text, nullable=False),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_drift_results"),
    )
    op.create_index(
        "ix_drift_results_system_env_time", "drift_results", ["system", "env", "time"]
    )


def downgrade() -> None:
    op.drop_index("ix_drift_results_system_env_time", table_name="drift_results")
    op.drop_table("drift_results")
    op.drop_index("ix_drift_baselines_system_env_created_at", table_name="drift_baselines")
    op.drop_table("drift_baselines")
