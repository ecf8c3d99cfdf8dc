"""Query runs become durable jobs: the work to do, attempts and a lease, so a crash never strands one.

Revision ID: 0012_nodes
Revises: 0006
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_nodes"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("query_runs") as batch:
        batch.add_column(sa.Column("job", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("worker", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_query_runs_status_lease", ["status", "lease_until"])


def downgrade() -> None:
    with op.batch_alter_table("query_runs") as batch:
        batch.drop_index("ix_query_runs_status_lease")
        for name in ("lease_until", "started_at", "queued_at", "worker", "attempts", "job"):
            batch.drop_column(name)
