"""Virtual keys scoped to environments.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # JSON list of environments the key may call; NULL (keys made before this) = every one.
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("envs", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("envs")
