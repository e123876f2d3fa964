"""Human review: weekly samples of calls and the reviews people give them.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "review_samples",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("system", sa.String(200), nullable=False),
        sa.Column("env", sa.String(100), nullable=False),
        sa.Column("week", sa.String(10), nullable=False),
        sa.Column("seed", sa.BigInteger, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("population", sa.Integer, nullable=False),
        sa.Column("strata", sa.Text, nullable=False),
        sa.Column("drawn_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_review_samples"),
        sa.UniqueConstraint("system", "env", "week", name="uq_review_samples_system_env_week"),
    )
    op.create_table(
        "review_items",
        sa.Column("sample_id", sa.String(32), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("call_id", sa.String(32), nullable=False),
        sa.Column("stratum", sa.Text, nullable=False),
        sa.ForeignKeyConstraint(["sample_id"], ["review_samples.id"],
                                name="fk_review_items_sample_id_review_samples"),
        sa.PrimaryKeyConstraint("sample_id", "position", name="pk_review_items"),
    )
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("call_id", sa.String(32), nullable=False),
        sa.Column("system", sa.String(200), nullable=False),
        sa.Column("sample_id", sa.String(32), nullable=True),
        sa.Column("reviewer", sa.String(320), nullable=False),
        sa.Column("verdict", sa.String(10), nullable=False),
        sa.Column("score", sa.Integer, nullable=True),
        sa.Column("labels", sa.Text, nullable=True),
        sa.Column("comment", sa.Text, nullable=True),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_reviews"),
        sa.UniqueConstraint("call_id", "reviewer", name="uq_reviews_call_id_reviewer"),
    )
    op.create_index("ix_reviews_system_time", "reviews", ["system", "time"])


def downgrade() -> None:
    op.drop_index("ix_reviews_system_time", table_name="reviews")
    op.drop_table("reviews")
    op.drop_table("review_items")
    op.drop_table("review_samples")
