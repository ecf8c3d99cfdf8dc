"""Licensing routes: registration, licences, payments, and the treasury ledger."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from core.auth import CurrentUser, DataOffice, EnterpriseUser, FinanceUser, SessionDep, StaffReader
from core.errors import InvalidInput
from licensing.ledger.service import ledger
from licensing.schemas import (
    CheckoutCreate,
    CheckoutRead,
    DatasetBudgetRead,
    LicenseAction,
    LicenseCreate,
    LicensePage,
    LicenseRead,
    LicenseRenew,
    LicenseReview,
    OrganizationRegister,
    PaymentConfirm,
    PaymentPage,
    PaymentRead,
    ReconciliationCreate,
    ReconciliationPage,
    ReconciliationRead,
    RefundCreate,
    RegistrationRead,
    RemittanceCreate,
    RemittancePage,
    RemittanceRead,
    RevenueReport,
    StatementImportRead,
    TreasuryPage,
    WebhookAck,
)
from licensing.service import (
    budget,
    license_service,
    payments,
    reconciliations,
    registrations,
    reports,
    stripe_payments,
    treasury,
)
from licensing.service.query_fees import QueryFeesRead, query_fees
from licensing.service.reports import GroupBy
from licensing.stripe.webhooks import stripe_webhooks

CSV_TOO: dict[int | str, dict[str, Any]] = {200: {"content": {"text/csv": {"schema": {"type": "string"}}}}}
router = APIRouter(tags=["licensing"])
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0)]
Format = Annotated[Literal["json", "csv"], Query(description="`csv` for a spreadsheet")]
Currency = Annotated[str, Query(pattern="^[A-Z]{3}$")]


def _csv(text: str, filename: str) -> Response:
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


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


@router.get("/licenses/{license_id}/query-fees", response_model=QueryFeesRead)
def license_query_fees(license_id: int, session: SessionDep, who: StaffReader) -> QueryFeesRead:
    """The per-query fees (按次计费) accrued on a licence: queries charged and their total, booked when released."""
    return query_fees.accrued(session, who, license_id)


@router.post("/licenses/{license_id}/review", response_model=LicenseRead)
def review_license(license_id: int, body: LicenseReview, session: SessionDep, who: DataOffice) -> LicenseRead:
    """The data office approves or rejects a licence on important data."""
    return license_service.review(session, who, license_id, body)


@router.post("/licenses/{license_id}/suspend", response_model=LicenseRead)
def suspend_license(license_id: int, body: LicenseAction, session: SessionDep, who: DataOffice) -> LicenseRead:
    """Suspend an active licence: its next query is refused. Audited with the reason."""
    return license_service.suspend(session, who, license_id, body)


@router.post("/licenses/{license_id}/resume", response_model=LicenseRead)
def resume_license(license_id: int, body: LicenseAction, session: SessionDep, who: DataOffice) -> LicenseRead:
    """Resume a suspended licence for the rest of its term."""
    return license_service.resume(session, who, license_id, body)


@router.post("/licenses/{license_id}/revoke", response_model=LicenseRead)
def revoke_license(license_id: int, body: LicenseAction, session: SessionDep, who: DataOffice) -> LicenseRead:
    """Revoke a licence for good (it cannot be resumed or renewed)."""
    return license_service.revoke(session, who, license_id, body)


@router.post("/licenses/{license_id}/renew", status_code=201, response_model=LicenseRead)
def renew_license(license_id: int, session: SessionDep, who: EnterpriseUser,
                  body: LicenseRenew | None = None) -> LicenseRead:
    """Renew an active or expired licence: a new licence on the same offer, with a new term and ε budget."""
    return license_service.renew(session, who, license_id, body or LicenseRenew())


@router.post("/licenses/{license_id}/checkout", response_model=CheckoutRead)
def checkout(license_id: int, body: CheckoutCreate, session: SessionDep, who: EnterpriseUser) -> CheckoutRead:
    """Start paying for a licence: Stripe returns the Checkout URL to send the payer to; bank transfer returns
    the reference to quote."""
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


@router.get("/payments/{payment_id}", response_model=PaymentRead)
def get_payment(payment_id: int, session: SessionDep, who: CurrentUser) -> PaymentRead:
    """One payment with its refunds (finance, or the enterprise that paid)."""
    return payments.get(session, who, payment_id)


@router.post("/payments/{payment_id}/refund", response_model=PaymentRead)
def refund_payment(payment_id: int, body: RefundCreate, session: SessionDep, who: FinanceUser) -> PaymentRead:
    """Refund all or part of a payment (through Stripe, or recorded for a bank transfer). It is booked as a
    reversing entry and the licence becomes `refunded`; ε already spent is not given back."""
    return payments.refund(session, who, payment_id, body)


@router.post("/webhooks/stripe", response_model=WebhookAck)
async def stripe_webhook(request: Request) -> WebhookAck:
    """Stripe's webhook: 400 (nothing stored) unless the Stripe-Signature verifies and is fresh; each event is
    stored once by id and handled idempotently."""
    payload = await request.body()
    return await run_in_threadpool(stripe_webhooks.receive, payload, request.headers.get("stripe-signature"))


@router.get("/checkout/return", include_in_schema=False)
def checkout_return(session: SessionDep, session_id: str) -> RedirectResponse:
    """Where Stripe Checkout sends the payer back: the payment is brought up to date, then the licence page."""
    return RedirectResponse(stripe_payments.return_url(session, session_id), status_code=303)


@router.get("/treasury", response_model=TreasuryPage)
def treasury_position(session: SessionDep, who: FinanceUser) -> TreasuryPage:
    """Per currency: non-tax revenue collected (net of refunds), remitted to the treasury, and still owed."""
    return treasury.positions(session)


@router.post("/treasury/remittances", status_code=201, response_model=RemittanceRead)
def remit(body: RemittanceCreate, session: SessionDep, who: FinanceUser) -> RemittanceRead:
    """Record a transfer to the treasury (上缴国库); refused above what is owed, each receipt once."""
    return treasury.remit(session, who, body)


@router.get("/treasury/remittances", response_model=RemittancePage)
def list_remittances(session: SessionDep, who: FinanceUser, limit: Limit = 50, offset: Offset = 0) -> RemittancePage:
    """Remittances to the treasury, newest first."""
    return treasury.list(session, limit, offset)


@router.get("/reports/revenue", response_model=RevenueReport, responses=CSV_TOO)
def revenue_report(session: SessionDep, who: FinanceUser, group_by: GroupBy = "listing",
                   start: Annotated[date | None, Query(alias="from")] = None, to: date | None = None,
                   currency: Currency = "CNY", format: Format = "json") -> Any:
    """Gross, refunds and net non-tax revenue by listing, provider, scenario or month; `from`/`to` are inclusive
    days in the reporting time zone. Processor fees are an expense, not netted here. `format=csv` for CSV."""
    if format == "csv":
        return _csv(reports.revenue_csv(session, group_by, start, to, currency), f"revenue-by-{group_by}.csv")
    return reports.revenue(session, group_by, start, to, currency)


STATEMENT_LIMIT = 10 * 1024 * 1024  # a year of a busy account's statement is far smaller


@router.post("/payments/bank-statement", response_model=StatementImportRead)
def import_bank_statement(session: SessionDep, who: FinanceUser,
                          file: Annotated[UploadFile, File()]) -> StatementImportRead:
    """Import a bank statement (CSV as the bank exports it, UTF-8 or GBK): credit lines quoting a pending
    transfer's reference are confirmed (in full, or in part when less arrived); the rest are listed with why."""
    data = file.file.read(STATEMENT_LIMIT + 1)
    if len(data) > STATEMENT_LIMIT:
        raise InvalidInput("A statement file is at most 10 MB; export a shorter period",
                           zh="对账单文件不能超过 10 MB，请缩短导出的时间段")
    return payments.import_statement(session, who, data)


@router.post("/reconciliations", status_code=201, response_model=ReconciliationRead)
def reconcile(session: SessionDep, who: FinanceUser, body: ReconciliationCreate | None = None) -> ReconciliationRead:
    """Pull Stripe's balance transactions and payouts for the period (all pages) and compare them with the
    ledger; the report is saved."""
    return reconciliations.run(session, who, body or ReconciliationCreate())


@router.post("/reconciliations/import", status_code=201, response_model=ReconciliationRead)
def reconcile_statement(session: SessionDep, who: FinanceUser, file: Annotated[UploadFile, File()],
                        start: Annotated[datetime | None, Form(alias="from")] = None,
                        to: Annotated[datetime | None, Form()] = None) -> ReconciliationRead:
    """Compare a balance-transactions CSV exported from Stripe with the ledger; the report is saved."""
    return reconciliations.import_csv(session, who, file.file.read(), start, to)


@router.get("/reconciliations", response_model=ReconciliationPage)
def list_reconciliations(session: SessionDep, who: FinanceUser, limit: Limit = 50,
                         offset: Offset = 0) -> ReconciliationPage:
    """Saved reconciliations, newest first, with their counts."""
    return reconciliations.list(session, limit, offset)


@router.get("/reconciliations/{reconciliation_id}", response_model=ReconciliationRead, responses=CSV_TOO)
def get_reconciliation(reconciliation_id: int, session: SessionDep, who: FinanceUser,
                       format: Format = "json") -> Any:
    """One saved reconciliation; `format=csv` for one line per matched item, difference or missing object."""
    if format == "csv":
        return _csv(reconciliations.csv(session, reconciliation_id), f"reconciliation-{reconciliation_id}.csv")
    return reconciliations.get(session, reconciliation_id)


@router.get("/ledger/trial-balance")
def trial_balance(session: SessionDep, who: FinanceUser) -> dict[str, Any]:
    """Debit and credit totals per account; `balanced` is true when the whole book balances."""
    return ledger.trial_balance(session)


@router.get("/ledger/entries")
def ledger_entries(session: SessionDep, who: FinanceUser, limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    """Journal entries with their postings, newest first."""
    return ledger.entries(session, limit, offset)


@router.get("/listings/{listing_id}/budget", response_model=DatasetBudgetRead)
def dataset_budget(listing_id: int, session: SessionDep, who: DataOffice) -> DatasetBudgetRead:
    """The odometer of a listing's dataset version (data office): ε spent by all licensees against the global
    cap, what is left, and what each enterprise spent. When nothing is left, ordering and queries stop."""
    return budget.odometer(session, listing_id)
