"""Licensing tables: licences (with their privacy budget), ε caps, payments, refunds, remittances, Stripe."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Column, DateTime, Text
from sqlmodel import Field, SQLModel

import market.models  # noqa: F401  (listings and offers, targets of foreign keys)
from core.models import ts_column
from market.policy import delta_of, epsilon_of


def _units() -> Any:
    return Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))


class License(SQLModel, table=True):
    __tablename__ = "licenses"
    __table_args__ = (
        CheckConstraint("epsilon_spent_micro <= epsilon_budget_micro", name="ck_license_budget_exact"),
        CheckConstraint("queries_used <= query_quota", name="ck_license_quota"),
    )
    id: int | None = Field(default=None, primary_key=True)
    listing_id: int = Field(foreign_key="listings.id", index=True)
    offer_id: int = Field(foreign_key="offers.id")
    organization_id: int = Field(foreign_key="organizations.id", index=True)
    applicant_id: int = Field(foreign_key="users.id")
    purpose: str = Field(default="", sa_column=Column(Text, nullable=False))
    # For a free offer, what shows the use is for public governance or welfare (the eligibility review reads it).
    evidence: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    status: str = Field(max_length=20, index=True)
    scenario: str = Field(max_length=20)
    price_minor: int = 0  # fen, fixed from the offer when applied for
    price_per_query_minor: int = 0  # fen per released query (按次计费), fixed from the offer like the price
    currency: str = Field(default="CNY", max_length=3)
    term_days: int
    # ε in integer micro-units and δ in atto-units (see market.policy): sums stay exact on every database.
    epsilon_budget_micro: int = _units()
    epsilon_spent_micro: int = _units()
    delta_spent_atto: int = _units()  # δ of queries grouping by non-public keys
    query_quota: int
    queries_used: int = 0
    activated_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    expires_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    created_at: datetime = ts_column()
    # Fixed when applied for, like the price: reports must not change when a listing is renamed.
    provider_org_id: int | None = Field(default=None, foreign_key="organizations.id", index=True)
    dataset_id: int | None = Field(default=None, foreign_key="datasets.id")  # whose ε caps this licence draws on
    listing_title: str = Field(default="", max_length=200)
    offer_name: str = Field(default="", max_length=100)
    renews_license_id: int | None = Field(default=None, foreign_key="licenses.id")
    approved_by: int | None = None  # the data-office user who approved it (important data only)
    approved_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    status_reason: str | None = Field(default=None, sa_column=Column(Text))
    status_changed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))

    @property
    def epsilon_budget(self) -> float:
        return epsilon_of(self.epsilon_budget_micro)

    @property
    def epsilon_spent(self) -> float:
        return epsilon_of(self.epsilon_spent_micro)

    @property
    def epsilon_remaining(self) -> float:
        return epsilon_of(max(0, self.epsilon_budget_micro - self.epsilon_spent_micro))

    @property
    def delta_spent(self) -> float:
        return delta_of(self.delta_spent_atto)


class EpsilonCap(SQLModel, table=True):
    """ε and δ spent on one dataset version by one enterprise (scope `enterprise`) or by everyone (`global`).

    Counted per *budget version* (the first version holding the same data): a new version gets a fresh
    budget only when its data changed. The amounts only move through conditional UPDATEs in
    `licensing.service.budget`; the caps come from the listing's policy in force at each reservation, so a
    tightened policy applies at once."""

    __tablename__ = "epsilon_caps"
    __table_args__ = (CheckConstraint("spent_micro >= 0 AND delta_spent_atto >= 0", name="ck_epsilon_cap_units"),)
    id: int | None = Field(default=None, primary_key=True)
    scope_key: str = Field(unique=True, max_length=60)  # enterprise:<org>:<dataset>:<bv> | global:<dataset>:<bv>
    scope: str = Field(max_length=10)
    dataset_id: int = Field(foreign_key="datasets.id", index=True)
    budget_version_id: int | None = Field(default=None, foreign_key="dataset_versions.id")
    organization_id: int | None = Field(default=None, foreign_key="organizations.id")
    spent_micro: int = _units()  # ε in micro-units
    delta_spent_atto: int = _units()  # δ in atto-units

    @property
    def spent(self) -> float:
        return epsilon_of(self.spent_micro)


class Payment(SQLModel, table=True):
    __tablename__ = "payments"
    id: int | None = Field(default=None, primary_key=True)
    license_id: int = Field(foreign_key="licenses.id", index=True)
    organization_id: int = Field(foreign_key="organizations.id", index=True)
    method: str = Field(max_length=20)  # bank_transfer | stripe
    amount_minor: int  # fen
    currency: str = Field(default="CNY", max_length=3)
    # pending | processing | succeeded | partially_refunded | refunded | failed | expired
    status: str = Field(default="pending", max_length=20)
    bank_reference: str | None = Field(default=None, unique=True, max_length=40)
    received_reference: str | None = Field(default=None, max_length=80)  # the payer's transfer reference
    stripe_session_id: str | None = Field(default=None, unique=True, max_length=255)
    checkout_url: str | None = Field(default=None, sa_column=Column(Text))
    refunded_minor: int = 0
    received_minor: int = 0  # fen received so far on a bank transfer paid in parts (held in 2201 until complete)
    confirmed_by: int | None = None
    confirmed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    created_at: datetime = ts_column()
    attempt: int = 1  # the n-th payment attempt for its licence: part of the Stripe idempotency key
    stripe_payment_intent: str | None = Field(default=None, max_length=255, index=True, unique=True)
    stripe_charge: str | None = Field(default=None, max_length=255, index=True, unique=True)
    fee_minor: int = 0  # processor fee, from Stripe's balance transaction


class PaymentRefund(SQLModel, table=True):
    """Money given back on a payment; each one is booked once, as a reversing journal entry."""

    __tablename__ = "payment_refunds"
    id: int | None = Field(default=None, primary_key=True)
    payment_id: int = Field(foreign_key="payments.id", index=True)
    external_key: str = Field(unique=True, max_length=255)  # stripe:refund:<re_id> | bank-refund:<reference>
    amount_minor: int
    currency: str = Field(max_length=3)
    reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    entry_id: int = Field(foreign_key="journal_entries.id")
    created_by: int | None = None
    created_at: datetime = ts_column()


class Remittance(SQLModel, table=True):
    """A transfer of collected non-tax revenue to the treasury (上缴国库)."""

    __tablename__ = "remittances"
    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(unique=True, max_length=80)  # the treasury's receipt (缴款书) number
    amount_minor: int
    currency: str = Field(max_length=3)
    note: str = Field(default="", sa_column=Column(Text, nullable=False))
    entry_id: int = Field(foreign_key="journal_entries.id")
    created_by: int | None = None
    created_at: datetime = ts_column()


class StripeEvent(SQLModel, table=True):
    """The webhook inbox: each verified event stored once, by its id, then handled idempotently."""

    __tablename__ = "stripe_events"
    id: str = Field(primary_key=True, max_length=255)
    type: str = Field(max_length=100, index=True)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    received_at: datetime = ts_column()
    deliveries: int = 1
    status: str = Field(default="received", max_length=20)  # received | processed | ignored | failed
    processed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    error: str | None = Field(default=None, sa_column=Column(Text))


class Reconciliation(SQLModel, table=True):
    """A saved comparison of the ledger with Stripe's balance transactions and payouts."""

    __tablename__ = "reconciliations"
    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=10)  # api | csv
    period_from: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    period_to: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    ok: bool = False
    report: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_by: int | None = None
    created_at: datetime = ts_column()


class Rating(SQLModel, table=True):
    """An enterprise's rating of a product after using it (满意度): one per licence, 1 to 5."""

    __tablename__ = "ratings"
    __table_args__ = (CheckConstraint("score BETWEEN 1 AND 5", name="ck_rating_score"),)
    id: int | None = Field(default=None, primary_key=True)
    license_id: int = Field(foreign_key="licenses.id", unique=True)
    listing_id: int = Field(foreign_key="listings.id", index=True)
    organization_id: int = Field(foreign_key="organizations.id")
    score: int
    comment: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_at: datetime = ts_column()


class OperatingCost(SQLModel, table=True):
    """What operating the platform cost in a month (运营成本), recorded by finance for the effectiveness
    evaluation: revenue is set against it. Append-only; a correction is a negative line."""

    __tablename__ = "operating_costs"
    id: int | None = Field(default=None, primary_key=True)
    month: str = Field(max_length=7, index=True)  # YYYY-MM, China Standard Time
    category: str = Field(max_length=40)
    amount_minor: int = Field(sa_column=Column(BigInteger, nullable=False))  # fen; negative corrects a line
    currency: str = Field(default="CNY", max_length=3)
    note: str = Field(default="", sa_column=Column(Text, nullable=False))
    recorded_by: int = Field(foreign_key="users.id")
    created_at: datetime = ts_column()


class RevenueCeiling(SQLModel, table=True):
    """The approved revenue ceiling (最高准许收入: cost plus a reasonable profit) for the operator in a year,
    set by the data office for the authorizing body. Append-only: setting it again adds a row; the latest wins."""

    __tablename__ = "revenue_ceilings"
    id: int | None = Field(default=None, primary_key=True)
    year: int = Field(index=True)
    ceiling_minor: int = Field(sa_column=Column(BigInteger, nullable=False))  # fen
    currency: str = Field(default="CNY", max_length=3)
    basis: str = Field(default="", sa_column=Column(Text, nullable=False))  # the approval document, cost basis
    set_by: int = Field(foreign_key="users.id")
    created_at: datetime = ts_column()
