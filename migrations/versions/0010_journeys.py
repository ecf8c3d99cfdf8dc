"""Daily journeys: what a review saw (to show what changed since), partial bank payments and their account.

Revision ID: 0010_journeys
Revises: 0006
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_journeys"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ADVANCE = ("2201", "Bank transfers received in part", "预收款（部分到账）", "liability")


def upgrade() -> None:
    with op.batch_alter_table("listing_reviews") as batch:
        batch.add_column(sa.Column("snapshot", sa.JSON(), nullable=True))
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("received_minor", sa.Integer(), nullable=False, server_default="0"))
    accounts = sa.table("ledger_accounts", sa.column("code"), sa.column("name"), sa.column("name_zh"),
                        sa.column("type"))
    op.bulk_insert(accounts, [dict(zip(("code", "name", "name_zh", "type"), ADVANCE, strict=True))])


def downgrade() -> None:
    op.execute(f"DELETE FROM ledger_accounts WHERE code = '{ADVANCE[0]}'")
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("received_minor")
    with op.batch_alter_table("listing_reviews") as batch:
        batch.drop_column("snapshot")
