"""Licensing tables: licences (with their privacy budget), ε caps, payments, refunds, remittances, Stripe."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Column, DateTime, Text
from sqlmodel import Field, SQLModel

import market.models  # noqa: F401  (listings and offers, targets of foreign keys)
from core.models import ts_column


class License(SQLModel, table=True):
    __tablename__ = "licenses"
    __table_args__ = (
        CheckConstraint("epsilon_spent <= epsilon_budget + 1e-9", name="ck_license_budget"),
        CheckConstraint("queries_used <= query_quota", name="ck_license_quota"),
    )
    id: int | None = Field(default=None, primary_key=True)
    listing_id: int = Field(foreign_key="listings.id", index=True)
    offer_id: int = Field(foreign_key="offers.id")
    organization_id: int = Field(foreign_key="organizations.id", index=True)
    applicant_id: int = Field(foreign_key="users.id")
    purpose: str = Field(default="", sa_column=Column(Text, nullable=False))
    status: str = Field(max_length=20, index=True)
    scenario: str = Field(max_length=20)
    price_minor: int = 0  # fen, fixed from the offer when applied for
    currency: str = Field(default="CNY", max_length=3)
    term_days: int
    epsilon_budget: float
    epsilon_spent: float = 0.0
    delta_spent: float = 0.0  # δ of queries grouping by non-public keys; capped by the listing's delta_budget
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


class EpsilonCap(SQLModel, table=True):
    """ε spent on one dataset by one enterprise (scope `enterprise`) or by everyone (scope `global`).

    `spent` only moves through conditional UPDATEs in `licensing.service.budget`; the cap itself comes
    from the listing's current DP policy at each reservation, so a tightened policy applies at once."""

    __tablename__ = "epsilon_caps"
    __table_args__ = (CheckConstraint("spent >= 0", name="ck_epsilon_cap_nonnegative"),)
    id: int | None = Field(default=None, primary_key=True)
    scope_key: str = Field(unique=True, max_length=60)  # enterprise:<org>:<dataset> | global:<dataset>
    scope: str = Field(max_length=10)
    dataset_id: int = Field(foreign_key="datasets.id", index=True)
    organization_id: int | None = Field(default=None, foreign_key="organizations.id")
    spent: float = 0.0


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
