"""Licensing routes: registration, licences, payments, and the treasury ledger."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from core.auth import DataOffice, EnterpriseUser, FinanceUser, SessionDep, StaffReader
from licensing.ledger.service import ledger
from licensing.schemas import (
    CheckoutCreate,
    CheckoutRead,
    LicenseCreate,
    LicensePage,
    LicenseRead,
    LicenseReview,
    OrganizationRegister,
    PaymentConfirm,
    PaymentPage,
    PaymentRead,
    RegistrationRead,
)
from licensing.service import license_service, payments, registrations

router = APIRouter(tags=["licensing"])
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0)]


@router.post("/organizations/register", status_code=201, response_model=RegistrationRead)
def register(body: OrganizationRegister, session: SessionDep) -> RegistrationRead:
    """Register an enterprise (checked 统一社会信用代码) and its first user."""
    return registrations.register(session, body)


@router.post("/licenses", status_code=201, response_model=LicenseRead)
def apply(body: LicenseCreate, session: SessionDep, who: EnterpriseUser) -> LicenseRead:
    """Apply for a licence on one of a published listing's offers."""
    return license_service.apply(session, who, body)


@router.get("/licenses", response_model=LicensePage)
def list_licenses(session: SessionDep, who: StaffReader, status: str | None = None, limit: Limit = 50,
                  offset: Offset = 0) -> LicensePage:
    """Licences: an enterprise sees its own; the data office and finance see all."""
    return license_service.list(session, who, status, limit, offset)


@router.get("/licenses/{license_id}", response_model=LicenseRead)
def get_license(license_id: int, session: SessionDep, who: StaffReader) -> LicenseRead:
    """One licence with its budget: ε spent and left, queries used."""
    return license_service.get(session, who, license_id)


@router.post("/licenses/{license_id}/review", response_model=LicenseRead)
def review_license(license_id: int, body: LicenseReview, session: SessionDep, who: DataOffice) -> LicenseRead:
    """The data office approves or rejects a licence on important data."""
    return license_service.review(session, who, license_id, body)


@router.post("/licenses/{license_id}/checkout", response_model=CheckoutRead)
def checkout(license_id: int, body: CheckoutCreate, session: SessionDep, who: EnterpriseUser) -> CheckoutRead:
    """Start paying for a licence; bank transfer returns the reference to quote."""
    return payments.checkout(session, who, license_id, body)


@router.get("/payments", response_model=PaymentPage)
def list_payments(session: SessionDep, who: FinanceUser, status: str | None = None, limit: Limit = 50,
                  offset: Offset = 0) -> PaymentPage:
    """Payments, newest first (finance)."""
    items, total = payments.list(session, status, limit, offset)
    return PaymentPage(items=items, total=total)


@router.post("/payments/{payment_id}/confirm", response_model=PaymentRead)
def confirm_payment(payment_id: int, body: PaymentConfirm, session: SessionDep, who: FinanceUser) -> PaymentRead:
    """Finance confirms a bank transfer it received: the licence activates and the revenue is booked."""
    return payments.confirm(session, who, payment_id, body)


@router.get("/ledger/trial-balance")
def trial_balance(session: SessionDep, who: FinanceUser) -> dict[str, Any]:
    """Debit and credit totals per account; `balanced` is true when the whole book balances."""
    return ledger.trial_balance(session)


@router.get("/ledger/entries")
def ledger_entries(session: SessionDep, who: FinanceUser, limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    """Journal entries with their postings, newest first."""
    return ledger.entries(session, limit, offset)
