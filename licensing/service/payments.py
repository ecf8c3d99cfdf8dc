"""Payments: bank transfers confirmed by finance, Stripe Checkout, and refunds — each booked exactly once."""

from __future__ import annotations

import secrets

from sqlmodel import Session, col, func, select

from core.audit import record
from core.auth import Principal, Role
from core.config import get_settings
from core.errors import InvalidInput, NotFound
from core.models import Organization, utcnow
from licensing.errors import LicenseStateConflict, PaymentConflict, RefundNotAllowed
from licensing.ledger.service import ledger
from licensing.models import Payment, PaymentRefund
from licensing.schemas import (
    BankAccount,
    CheckoutCreate,
    CheckoutRead,
    PaymentConfirm,
    PaymentRead,
    RefundCreate,
    RefundRead,
    StatementImportRead,
    StatementLine,
)
from licensing.service import statement
from licensing.service.licenses import license_service
from licensing.service.refunds import record_refund
from licensing.service.stripe_payments import stripe_payments

REFUNDABLE = ("succeeded", "partially_refunded")


def money_text(minor: int) -> str:
    """¥1,234.50: amounts in messages are yuan, never minor units."""
    whole, cents = divmod(abs(minor), 100)
    return f"{'-' if minor < 0 else ''}¥{whole:,}.{cents:02d}"


def treasury_account() -> BankAccount:
    """Where enterprises send bank transfers (the SHUYU_TREASURY_* settings), shown with the reference."""
    settings = get_settings()
    return BankAccount(account_name=settings.treasury_account_name, bank=settings.treasury_bank,
                       account_number=settings.treasury_account_number)


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
        return self._transfer(payment)

    def _transfer(self, payment: Payment) -> CheckoutRead:
        return CheckoutRead(payment_id=payment.id or 0, amount_minor=payment.amount_minor, currency=payment.currency,
                            method=payment.method, bank_reference=payment.bank_reference,
                            bank_account=treasury_account(), received_minor=payment.received_minor,
                            created_at=payment.created_at)

    def pending_transfer(self, session: Session, who: Principal, license_id: int) -> CheckoutRead | None:
        """The bank transfer still awaited for one of the enterprise's licences (with the account and reference)."""
        licence = license_service._own(session, who, license_id)
        payment = session.exec(select(Payment).where(Payment.license_id == licence.id, Payment.status == "pending",
                                                     Payment.method == "bank_transfer")).first()
        if payment is None:
            return None
        payer = session.get(Organization, payment.organization_id)
        return self._transfer(payment).model_copy(update={
            "payer_name": payer.name if payer else None, "payer_credit_code": payer.credit_code if payer else None})

    def confirm(self, session: Session, who: Principal, payment_id: int, body: PaymentConfirm) -> PaymentRead:
        """Finance records money received on a bank transfer. The whole amount: the licence activates and the
        revenue is booked, once. Less than what is still due: it is held as received in part (2201) and the
        rest stays due. More than what is due: refused."""
        payment = self._get(session, payment_id)
        if payment.method != "bank_transfer" or payment.status != "pending":
            raise PaymentConflict(f"Payment {payment_id} is a {payment.method} payment in state {payment.status}",
                                  zh=f"付款 {payment_id} 不是待确认的银行转账，无需再确认")
        if body.bank_reference.strip().upper() != (payment.bank_reference or ""):
            raise InvalidInput(f"The reference {body.bank_reference!r} is not the one issued for this payment",
                               zh=f"参考号“{body.bank_reference}”不是为这笔付款生成的参考号，请核对银行流水")
        due = payment.amount_minor - payment.received_minor
        if body.amount_minor > due:
            raise InvalidInput(f"The amount received ({money_text(body.amount_minor)}) is more than what is still "
                               f"due ({money_text(due)}); do not confirm it",
                               zh=f"收到的金额（{money_text(body.amount_minor)}）多于尚欠金额（{money_text(due)}）："
                                  "请勿确认，联系付款单位处理多付部分")
        if body.amount_minor < due:
            return self._part(session, who, payment, body.amount_minor)
        return self._settle(session, who, payment, body.amount_minor)

    def _part(self, session: Session, who: Principal, payment: Payment, amount: int,
              key: str | None = None) -> PaymentRead:
        ledger.book_bank_part(session, payment, amount, who.user_id, key)
        payment.received_minor += amount
        session.add(payment)
        record(session, who.actor, "payment.part_received", "payment", payment.id,
               {"license_id": payment.license_id, "amount_minor": amount, "received_minor": payment.received_minor,
                "due_minor": payment.amount_minor - payment.received_minor})
        return self.read(session, payment)

    def _settle(self, session: Session, who: Principal, payment: Payment, amount: int) -> PaymentRead:
        licence = license_service._get(session, payment.license_id)
        ledger.book_bank_payment(session, payment, who.user_id, last_part=amount)
        payment.status, payment.confirmed_by, payment.confirmed_at = "succeeded", who.user_id, utcnow()
        payment.received_minor = payment.amount_minor
        session.add(payment)
        record(session, who.actor, "payment.confirmed", "payment", payment.id,
               {"license_id": licence.id, "amount_minor": payment.amount_minor, "currency": payment.currency})
        if licence.status == "awaiting_payment":
            license_service.activate(licence)
            session.add(licence)
            record(session, who.actor, "license.activated", "license", licence.id, {"expires_at": licence.expires_at})
        return self.read(session, payment)

    def import_statement(self, session: Session, who: Principal, data: bytes) -> StatementImportRead:
        """Match a bank statement's credit lines to pending transfers by reference and amount; confirm each
        match (in full or in part) and list every line that did not match, with why."""
        encoding, lines = statement.parse(data)
        matched: list[StatementLine] = []
        unmatched: list[StatementLine] = []
        for line in lines:
            outcome = self._match(session, who, line)
            (matched if outcome.outcome in ("paid", "partial") else unmatched).append(outcome)
        record(session, who.actor, "payment.statement_imported", "payment", None,
               {"lines": len(lines), "matched": len(matched), "unmatched": len(unmatched)})
        return StatementImportRead(encoding=encoding, matched=matched, unmatched=unmatched)

    def _match(self, session: Session, who: Principal, line: StatementLine) -> StatementLine:
        # A statement is often imported twice (overlapping periods): a line booked once is never booked again.
        key = f"bank-line:{line.fingerprint}"
        if ledger.entry_for(session, key) is not None:
            return line.model_copy(update={"outcome": "already-imported"})
        if line.reference is None:
            return line.model_copy(update={"outcome": "no-reference"})
        payment = session.exec(select(Payment).where(Payment.bank_reference == line.reference)).first()
        if payment is None:
            return line.model_copy(update={"outcome": "unknown-reference"})
        found = line.model_copy(update={"payment_id": payment.id})
        if payment.method != "bank_transfer" or payment.status != "pending":
            return found.model_copy(update={"outcome": "not-pending"})
        if line.amount_minor > payment.amount_minor - payment.received_minor:
            return found.model_copy(update={"outcome": "amount-too-high"})
        if line.amount_minor == payment.amount_minor - payment.received_minor:
            self._settle(session, who, payment, line.amount_minor)
            return found.model_copy(update={"outcome": "paid"})
        self._part(session, who, payment, line.amount_minor, key)
        return found.model_copy(update={"outcome": "partial"})

    def refund(self, session: Session, who: Principal, payment_id: int, body: RefundCreate) -> PaymentRead:
        """Refund all or part of a payment (through Stripe, or recorded for a bank transfer), booked as a
        reversing entry; the licence becomes `refunded`. ε already spent is privacy loss and is not given back."""
        payment = self._get(session, payment_id)
        if payment.status not in REFUNDABLE:
            raise RefundNotAllowed(f"Payment {payment_id} is {payment.status}; only a received payment can be refunded",
                                   zh=f"付款 {payment_id} 尚未全额到账或已退款，不能退款")
        left = payment.amount_minor - payment.refunded_minor
        if body.amount_minor > left:
            raise RefundNotAllowed(f"At most {money_text(left)} of payment {payment_id} is left to refund; "
                                   f"{money_text(body.amount_minor)} was asked",
                                   zh=f"付款 {payment_id} 最多还可退 {money_text(left)}，"
                                      f"申请退款 {money_text(body.amount_minor)}")
        if payment.method == "stripe":
            key = stripe_payments.refund(payment, body.amount_minor, body.reason)
        else:
            reference = (body.bank_reference or "SYR" + secrets.token_hex(5)).strip().upper()
            key = f"bank-refund:{reference}"
        if not record_refund(session, who.actor, payment, key, body.amount_minor, body.reason):
            raise RefundNotAllowed(f"The refund {key.split(':', 1)[1]} is recorded already",
                                   zh=f"退款 {key.split(':', 1)[1]} 已记录过")
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
        payer = session.get(Organization, payment.organization_id)
        return PaymentRead.model_validate({
            **payment.model_dump(), "refunds": [RefundRead.model_validate(r, from_attributes=True) for r in refunds],
            "payer_name": payer.name if payer else None, "payer_credit_code": payer.credit_code if payer else None})

    def list(self, session: Session, status: str | None, limit: int, offset: int) -> tuple[list[PaymentRead], int]:
        """Payments, newest first, each with its payer (without refunds; read one payment for those)."""
        query = select(Payment)
        if status:
            query = query.where(Payment.status == status)
        total = session.exec(select(func.count()).select_from(query.subquery())).one()
        rows = session.exec(query.order_by(col(Payment.id).desc()).limit(limit).offset(offset)).all()
        payers = {o.id: o for o in session.exec(select(Organization).where(
            col(Organization.id).in_({r.organization_id for r in rows}))).all()}
        return [PaymentRead.model_validate({**r.model_dump(), "payer_name": payers[r.organization_id].name,
                                            "payer_credit_code": payers[r.organization_id].credit_code})
                for r in rows], int(total)


payments = PaymentService()
