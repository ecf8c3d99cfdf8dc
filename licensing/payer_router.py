"""The payer's routes: an enterprise's own payments and refunds, and the PDF receipt of a payment.

Mounted before `licensing.router`, so `/payments/mine` is not read as `/payments/{payment_id}`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from core.auth import EnterpriseUser, SessionDep
from licensing.receipt_pdf import render_receipt
from licensing.schemas import PaymentPage
from licensing.service.payer import payer

router = APIRouter(tags=["licensing"])


@router.get("/payments/mine", response_model=PaymentPage)
def my_payments(session: SessionDep, who: EnterpriseUser, limit: Annotated[int, Query(ge=1, le=500)] = 50,
                offset: Annotated[int, Query(ge=0)] = 0) -> PaymentPage:
    """Your organization's payments, newest first, each with its refunds."""
    return payer.mine(session, who, limit, offset)


@router.get("/payments/{payment_id}/receipt.pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}})
def payment_receipt(payment_id: int, session: SessionDep, who: EnterpriseUser) -> Response:
    """The receipt (收据) of a received payment: amount, licence, payee (the treasury's non-tax revenue account)
    and the journal entry that booked it."""
    return pdf_response(render_receipt(payer.receipt(session, who, payment_id)), f"shuyu-receipt-{payment_id}.pdf")


def pdf_response(body: bytes, filename: str) -> Response:
    return Response(body, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
