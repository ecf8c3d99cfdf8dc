"""Licensing tables: licences (with their privacy budget) and payments."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Column, DateTime, Text
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
    query_quota: int
    queries_used: int = 0
    activated_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    expires_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    created_at: datetime = ts_column()


class Payment(SQLModel, table=True):
    __tablename__ = "payments"
    id: int | None = Field(default=None, primary_key=True)
    license_id: int = Field(foreign_key="licenses.id", index=True)
    organization_id: int = Field(foreign_key="organizations.id", index=True)
    method: str = Field(max_length=20)  # bank_transfer | stripe
    amount_minor: int  # fen
    currency: str = Field(default="CNY", max_length=3)
    status: str = Field(default="pending", max_length=20)
    bank_reference: str | None = Field(default=None, unique=True, max_length=40)
    received_reference: str | None = Field(default=None, max_length=80)  # the payer's transfer reference
    stripe_session_id: str | None = Field(default=None, unique=True, max_length=255)
    checkout_url: str | None = Field(default=None, sa_column=Column(Text))
    refunded_minor: int = 0
    confirmed_by: int | None = None
    confirmed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    created_at: datetime = ts_column()
