"""Licensing API schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class OrganizationRegister(BaseModel):
    name: str = Field(min_length=2, max_length=200)
    credit_code: str
    admin_email: str = Field(min_length=3, max_length=254)
    admin_password: str = Field(min_length=8, max_length=200)


class OrganizationRead(BaseModel):
    id: int
    name: str
    kind: str
    credit_code: str | None = None


class RegistrationRead(BaseModel):
    organization: OrganizationRead
    user_id: int
    email: str


class LicenseCreate(BaseModel):
    listing_id: int
    offer_id: int
    purpose: str = Field(default="", max_length=2000)


class LicenseReview(BaseModel):
    decision: Literal["approve", "reject"]
    comment: str = ""


class LicenseRead(BaseModel):
    id: int
    status: str
    listing_id: int
    offer_id: int
    organization_id: int
    purpose: str
    scenario: str
    price_minor: int = Field(description="Price in minor units (fen) of `currency`")
    currency: str
    term_days: int
    epsilon_budget: float
    epsilon_spent: float
    epsilon_remaining: float
    queries_used: int
    query_quota: int
    activated_at: datetime | None
    expires_at: datetime | None
    created_at: datetime


class LicensePage(BaseModel):
    items: list[LicenseRead]
    total: int


class CheckoutCreate(BaseModel):
    method: Literal["stripe", "bank_transfer"] = "bank_transfer"


class CheckoutRead(BaseModel):
    payment_id: int
    amount_minor: int
    currency: str
    method: str
    checkout_url: str | None = None
    bank_reference: str | None = None
    bank_account: dict[str, str] | None = None


class PaymentConfirm(BaseModel):
    bank_reference: str
    amount_minor: int = Field(gt=0)


class PaymentRead(BaseModel):
    id: int
    license_id: int
    method: str
    amount_minor: int
    currency: str
    status: str
    bank_reference: str | None
    refunded_minor: int
    confirmed_at: datetime | None
    created_at: datetime


class PaymentPage(BaseModel):
    items: list[PaymentRead]
    total: int
