"""The provider's response id, finish reasons and the sampling params sent, on each call.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable, no default: calls recorded before this keep NULL (not known), and on
    # PostgreSQL adding a nullable column without a default rewrites no rows.
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("response_id", sa.String(200), nullable=True))
        batch.add_column(sa.Column("finish_reasons", sa.Text, nullable=True))
        batch.add_column(sa.Column("params", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("params")
        batch.drop_column("finish_reasons")
        batch.drop_column("response_id")
