"""Money as the payer sees it: an enterprise's own payments and refunds, and the receipt (收据) for one payment.

A receipt is issued only for money received (a settled payment); it names the payee — the treasury's non-tax
revenue account, since licence fees are state revenue — and the journal entry that booked the money, so the
payer's finance department can match it to the operator's ledger.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlmodel import Session, col, func, select

from core.auth import Principal
from core.errors import NotFound
from core.models import Organization
from licensing.errors import PaymentConflict
from licensing.ledger.service import ledger
from licensing.models import License, Payment
from licensing.schemas import PaymentPage, RefundRead
from licensing.service.payments import payments, treasury_account

RECEIVED = ("succeeded", "partially_refunded", "refunded")


class ReceiptData(BaseModel):
    """Everything printed on a receipt; amounts in minor units."""

    number: str
    payment_id: int
    paid_at: datetime
    method: str
    amount_minor: int
    refunded_minor: int
    currency: str
    payer_name: str
    payer_credit_code: str | None
    license_id: int
    listing_title: str
    offer_name: str
    term_days: int
    payee_account_name: str
    payee_bank: str
    payee_account_number: str | None
    bank_reference: str | None
    booking_reference: str
    journal_entry_id: int
    refunds: list[RefundRead]


class PayerService:
    def mine(self, session: Session, who: Principal, limit: int, offset: int) -> PaymentPage:
        """The caller's organization's payments, newest first, each with its refunds."""
        query = select(Payment).where(Payment.organization_id == who.organization_id)
        total = session.exec(select(func.count()).select_from(query.subquery())).one()
        rows = session.exec(query.order_by(col(Payment.id).desc()).limit(limit).offset(offset)).all()
        return PaymentPage(items=[payments.read(session, row) for row in rows], total=int(total))

    def receipt(self, session: Session, who: Principal, payment_id: int) -> ReceiptData:
        """The receipt of one received payment of the caller's organization."""
        payment = session.get(Payment, payment_id)
        if payment is None or payment.organization_id != who.organization_id:
            raise NotFound(f"No payment {payment_id} of yours", zh=f"没有您的付款 {payment_id}")
        if payment.status not in RECEIVED or payment.confirmed_at is None:
            raise PaymentConflict(f"Payment {payment_id} is {payment.status}: a receipt is issued once the money is "
                                  "received", zh=f"付款 {payment_id} 尚未到账，到账后才能开具收据")
        key = f"bank:{payment.bank_reference}" if payment.method == "bank_transfer" \
            else f"stripe:charge:{payment.stripe_charge}"
        entry = ledger.entry_for(session, key)
        licence = session.get(License, payment.license_id)
        org = session.get(Organization, payment.organization_id)
        assert entry is not None and licence is not None and org is not None, "a received payment is booked"
        view = payments.read(session, payment)
        account = treasury_account()
        return ReceiptData(
            number=f"SY{payment.confirmed_at:%Y}-{payment.id:06d}", payment_id=payment.id or 0,
            paid_at=payment.confirmed_at, method=payment.method, amount_minor=payment.amount_minor,
            refunded_minor=payment.refunded_minor, currency=payment.currency, payer_name=org.name,
            payer_credit_code=org.credit_code, license_id=licence.id or 0, listing_title=licence.listing_title,
            offer_name=licence.offer_name, term_days=licence.term_days,
            payee_account_name=account.account_name, payee_bank=account.bank,
            payee_account_number=account.account_number, bank_reference=payment.bank_reference,
            booking_reference=key, journal_entry_id=entry.id or 0, refunds=view.refunds)


payer = PayerService()
