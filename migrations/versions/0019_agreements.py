"""Authorization agreements (授权运营协议) and the listing each was submitted under; per-query prices on offers
and licences, and the ledger account that holds per-query fees until the enterprise pays them.

Revision ID: 0019_agreements
Revises: 0016_merge
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_agreements"
down_revision: str | Sequence[str] | None = "0016_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "authorization_agreements",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("authorizing_body", sa.String(200), nullable=False),
        sa.Column("operator_org_id", sa.Integer(), sa.ForeignKey("organizations.id"), nullable=False, index=True),
        sa.Column("departments", sa.JSON(), nullable=False),
        sa.Column("datasets", sa.JSON(), nullable=False),
        sa.Column("sectors", sa.JSON(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("conditions", sa.Text(), nullable=False, server_default=""),
        sa.Column("document_name", sa.String(200), nullable=False, server_default=""),
        sa.Column("document_key", sa.String(200), nullable=True),
        sa.Column("document_sha256", sa.String(64), nullable=True),
        sa.Column("document_size", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("status", sa.String(10), nullable=False, server_default="active", index=True),
        sa.Column("revoked_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoke_reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("listings") as batch:
        batch.add_column(sa.Column("agreement_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_listings_agreement", "authorization_agreements", ["agreement_id"], ["id"])
        batch.create_index("ix_listings_agreement_id", ["agreement_id"])
    with op.batch_alter_table("offers") as batch:
        batch.add_column(sa.Column("price_per_query_minor", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("licenses") as batch:
        batch.add_column(sa.Column("price_per_query_minor", sa.Integer(), nullable=False, server_default="0"))
    accounts = sa.table("ledger_accounts", sa.column("code"), sa.column("name"), sa.column("name_zh"),
                        sa.column("type"))
    op.bulk_insert(accounts, [{"code": "1101", "name": "Per-query fees receivable", "name_zh": "应收按次计费款",
                               "type": "asset"}])


def downgrade() -> None:
    op.execute("DELETE FROM ledger_accounts WHERE code IN ('1101')")
    with op.batch_alter_table("licenses") as batch:
        batch.drop_column("price_per_query_minor")
    with op.batch_alter_table("offers") as batch:
        batch.drop_column("price_per_query_minor")
    with op.batch_alter_table("listings") as batch:
        batch.drop_index("ix_listings_agreement_id")
        batch.drop_constraint("fk_listings_agreement", type_="foreignkey")
        batch.drop_column("agreement_id")
    op.drop_table("authorization_agreements")
