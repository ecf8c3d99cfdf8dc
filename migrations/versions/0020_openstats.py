"""Open statistics (数据社会化): differentially private tables the data office publishes for everyone.

Each table is one sandbox job (`query_runs`) charged to the dataset's global budget only, so a job may now
have no licence.

Revision ID: 0020_openstats
Revises: 0016_merge
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_openstats"
down_revision: str | Sequence[str] | None = "0016_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("query_runs") as batch:
        batch.alter_column("license_id", existing_type=sa.Integer(), nullable=True)
    op.create_table(
        "open_statistics",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("listing_id", sa.Integer(), sa.ForeignKey("listings.id"), nullable=False, index=True),
        sa.Column("dataset_version_id", sa.Integer(), sa.ForeignKey("dataset_versions.id"), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("epsilon_total", sa.Float(), nullable=False),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "open_statistic_tables",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("statistic_id", sa.Integer(), sa.ForeignKey("open_statistics.id"), nullable=False, index=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("query_run_id", sa.Integer(), sa.ForeignKey("query_runs.id"), nullable=False, unique=True),
    )


def downgrade() -> None:
    op.drop_table("open_statistic_tables")
    op.drop_table("open_statistics")
    op.execute("DELETE FROM query_runs WHERE license_id IS NULL")
    with op.batch_alter_table("query_runs") as batch:
        batch.alter_column("license_id", existing_type=sa.Integer(), nullable=False)
