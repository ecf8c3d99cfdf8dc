"""Complaints and objections (投诉与异议), filed by anyone and handled by the data office.

Revision ID: 0015_rules
Revises: 0006
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_rules"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "complaints",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("listing_id", sa.Integer(), sa.ForeignKey("listings.id"), nullable=True, index=True),
        sa.Column("registration_code", sa.String(32), nullable=True, index=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("contact", sa.String(200), nullable=False, server_default=""),
        sa.Column("tracking_code", sa.String(32), nullable=False, unique=True),
        sa.Column("filed_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("status", sa.String(12), nullable=False, server_default="open", index=True),
        sa.Column("decision", sa.String(12), nullable=True),
        sa.Column("reason_code", sa.String(40), nullable=True),
        sa.Column("reply", sa.Text(), nullable=False, server_default=""),
        sa.Column("handled_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("complaints")
