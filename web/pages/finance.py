"""Finance pages: bank transfers to confirm, the journal and trial balance, CSV exports."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from core.errors import DomainError, InvalidInput
from licensing.ledger.service import ledger
from licensing.router import STATEMENT_LIMIT
from licensing.schemas import PaymentConfirm, ReconciliationCreate, RefundCreate, RemittanceCreate
from licensing.service import payments, reconciliations, reports, treasury
from licensing.service.reports import GroupBy
from market.intake import read_form
from web.forms import built, minor_units
from web.pages.render import attempt, redirect, render
from web.session import FinancePage, PageSession, check_csrf

router = APIRouter(prefix="/finance", include_in_schema=False, dependencies=[Depends(check_csrf)])


def _home(request: Request, session: PageSession, extra: dict[str, Any], status: int = 200) -> Response:
    pending, _ = payments.list(session, "pending", 200, 0)
    recent, _ = payments.list(session, None, 20, 0)
    return render(request, "finance/home.html", {"pending": pending, "recent": recent, **extra}, status=status)


@router.get("", response_class=HTMLResponse)
def home(request: Request, session: PageSession, who: FinancePage) -> Response:
    """Bank transfers waiting for confirmation, and the latest payments."""
    return _home(request, session, {"confirmed": request.query_params.get("confirmed"),
                                    "part": request.query_params.get("part")})


@router.post("/statements", response_class=HTMLResponse)
async def import_statement(request: Request, session: PageSession, who: FinancePage) -> Response:
    """Import a bank statement: matches are confirmed, the rest listed with why."""
    # The form the CSRF check read already (in memory): FastAPI's File() would read the consumed stream again.
    form = await read_form(request, STATEMENT_LIMIT)
    if not form.has_file:
        return _home(request, session, {"error": InvalidInput(
            "file: Field required", zh="请选择要导入的对账单文件")}, status=422)
    data = form.data
    if len(data) > STATEMENT_LIMIT:
        return _home(request, session, {"error": InvalidInput(
            "A statement file is at most 10 MB; export a shorter period",
            zh="对账单文件不能超过 10 MB，请缩短导出的时间段")}, status=413)
    done = attempt(session, partial(payments.import_statement, session, who, data))
    if isinstance(done, DomainError):
        return _home(request, session, {"error": done}, status=done.status)
    return render(request, "finance/statement.html", {"result": done})


@router.post("/payments/{payment_id}/confirm", response_class=HTMLResponse)
def confirm(request: Request, payment_id: int, session: PageSession, who: FinancePage,
            bank_reference: Annotated[str, Form()], amount: Annotated[str, Form()]) -> Response:
    """Confirm a transfer as it appears on the bank statement: reference and amount must match."""
    body = attempt(session, partial(_confirm_body, bank_reference, amount))
    done = body if isinstance(body, DomainError) else attempt(
        session, partial(payments.confirm, session, who, payment_id, body))
    if isinstance(done, DomainError):
        return _home(request, session, {"error": done, "failed_id": payment_id, "typed": {
            "bank_reference": bank_reference, "amount": amount}}, status=done.status)
    if done.status == "pending":
        return redirect(f"/finance?part={payment_id}")
    return redirect(f"/finance?confirmed={payment_id}")


def _confirm_body(reference: str, amount: str) -> PaymentConfirm:
    return built(PaymentConfirm, {"bank_reference": reference, "amount_minor": minor_units(amount, "Amount")})


@router.get("/ledger", response_class=HTMLResponse)
def ledger_page(request: Request, session: PageSession, who: FinancePage) -> Response:
    """The trial balance (with its totals) and the journal, newest entries first."""
    balance = ledger.trial_balance(session)
    journal = ledger.entries(session, 100, 0)
    totals = {"debit": sum(a["debit_minor"] for a in balance["accounts"]),
              "credit": sum(a["credit_minor"] for a in balance["accounts"])}
    return render(request, "finance/ledger.html", {"balance": balance, "journal": journal, "totals": totals})


def _csv_text(header: list[str], rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _csv(name: str, text: str) -> Response:
    # A byte-order mark so that spreadsheet programs open the Chinese names as UTF-8.
    return Response("\ufeff" + text.removeprefix("\ufeff"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/trial-balance.csv")
def trial_balance_csv(session: PageSession, who: FinancePage) -> Response:
    """The trial balance as CSV (amounts in minor units, as in the API)."""
    balance = ledger.trial_balance(session)
    return _csv("trial-balance.csv", _csv_text(
        ["code", "name", "name_zh", "type", "currency", "debit_minor", "credit_minor"],
        [[a["code"], a["name"], a["name_zh"], a["type"], a["currency"], a["debit_minor"], a["credit_minor"]]
         for a in balance["accounts"]]))


@router.get("/journal.csv")
def journal_csv(session: PageSession, who: FinancePage) -> Response:
    """Every posting of the journal as CSV, one line per posting."""
    rows: list[list[Any]] = []
    offset = 0
    while True:
        page = ledger.entries(session, 500, offset)
        for entry in page["items"]:
            rows += [[entry["id"], entry["at"], entry["kind"], entry["description"], entry["external_key"],
                      p["account_code"], p["currency"], p["debit_minor"], p["credit_minor"]] for p in entry["postings"]]
        offset += 500
        if offset >= page["total"]:
            break
    return _csv("journal.csv", _csv_text(["entry", "at", "kind", "description", "external_key", "account",
                                          "currency", "debit_minor", "credit_minor"], rows))


@router.get("/payments/{payment_id}", response_class=HTMLResponse)
def payment_page(request: Request, payment_id: int, session: PageSession, who: FinancePage) -> Response:
    """One payment with its refunds, and the form to refund it."""
    return render(request, "finance/payment.html", {"pay": payments.get(session, who, payment_id),
                                                    "done": request.query_params.get("done")})


@router.post("/payments/{payment_id}/refund", response_class=HTMLResponse)
def refund(request: Request, payment_id: int, session: PageSession, who: FinancePage,
           amount: Annotated[str, Form()], reason: Annotated[str, Form()],
           bank_reference: Annotated[str, Form()] = "") -> Response:
    """Refund all or part of a payment; it is booked as a reversing entry and the licence is refunded."""
    def call() -> Any:
        body = built(RefundCreate, {"amount_minor": minor_units(amount, "Amount"), "reason": reason,
                                     "bank_reference": bank_reference.strip() or None})
        return payments.refund(session, who, payment_id, body)

    done = attempt(session, call)
    if isinstance(done, DomainError):
        return render(request, "finance/payment.html", {"pay": payments.get(session, who, payment_id), "error": done,
                                                        "typed": {"amount": amount, "reason": reason}},
                      status=done.status)
    return redirect(f"/finance/payments/{payment_id}?done=refund")


Period = Annotated[date | None, Query()]


@router.get("/revenue", response_class=HTMLResponse)
def revenue(request: Request, session: PageSession, who: FinancePage, start: Annotated[date | None, Query(
        alias="from")] = None, to: Period = None) -> Response:
    """Revenue charts by month and by listing, the treasury position, and the remittance form."""
    by_month = reports.revenue(session, "month", start, to)
    by_listing = reports.revenue(session, "listing", start, to)
    return render(request, "finance/revenue.html", {
        "by_month": by_month, "by_listing": by_listing, "start": start, "to": to,
        "remittances": treasury.list(session, 20, 0), "done": request.query_params.get("done")})


@router.get("/revenue.csv")
def revenue_csv(session: PageSession, who: FinancePage, group_by: GroupBy = "listing",
                start: Annotated[date | None, Query(alias="from")] = None, to: Period = None) -> Response:
    """The revenue report as CSV (amounts in minor units)."""
    text = reports.revenue_csv(session, group_by, start, to)
    return _csv(f"revenue-by-{group_by}.csv", text)


@router.post("/remittances", response_class=HTMLResponse)
def remit(request: Request, session: PageSession, who: FinancePage, amount: Annotated[str, Form()],
          reference: Annotated[str, Form()], note: Annotated[str, Form()] = "") -> Response:
    """Record a transfer of collected revenue to the treasury (上缴国库)."""
    def call() -> Any:
        body = built(RemittanceCreate, {"amount_minor": minor_units(amount, "Amount"), "reference": reference,
                                         "note": note})
        return treasury.remit(session, who, body)

    done = attempt(session, call)
    if isinstance(done, DomainError):
        by_month = reports.revenue(session, "month", None, None)
        by_listing = reports.revenue(session, "listing", None, None)
        return render(request, "finance/revenue.html", {
            "by_month": by_month, "by_listing": by_listing, "start": None, "to": None, "error": done,
            "remittances": treasury.list(session, 20, 0)}, status=done.status)
    return redirect("/finance/revenue?done=remittance")


@router.get("/reconciliations", response_class=HTMLResponse)
def reconciliation_list(request: Request, session: PageSession, who: FinancePage) -> Response:
    """Saved reconciliations against Stripe, and the forms to run or import one."""
    return render(request, "finance/reconciliations.html", {"page": reconciliations.list(session, 50, 0)})


def _when(text: str) -> datetime | None:
    return datetime.fromisoformat(text) if text.strip() else None


@router.post("/reconciliations", response_class=HTMLResponse)
async def reconcile(request: Request, session: PageSession, who: FinancePage) -> Response:
    """Compare the ledger with Stripe (its API, or an exported balance-transactions CSV); the report is saved."""
    # A multipart form as the CSRF check read it (in memory): FastAPI's Form()/File() would read it again.
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await read_form(request)
        fields, data = form.fields, (form.data if form.has_file else b"")
    else:
        fields, data = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}, b""
    source, start, to = (fields.get(k, "") for k in ("source", "from", "to"))
    if source not in ("api", "csv"):
        return render(request, "finance/reconciliations.html", {
            "page": reconciliations.list(session, 50, 0),
            "error": InvalidInput("source: choose api or csv", zh="请选择从 Stripe 拉取或比对 CSV")}, status=422)

    def call() -> Any:
        begin, end = _when(start), _when(to)
        if source == "csv":
            return reconciliations.import_csv(session, who, data, begin, end)
        return reconciliations.run(session, who, ReconciliationCreate.model_validate({"from": begin, "to": end}))

    done = attempt(session, call)
    if isinstance(done, DomainError):
        return render(request, "finance/reconciliations.html", {
            "page": reconciliations.list(session, 50, 0), "error": done}, status=done.status)
    return redirect(f"/finance/reconciliations/{done.id}")


@router.get("/reconciliations/{reconciliation_id}", response_class=HTMLResponse)
def reconciliation_page(request: Request, reconciliation_id: int, session: PageSession, who: FinancePage) -> Response:
    """One reconciliation, its differences first and highlighted."""
    return render(request, "finance/reconciliation.html", {"rec": reconciliations.get(session, reconciliation_id)})


@router.get("/reconciliations/{reconciliation_id}/export.csv")
def reconciliation_csv(reconciliation_id: int, session: PageSession, who: FinancePage) -> Response:
    return _csv(f"reconciliation-{reconciliation_id}.csv", reconciliations.csv(session, reconciliation_id))
