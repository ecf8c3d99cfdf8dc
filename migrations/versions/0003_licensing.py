"""licensing: licence lifecycle fields, ε caps, Stripe payments, refunds, remittances, webhook inbox, reconciliations

Revision ID: 0003
Revises: 0001
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.append_only import make_append_only

revision: str = "0003"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_ACCOUNTS = [("3001", "Revenue remitted to the treasury", "已上缴国库", "equity")]
APPEND_ONLY = ("payment_refunds", "remittances")


def _licenses() -> None:
    with op.batch_alter_table("licenses") as batch:
        batch.add_column(sa.Column("provider_org_id", sa.Integer(), sa.ForeignKey("organizations.id",
                                   name="fk_licenses_provider_org_id"), nullable=True))
        batch.add_column(sa.Column("dataset_id", sa.Integer(), sa.ForeignKey("datasets.id",
                                   name="fk_licenses_dataset_id"), nullable=True))
        batch.add_column(sa.Column("listing_title", sa.String(200), nullable=False, server_default=""))
        batch.add_column(sa.Column("offer_name", sa.String(100), nullable=False, server_default=""))
        batch.add_column(sa.Column("renews_license_id", sa.Integer(), sa.ForeignKey("licenses.id",
                                   name="fk_licenses_renews_license_id"), nullable=True))
        batch.add_column(sa.Column("status_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_licenses_provider_org_id", ["provider_org_id"])
    op.execute("UPDATE licenses SET provider_org_id = (SELECT provider_org_id FROM listings "
               "WHERE listings.id = licenses.listing_id), dataset_id = (SELECT dataset_id FROM listings "
               "WHERE listings.id = licenses.listing_id), listing_title = (SELECT title FROM listings "
               "WHERE listings.id = licenses.listing_id), offer_name = (SELECT name FROM offers "
               "WHERE offers.id = licenses.offer_id)")


def _payments() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("attempt", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("stripe_payment_intent", sa.String(255), nullable=True))
        batch.add_column(sa.Column("stripe_charge", sa.String(255), nullable=True))
        batch.add_column(sa.Column("fee_minor", sa.Integer(), nullable=False, server_default="0"))
        batch.create_index("ix_payments_stripe_payment_intent", ["stripe_payment_intent"], unique=True)
        batch.create_index("ix_payments_stripe_charge", ["stripe_charge"], unique=True)


def _tables() -> None:
    op.create_table(
        "epsilon_caps",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("scope_key", sa.String(60), nullable=False, unique=True),
        sa.Column("scope", sa.String(10), nullable=False),
        sa.Column("dataset_id", sa.Integer(), sa.ForeignKey("datasets.id"), nullable=False, index=True),
        sa.Column("organization_id", sa.Integer(), sa.ForeignKey("organizations.id"), nullable=True),
        sa.Column("spent", sa.Float(), nullable=False, server_default="0"),
        sa.CheckConstraint("spent >= 0", name="ck_epsilon_cap_nonnegative"),
    )
    op.create_table(
        "payment_refunds",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("payment_id", sa.Integer(), sa.ForeignKey("payments.id"), nullable=False, index=True),
        sa.Column("external_key", sa.String(255), nullable=False, unique=True),
        sa.Column("amount_minor", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("entry_id", sa.Integer(), sa.ForeignKey("journal_entries.id"), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "remittances",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("reference", sa.String(80), nullable=False, unique=True),
        sa.Column("amount_minor", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("entry_id", sa.Integer(), sa.ForeignKey("journal_entries.id"), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "stripe_events",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("type", sa.String(100), nullable=False, index=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deliveries", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
    )
    op.create_table(
        "reconciliations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("period_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("period_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def upgrade() -> None:
    _licenses()
    _payments()
    _tables()
    make_append_only(APPEND_ONLY)
    accounts = sa.table("ledger_accounts", sa.column("code"), sa.column("name"), sa.column("name_zh"),
                        sa.column("type"))
    op.bulk_insert(accounts, [dict(zip(("code", "name", "name_zh", "type"), a, strict=True)) for a in NEW_ACCOUNTS])


def downgrade() -> None:
    op.execute("DELETE FROM ledger_accounts WHERE code IN ('3001')")
    for table in ("reconciliations", "stripe_events", "remittances", "payment_refunds", "epsilon_caps"):
        op.drop_table(table)
    with op.batch_alter_table("payments") as batch:
        batch.drop_index("ix_payments_stripe_charge")
        batch.drop_index("ix_payments_stripe_payment_intent")
        for column in ("fee_minor", "stripe_charge", "stripe_payment_intent", "attempt"):
            batch.drop_column(column)
    with op.batch_alter_table("licenses") as batch:
        batch.drop_index("ix_licenses_provider_org_id")
        for column in ("status_changed_at", "status_reason", "renews_license_id", "offer_name", "listing_title",
                       "dataset_id", "provider_org_id"):
            batch.drop_column(column)
