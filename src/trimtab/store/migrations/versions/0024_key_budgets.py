"""A monthly budget on a gateway key, set when it is created (LiteLLM's max_budget).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Micro-dollars per calendar month (UTC); NULL (keys made before this) = no budget.
    # budget_enforced NULL or false: the budget is watched, the gateway does not refuse.
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("monthly_budget_micro_usd", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("budget_enforced", sa.Boolean, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("budget_enforced")
        batch.drop_column("monthly_budget_micro_usd")
