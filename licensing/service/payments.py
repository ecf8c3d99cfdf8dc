"""Payments: bank transfers confirmed by finance, Stripe Checkout, and refunds — each booked exactly once."""

from __future__ import annotations

import secrets

from sqlmodel import Session, col, func, select

from core.audit import record
from core.auth import Principal, Role
from core.errors import InvalidInput, NotFound
from core.models import utcnow
from licensing.errors import LicenseStateConflict, PaymentConflict, RefundNotAllowed
from licensing.ledger.service import ledger
from licensing.models import Payment, PaymentRefund
from licensing.schemas import CheckoutCreate, CheckoutRead, PaymentConfirm, PaymentRead, RefundCreate, RefundRead
from licensing.service.licenses import license_service
from licensing.service.refunds import record_refund
from licensing.service.stripe_payments import stripe_payments

# Where enterprises send bank transfers (shown with the reference they must quote).
TREASURY_ACCOUNT = {"account_name": "Shuyu public data operation — non-tax revenue collection account",
                    "bank": "(configured by the operator)", "note": "Quote the reference exactly"}
REFUNDABLE = ("succeeded", "partially_refunded")


class PaymentService:
    def checkout(self, session: Session, who: Principal, license_id: int, body: CheckoutCreate) -> CheckoutRead:
        """Start paying for a licence: a Stripe Checkout Session, or a bank reference confirmed later by finance."""
        licence = license_service._own(session, who, license_id)
        if licence.status != "awaiting_payment":
            raise LicenseStateConflict(f"Licence {license_id} is {licence.status}, not awaiting payment")
        if license_service.needs_approval(session, licence):
            raise LicenseStateConflict(f"The data behind licence {license_id} is now graded important: the data "
                                       "office must approve this licence before it can be paid for")
        if body.method == "stripe":
            return stripe_payments.checkout(session, who, licence)
        payment = session.exec(select(Payment).where(Payment.license_id == license_id, Payment.status == "pending",
                                                     Payment.method == "bank_transfer")).first()
        if payment is None:
            attempt = 1 + int(session.exec(select(func.count()).select_from(Payment)
                                           .where(Payment.license_id == license_id)).one())
            payment = Payment(license_id=license_id, organization_id=who.organization_id, method="bank_transfer",
                              amount_minor=licence.price_minor, currency=licence.currency, attempt=attempt,
                              bank_reference="SY" + secrets.token_hex(5).upper())
            session.add(payment)
            session.flush()
            record(session, who.actor, "payment.started", "payment", payment.id,
                   {"license_id": license_id, "method": "bank_transfer", "amount_minor": payment.amount_minor})
        return CheckoutRead(payment_id=payment.id or 0, amount_minor=payment.amount_minor, currency=payment.currency,
                            method=payment.method, bank_reference=payment.bank_reference, bank_account=TREASURY_ACCOUNT)

    def confirm(self, session: Session, who: Principal, payment_id: int, body: PaymentConfirm) -> PaymentRead:
        """Finance confirms a bank transfer: the licence activates and the revenue is booked, once."""
        payment = self._get(session, payment_id)
        if payment.method != "bank_transfer" or payment.status != "pending":
            raise PaymentConflict(f"Payment {payment_id} is a {payment.method} payment in state {payment.status}")
        if body.bank_reference.strip().upper() != (payment.bank_reference or ""):
            raise InvalidInput(f"The reference {body.bank_reference!r} is not the one issued for this payment")
        if body.amount_minor != payment.amount_minor:
            raise InvalidInput(f"The amount received ({body.amount_minor}) differs from the amount due "
                               f"({payment.amount_minor} minor units of {payment.currency}); do not confirm it")
        licence = license_service._get(session, payment.license_id)
        payment.status, payment.confirmed_by, payment.confirmed_at = "succeeded", who.user_id, utcnow()
        session.add(payment)
        ledger.book_bank_payment(session, payment, who.user_id)
        record(session, who.actor, "payment.confirmed", "payment", payment.id,
               {"license_id": licence.id, "amount_minor": payment.amount_minor, "currency": payment.currency})
        if licence.status == "awaiting_payment":
            license_service.activate(licence)
            session.add(licence)
            record(session, who.actor, "license.activated", "license", licence.id, {"expires_at": licence.expires_at})
        return self.read(session, payment)

    def refund(self, session: Session, who: Principal, payment_id: int, body: RefundCreate) -> PaymentRead:
        """Refund all or part of a payment (through Stripe, or recorded for a bank transfer), booked as a
        reversing entry; the licence becomes `refunded`. ε already spent is privacy loss and is not given back."""
        payment = self._get(session, payment_id)
        if payment.status not in REFUNDABLE:
            raise RefundNotAllowed(f"Payment {payment_id} is {payment.status}; only a received payment can be refunded")
        left = payment.amount_minor - payment.refunded_minor
        if body.amount_minor > left:
            raise RefundNotAllowed(f"At most {left} {payment.currency} minor units of payment {payment_id} are left "
                                   f"to refund; {body.amount_minor} was asked")
        if payment.method == "stripe":
            key = stripe_payments.refund(payment, body.amount_minor, body.reason)
        else:
            reference = (body.bank_reference or "SYR" + secrets.token_hex(5)).strip().upper()
            key = f"bank-refund:{reference}"
        if not record_refund(session, who.actor, payment, key, body.amount_minor, body.reason):
            raise RefundNotAllowed(f"The refund {key.split(':', 1)[1]} is recorded already")
        return self.read(session, payment)

    def get(self, session: Session, who: Principal, payment_id: int) -> PaymentRead:
        """A payment with its refunds: finance sees all, an enterprise its own."""
        payment = self._get(session, payment_id)
        if who.role is not Role.finance and payment.organization_id != who.organization_id:
            raise NotFound(f"No payment {payment_id}")
        return self.read(session, payment)

    def _get(self, session: Session, payment_id: int) -> Payment:
        payment = session.get(Payment, payment_id)
        if payment is None:
            raise NotFound(f"No payment {payment_id}")
        return payment

    def read(self, session: Session, payment: Payment) -> PaymentRead:
        """The API view of a payment, with its refunds."""
        refunds = session.exec(select(PaymentRefund).where(PaymentRefund.payment_id == payment.id)
                               .order_by(col(PaymentRefund.id))).all()
        return PaymentRead.model_validate({
            **payment.model_dump(), "refunds": [RefundRead.model_validate(r, from_attributes=True) for r in refunds]})

    def list(self, session: Session, status: str | None, limit: int, offset: int) -> tuple[list[PaymentRead], int]:
        """Payments, newest first (without their refunds; read one payment for those)."""
        query = select(Payment)
        if status:
            query = query.where(Payment.status == status)
        total = session.exec(select(func.count()).select_from(query.subquery())).one()
        rows = session.exec(query.order_by(col(Payment.id).desc()).limit(limit).offset(offset)).all()
        return [PaymentRead.model_validate(r, from_attributes=True) for r in rows], int(total)


payments = PaymentService()
