"""Licensing API schemas."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


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
    evidence: str = Field(default="", max_length=4000, description="For a free (public-welfare) offer: what shows "
                          "the use serves public governance or public welfare — a project, a document number, a link")


class LicenseReview(BaseModel):
    decision: Literal["approve", "reject"]
    comment: str = ""
    reason_code: str | None = Field(default=None, description="Required to refuse a free licence's eligibility: "
                                    "purpose-not-public-interest, evidence-insufficient or commercial-use")


class LicenseRead(BaseModel):
    id: int
    status: str
    listing_id: int
    offer_id: int
    organization_id: int
    purpose: str
    evidence: str = ""
    scenario: str
    price_minor: int = Field(description="Price in minor units (fen) of `currency`")
    price_per_query_minor: int = Field(default=0, description="Fen per released query (按次计费); 0: none")
    currency: str
    term_days: int
    epsilon_budget: float
    epsilon_spent: float
    epsilon_remaining: float
    delta_spent: float = 0.0
    queries_used: int
    query_quota: int
    activated_at: datetime | None
    expires_at: datetime | None
    created_at: datetime
    listing_title: str = ""
    offer_name: str = ""
    provider_org_id: int | None = None
    renews_license_id: int | None = Field(default=None, description="The licence this one renews, if any")
    status_reason: str | None = Field(default=None, description="Why the data office suspended or revoked it")
    status_changed_at: datetime | None = None


class LicenseAction(BaseModel):
    reason: str = Field(min_length=2, max_length=2000, description="Recorded in the audit log and shown to the "
                                                                    "enterprise")


class LicenseRenew(BaseModel):
    purpose: str | None = Field(default=None, max_length=2000, description="Defaults to the renewed licence's purpose")


class LicensePage(BaseModel):
    items: list[LicenseRead]
    total: int


class CheckoutCreate(BaseModel):
    method: Literal["stripe", "bank_transfer"] = "bank_transfer"


class BankAccount(BaseModel):
    """Where a bank transfer goes (SHUYU_TREASURY_* settings)."""

    account_name: str
    bank: str
    account_number: str


class CheckoutRead(BaseModel):
    payment_id: int
    amount_minor: int
    currency: str
    method: str
    checkout_url: str | None = None
    bank_reference: str | None = Field(default=None, description="Quote it exactly in the transfer's remark (附言)")
    bank_account: BankAccount | None = None
    received_minor: int = Field(default=0, description="Fen received so far on a transfer paid in parts")
    created_at: datetime | None = None
    payer_name: str | None = None
    payer_credit_code: str | None = None


class PaymentConfirm(BaseModel):
    bank_reference: str
    amount_minor: int = Field(gt=0)


class RefundCreate(BaseModel):
    amount_minor: int = Field(gt=0, description="Minor units (fen) of the payment's currency; at most what is left")
    reason: str = Field(min_length=2, max_length=2000)
    bank_reference: str | None = Field(default=None, max_length=80,
                                       description="Bank transfers: the reference of the outgoing refund transfer")


class RefundRead(BaseModel):
    id: int
    payment_id: int
    external_key: str
    amount_minor: int
    currency: str
    reason: str
    entry_id: int
    created_at: datetime


class PaymentRead(BaseModel):
    id: int
    license_id: int
    method: str
    amount_minor: int
    currency: str
    status: str
    bank_reference: str | None
    refunded_minor: int
    received_minor: int = Field(default=0, description="Fen received so far on a bank transfer paid in parts")
    payer_name: str | None = None
    payer_credit_code: str | None = None
    confirmed_at: datetime | None
    created_at: datetime
    attempt: int = 1
    fee_minor: int = Field(default=0, description="Processor fee in minor units (Stripe), booked as an expense")
    checkout_url: str | None = None
    stripe_session_id: str | None = None
    stripe_payment_intent: str | None = None
    stripe_charge: str | None = None
    refunds: list[RefundRead] = []


class PaymentPage(BaseModel):
    items: list[PaymentRead]
    total: int


class RemittanceCreate(BaseModel):
    amount_minor: int = Field(gt=0, description="Minor units (fen) transferred to the treasury")
    currency: str = Field(default="CNY", pattern="^[A-Z]{3}$")
    reference: str = Field(min_length=1, max_length=80, description="The treasury receipt (缴款书) number")
    note: str = Field(default="", max_length=2000)


class RemittanceRead(BaseModel):
    id: int
    reference: str
    amount_minor: int
    currency: str
    note: str
    entry_id: int
    created_at: datetime


class RemittancePage(BaseModel):
    items: list[RemittanceRead]
    total: int


class TreasuryRead(BaseModel):
    currency: str
    collected_minor: int = Field(description="Non-tax revenue collected, net of refunds")
    remitted_minor: int = Field(description="Transferred to the treasury (上缴国库)")
    owed_minor: int = Field(description="Collected but not yet remitted")


class TreasuryPage(BaseModel):
    items: list[TreasuryRead]


class RevenueRow(BaseModel):
    key: str
    label: str
    gross_minor: int
    refunds_minor: int
    net_minor: int
    payments: int = Field(description="Payments with revenue booked in the period")


class RevenueReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    currency: str
    from_: date | None = Field(default=None, alias="from")
    to: date | None = None
    group_by: str
    gross_minor: int
    refunds_minor: int
    net_minor: int = Field(description="gross − refunds; processor fees are an expense, not netted here")
    rows: list[RevenueRow]
    treasury: TreasuryRead


class ReconciliationCreate(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: datetime | None = Field(default=None, alias="from", description="Start (inclusive; UTC unless an offset "
                                                                          "is given); default: the beginning")
    to: datetime | None = Field(default=None, description="End (exclusive); default: now")


class ReconciliationRead(BaseModel):
    id: int
    source: str
    period_from: datetime | None
    period_to: datetime | None
    ok: bool = Field(description="True when there is no unexplained difference")
    created_at: datetime
    summary: dict[str, Any]
    matched: list[dict[str, Any]]
    missing_in_ledger: list[dict[str, Any]]
    missing_in_stripe: list[dict[str, Any]]
    mismatches: list[dict[str, Any]]
    payout_mismatches: list[dict[str, Any]]


class ReconciliationItem(BaseModel):
    id: int
    source: str
    period_from: datetime | None
    period_to: datetime | None
    ok: bool
    created_at: datetime
    summary: dict[str, Any]


class ReconciliationPage(BaseModel):
    items: list[ReconciliationItem]
    total: int


class WebhookAck(BaseModel):
    id: str
    status: str


class EnterpriseUsage(BaseModel):
    organization_id: int
    organization: str
    epsilon_spent: float
    delta_spent: float


class DatasetBudgetRead(BaseModel):
    """A dataset version's odometer: the privacy loss spent by every licensee against its global cap."""

    listing_id: int
    dataset_id: int
    budget_version_id: int = Field(description="The first version holding the same data: a new version gets a "
                                               "fresh budget only when its data changed")
    global_epsilon_cap: float
    epsilon_spent: float = Field(description="Including queries in flight (reserved before they run)")
    epsilon_remaining: float
    exhausted: bool = Field(description="When true, ordering is closed and queries are refused")
    enterprise_epsilon_cap: float
    delta_spent: float
    global_delta_cap: float
    by_enterprise: list[EnterpriseUsage]
    open_statistics_epsilon: float = Field(default=0.0, description="ε spent on the global cap by no enterprise: "
                                                                    "the data office's open statistics")


class StatementLine(BaseModel):
    """One credit line of a bank statement and what the import did with it."""

    line: int = Field(description="Line number in the file")
    date: str = ""
    payer: str = ""
    text: str = Field(default="", description="The line's remark (摘要/附言), where the reference is looked for")
    amount_minor: int
    reference: str | None = None
    payment_id: int | None = None
    outcome: str = Field(description="paid | partial | no-reference | unknown-reference | not-pending | "
                                     "amount-too-high | already-imported")
    fingerprint: str = Field(default="", description="SHA-256 of the line as the bank wrote it")


class StatementImportRead(BaseModel):
    encoding: str
    matched: list[StatementLine]
    unmatched: list[StatementLine]
