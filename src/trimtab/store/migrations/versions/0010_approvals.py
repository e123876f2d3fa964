"""Promotion requests held for approval, and each approver's decision.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "approval_requests",
        sa.Column("id", sa.String(16), nullable=False),
        sa.Column("system", sa.String(200), nullable=False),
        sa.Column("env", sa.String(100), nullable=False),
        sa.Column("release_id", sa.String(64), nullable=False),
        sa.Column("mode", sa.String(20), nullable=False),
        sa.Column("percent", sa.Integer, nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("requested_by", sa.String(320), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("required", sa.Integer, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deployment_id", sa.Integer, nullable=True),
        sa.ForeignKeyConstraint(["release_id"], ["releases.id"],
                                name="fk_approval_requests_release_id_releases"),
        sa.ForeignKeyConstraint(["deployment_id"], ["deployments.id"],
                                name="fk_approval_requests_deployment_id_deployments"),
        sa.PrimaryKeyConstraint("id", name="pk_approval_requests"),
    )
    op.create_index("ix_approval_requests_state_requested_at", "approval_requests",
                    ["state", "requested_at"])
    op.create_table(
        "approval_votes",
        sa.Column("request_id", sa.String(16), nullable=False),
        sa.Column("approver", sa.String(320), nullable=False),
        sa.Column("decision", sa.String(10), nullable=False),
        sa.Column("release_id", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["approval_requests.id"],
                                name="fk_approval_votes_request_id_approval_requests"),
        sa.PrimaryKeyConstraint("request_id", "approver", name="pk_approval_votes"),
    )


def downgrade() -> None:
    op.drop_table("approval_votes")
    op.drop_index("ix_approval_requests_state_requested_at", table_name="approval_requests")
    op.drop_table("approval_requests")
