"""Stripe Checkout for licence fees, and bringing a payment or payout up to date with Stripe.

Handlers never trust an event's snapshot: they fetch the object's current state from Stripe and book
what it shows, each outside object once (charge, refund, payout ids are the ledger's external keys).
So any order, repetition or delay of webhook deliveries — or a customer returning before the webhook
arrives — converges on the same books.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, func, select

from core.audit import Actor, record
from core.auth import Principal
from core.config import get_settings
from core.errors import NotFound
from core.models import utcnow
from licensing.errors import PaymentProviderError
from licensing.ledger.service import ledger
from licensing.models import License, Payment
from licensing.schemas import CheckoutRead
from licensing.service.licenses import license_service
from licensing.service.refunds import record_refund
from licensing.stripe.client import gateway

STRIPE = Actor(None, "stripe", None)
RETURN_PATH = "/api/v1/checkout/return"
LICENCE_PAGE = "/enterprise/licences/{license_id}"
SETTLED = ("succeeded", "partially_refunded", "refunded")


def _metadata(licence: License, attempt: int) -> dict[str, str]:
    return {"shuyu_license_id": str(licence.id), "shuyu_attempt": str(attempt)}


class StripePayments:
    def checkout(self, session: Session, who: Principal, licence: License) -> CheckoutRead:
        """A Checkout Session for the licence fee; asking again while it is open returns the same one."""
        payment = self._open_payment(session, licence)
        if payment is None:
            attempt = 1 + int(session.exec(select(func.count()).select_from(Payment)
                                           .where(Payment.license_id == licence.id)).one())
            # Derived from licence and attempt only: a retry after a crash gets Stripe's first answer back.
            created = gateway().create_checkout_session(self._session_params(licence, attempt),
                                                        f"shuyu-licence-{licence.id}-attempt-{attempt}")
            payment = Payment(license_id=licence.id or 0, organization_id=licence.organization_id, method="stripe",
                              amount_minor=licence.price_minor, currency=licence.currency, attempt=attempt,
                              stripe_session_id=created["id"], checkout_url=created["url"])
            session.add(payment)
            session.flush()
            record(session, who.actor, "payment.started", "payment", payment.id,
                   {"license_id": licence.id, "method": "stripe", "amount_minor": payment.amount_minor,
                    "stripe_session_id": payment.stripe_session_id, "attempt": attempt})
        return CheckoutRead(payment_id=payment.id or 0, amount_minor=payment.amount_minor, currency=payment.currency,
                            method="stripe", checkout_url=payment.checkout_url)

    def _open_payment(self, session: Session, licence: License) -> Payment | None:
        payment = session.exec(select(Payment).where(Payment.license_id == licence.id, Payment.method == "stripe",
                                                     Payment.status == "pending")
                               .order_by(col(Payment.id).desc())).first()
        if payment is None:
            return None
        remote = gateway().checkout_session(payment.stripe_session_id or "")
        if remote.get("status") == "open":
            return payment
        self.apply_session(session, payment, remote)  # completed or expired meanwhile: bring it up to date
        return None if payment.status in ("expired", "failed") else payment

    def _session_params(self, licence: License, attempt: int) -> dict[str, Any]:
        base = get_settings().base_url.rstrip("/")
        name = f"{licence.listing_title} · {licence.offer_name}".strip(" ·") or f"Licence {licence.id}"
        return {
            "mode": "payment",
            "client_reference_id": f"licence-{licence.id}-attempt-{attempt}",
            "line_items": [{"quantity": 1, "price_data": {
                "currency": licence.currency.lower(), "unit_amount": licence.price_minor,
                "product_data": {"name": name[:250]}}}],
            "metadata": _metadata(licence, attempt),
            "payment_intent_data": {"metadata": _metadata(licence, attempt)},
            "success_url": f"{base}{RETURN_PATH}?session_id={{CHECKOUT_SESSION_ID}}",
            "cancel_url": base + LICENCE_PAGE.format(license_id=licence.id) + "?payment=cancelled",
        }

    def sync_session(self, session: Session, stripe_session_id: str) -> Payment | None:
        """Bring the payment of a Checkout Session up to date with Stripe; None when the session is not ours."""
        payment = session.exec(select(Payment).where(Payment.stripe_session_id == stripe_session_id)).first()
        if payment is not None:
            self.apply_session(session, payment, gateway().checkout_session(stripe_session_id))
        return payment

    def apply_session(self, session: Session, payment: Payment, remote: dict[str, Any]) -> None:
        """Book what a Checkout Session (fetched with its charge expanded) shows; statuses only move forward."""
        intent = remote.get("payment_intent")
        intent = intent if isinstance(intent, dict) else {}
        if remote.get("payment_status") == "paid" and intent.get("status") == "succeeded":
            self._settle(session, payment, intent)
        elif remote.get("status") == "complete" and intent.get("status") in ("requires_payment_method", "canceled"):
            self._set_status(session, payment, "failed", ("pending", "processing"))
        elif remote.get("status") == "complete":
            self._set_status(session, payment, "processing", ("pending",))
        elif remote.get("status") == "expired":
            self._set_status(session, payment, "expired", ("pending",))

    def _set_status(self, session: Session, payment: Payment, status: str, allowed_from: tuple[str, ...]) -> None:
        if payment.status in allowed_from:  # statuses only move forward, whatever order events come in
            before, payment.status = payment.status, status
            session.add(payment)
            record(session, STRIPE, f"payment.{status}", "payment", payment.id, {"from": before})

    def _settle(self, session: Session, payment: Payment, intent: dict[str, Any]) -> None:
        charge = intent.get("latest_charge")
        txn = charge.get("balance_transaction") if isinstance(charge, dict) else None
        if not isinstance(charge, dict) or not isinstance(txn, dict):
            raise PaymentProviderError("Stripe reports the payment but not yet its balance transaction; "
                                       "the event will be retried")
        payment.stripe_payment_intent, payment.stripe_charge = intent["id"], charge["id"]
        if ledger.entry_for(session, f"stripe:charge:{charge['id']}") is None:
            self._book_charge(session, payment, charge, txn)
        self._sync_refunds(session, payment, charge["id"])

    def _book_charge(self, session: Session, payment: Payment, charge: dict[str, Any], txn: dict[str, Any]) -> None:
        currency = str(charge["currency"]).upper()
        fee = int(txn.get("fee") or 0) if str(txn.get("currency", "")).upper() == currency else 0
        ledger.book_stripe_charge(session, payment, charge["id"], int(charge["amount"]), fee, currency)
        payment.fee_minor, payment.confirmed_at = fee, utcnow()
        if payment.status not in SETTLED:
            payment.status = "succeeded"
        session.add(payment)
        record(session, STRIPE, "payment.succeeded", "payment", payment.id,
               {"license_id": payment.license_id, "amount_minor": int(charge["amount"]), "fee_minor": fee,
                "charge": charge["id"], "balance_transaction": txn.get("id")})
        licence = session.get(License, payment.license_id)
        if licence is not None and licence.status == "awaiting_payment":
            license_service.activate(licence)
            session.add(licence)
            record(session, STRIPE, "license.activated", "license", licence.id, {"expires_at": licence.expires_at})

    def _sync_refunds(self, session: Session, payment: Payment, charge_id: str) -> None:
        for refund in gateway().refunds_of(charge_id):
            if refund.get("status") in ("succeeded", "pending"):
                reason = (refund.get("metadata") or {}).get("reason") or refund.get("reason") or "refunded in Stripe"
                record_refund(session, STRIPE, payment, f"stripe:refund:{refund['id']}", int(refund["amount"]),
                              str(reason))

    def sync_charge(self, session: Session, charge: dict[str, Any]) -> Payment | None:
        """The payment a charge belongs to, brought up to date (found by charge, PaymentIntent or its metadata)."""
        intent_id = charge.get("payment_intent")
        payment = session.exec(select(Payment).where(
            (col(Payment.stripe_charge) == charge.get("id")) | (col(Payment.stripe_payment_intent) == intent_id)
        )).first()
        if payment is None and isinstance(intent_id, str):
            meta = gateway().payment_intent(intent_id).get("metadata") or {}
            if meta.get("shuyu_license_id") and meta.get("shuyu_attempt"):
                payment = session.exec(select(Payment).where(
                    Payment.license_id == int(meta["shuyu_license_id"]), Payment.method == "stripe",
                    Payment.attempt == int(meta["shuyu_attempt"]))).first()
        if payment is None or not payment.stripe_session_id:
            return None
        return self.sync_session(session, payment.stripe_session_id)

    def sync_payout(self, session: Session, payout_id: str) -> bool:
        """Book a paid payout (Dr Bank / Cr Stripe clearing) once; False when not paid or booked already."""
        payout = gateway().payout(payout_id)
        if payout.get("status") != "paid" or ledger.entry_for(session, f"stripe:payout:{payout_id}") is not None:
            return False
        amount, currency = int(payout["amount"]), str(payout["currency"]).upper()
        entry = ledger.book_payout(session, payout_id, amount, currency)
        record(session, STRIPE, "payout.booked", "payout", payout_id,
               {"amount_minor": amount, "currency": currency, "entry_id": entry.id})
        return True

    def refund(self, payment: Payment, amount: int, reason: str) -> str:
        """Refund through Stripe; returns the ledger key of the refund Stripe made."""
        if not payment.stripe_payment_intent:
            raise NotFound(f"Payment {payment.id} has no Stripe payment to refund")
        # The same request retried gets the same refund back; a later refund has a new running total.
        key = f"shuyu-refund-{payment.id}-{payment.refunded_minor}-{amount}"
        made = gateway().create_refund(payment.stripe_payment_intent, amount,
                                       {"shuyu_payment_id": str(payment.id), "reason": reason[:400]}, key)
        return f"stripe:refund:{made['id']}"

    def return_url(self, session: Session, stripe_session_id: str) -> str:
        """Where a customer coming back from Checkout goes, after their payment is brought up to date."""
        payment = self.sync_session(session, stripe_session_id)
        if payment is None:
            raise NotFound("This checkout session is not one of Shuyu's")
        return (get_settings().base_url.rstrip("/") + LICENCE_PAGE.format(license_id=payment.license_id)
                + f"?payment={payment.status}")


stripe_payments = StripePayments()
