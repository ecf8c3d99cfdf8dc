"""Recording a refund: once per outside object, never more than was paid, booked as a reversing entry."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import Session, col, select

from core.audit import Actor, record
from licensing.errors import RefundNotAllowed
from licensing.ledger.service import ledger
from licensing.models import License, Payment, PaymentRefund
from licensing.service.licenses import license_service


def record_refund(session: Session, actor: Actor, payment: Payment, key: str, amount: int, reason: str) -> bool:
    """Book a refund keyed by its outside object (`stripe:refund:<id>`, `bank-refund:<reference>`).

    Returns False when that object is recorded already. The payment's refunded total moves by a
    conditional UPDATE, so two refunds racing can never give back more than was paid."""
    if session.exec(select(PaymentRefund.id).where(PaymentRefund.external_key == key)).first() is not None:
        return False
    session.flush()
    raised = session.execute(update(Payment).where(
        col(Payment.id) == payment.id, col(Payment.refunded_minor) + amount <= col(Payment.amount_minor),
    ).values(refunded_minor=col(Payment.refunded_minor) + amount))
    if raised.rowcount != 1:  # type: ignore[attr-defined]
        raise RefundNotAllowed(f"A refund of {amount} would give back more than payment {payment.id} received "
                               f"({payment.amount_minor} {payment.currency} minor units, "
                               f"{payment.refunded_minor} refunded already)")
    session.refresh(payment)
    entry = ledger.book_refund(session, payment, key, amount, payment.currency, actor.user_id)
    session.add(PaymentRefund(payment_id=payment.id or 0, external_key=key, amount_minor=amount,
                              currency=payment.currency, reason=reason, entry_id=entry.id or 0,
                              created_by=actor.user_id))
    payment.status = "refunded" if payment.refunded_minor >= payment.amount_minor else "partially_refunded"
    session.add(payment)
    record(session, actor, "payment.refunded", "payment", payment.id,
           {"amount_minor": amount, "currency": payment.currency, "key": key, "reason": reason,
            "refunded_minor": payment.refunded_minor, "entry_id": entry.id})
    _end_licence(session, actor, payment, reason)
    return True


def _end_licence(session: Session, actor: Actor, payment: Payment, reason: str) -> None:
    """The licence is refunded, unless another payment for it still stands (a duplicate payment was refunded)."""
    other = session.exec(select(Payment.id).where(Payment.license_id == payment.license_id,
                                                  Payment.id != payment.id, Payment.status == "succeeded")).first()
    licence = session.get(License, payment.license_id)
    if other is None and licence is not None:
        license_service.mark_refunded(session, actor, licence, reason)
