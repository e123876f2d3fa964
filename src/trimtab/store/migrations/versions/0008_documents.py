"""Generated compliance documents: which, for which system, their hash and when.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("system", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(60), nullable=False),
        sa.Column("format", sa.String(10), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("owner", sa.String(320), nullable=False),
        sa.Column("missing", sa.Integer, nullable=False),
        sa.Column("location", sa.Text, nullable=True),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_documents"),
    )
    op.create_index("ix_documents_system_generated_at", "documents", ["system", "generated_at"])


def downgrade() -> None:
    op.drop_index("ix_documents_system_generated_at", table_name="documents")
    op.drop_table("documents")
