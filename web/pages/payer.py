"""Enterprise pages for its own money: payments with their refunds, and each payment's PDF receipt."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from starlette.requests import Request

from licensing.payer_router import pdf_response
from licensing.receipt_pdf import render_receipt
from licensing.service.payer import RECEIVED, payer
from web.pages.render import render
from web.session import EnterprisePage, PageSession

router = APIRouter(prefix="/enterprise/payments", include_in_schema=False)


@router.get("", response_class=HTMLResponse)
def my_payments(request: Request, session: PageSession, who: EnterprisePage) -> Response:
    """Every payment of the enterprise, with refunds and a receipt link once the money is received."""
    return render(request, "enterprise/payments.html", {"page": payer.mine(session, who, 200, 0),
                                                        "received": RECEIVED})


@router.get("/{payment_id}/receipt.pdf")
def receipt(payment_id: int, session: PageSession, who: EnterprisePage) -> Response:
    return pdf_response(render_receipt(payer.receipt(session, who, payment_id)), f"shuyu-receipt-{payment_id}.pdf")
