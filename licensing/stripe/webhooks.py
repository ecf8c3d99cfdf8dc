"""Stripe webhooks: verify the signature, store the event once in the inbox, then handle it idempotently.

Nothing is stored unless the signature verifies and is fresh. Storing and handling are separate units
of work: an event that fails to process stays in the inbox (status `failed`) and the 503 makes Stripe
deliver it again. Claiming an event is a conditional UPDATE, so two deliveries racing handle it once.
"""

from __future__ import annotations

import json
import time
from typing import Any

import stripe
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from core.config import get_settings
from core.db import unit_of_work
from core.errors import DomainError
from core.models import utcnow
from licensing.errors import InvalidWebhook, WebhookNotProcessed
from licensing.models import StripeEvent
from licensing.schemas import WebhookAck
from licensing.service.stripe_payments import stripe_payments

TOLERANCE_SECONDS = 300
FUTURE_TOLERANCE_SECONDS = 60  # clock skew between Stripe and us; a signature from later than that is forged
SESSION_EVENTS = ("checkout.session.completed", "checkout.session.async_payment_succeeded",
                  "checkout.session.async_payment_failed", "checkout.session.expired")


def verify(payload: bytes, signature: str | None) -> dict[str, Any]:
    """The event, if `signature` is Stripe's for this payload and recent; otherwise a 400."""
    secret = get_settings().stripe_webhook_secret
    if not secret:
        raise InvalidWebhook("Stripe webhooks are not configured on this platform (no webhook secret)")
    try:
        stripe.WebhookSignature.verify_header(payload, signature, secret, TOLERANCE_SECONDS)
        event = json.loads(payload)
    except (stripe.SignatureVerificationError, ValueError):
        raise InvalidWebhook("The Stripe-Signature header is missing, wrong or older than "
                             f"{TOLERANCE_SECONDS} seconds; nothing was stored") from None
    if _signed_at(signature) > time.time() + FUTURE_TOLERANCE_SECONDS:  # Stripe's check looks only backwards
        raise InvalidWebhook(f"The Stripe-Signature timestamp is more than {FUTURE_TOLERANCE_SECONDS} seconds in "
                             "the future; nothing was stored")
    if not isinstance(event, dict) or not str(event.get("id", "")).startswith("evt_") or "type" not in event:
        raise InvalidWebhook("The signed body is not a Stripe event; nothing was stored")
    return event


def _signed_at(signature: str | None) -> int:
    """The `t=` of a Stripe-Signature header that has verified (so it is present and numeric)."""
    for part in (signature or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            return int(value)
    return 0


class StripeWebhooks:
    def receive(self, payload: bytes, signature: str | None) -> WebhookAck:
        """Verify, store once, handle once. Redeliveries of a handled event are acknowledged and ignored."""
        event = verify(payload, signature)
        with unit_of_work() as session:
            _store(session, event)
        try:
            with unit_of_work() as session:
                status = self._handle(session, event["id"])
        except (DomainError, IntegrityError) as exc:
            # IntegrityError: another delivery booked the same object at the same moment; a retry is a no-op.
            reason = exc.detail if isinstance(exc, DomainError) else "a concurrent delivery booked it first"
            _failed(event["id"], reason)
            raise WebhookNotProcessed(f"Event {event['id']} is stored but could not be processed yet "
                                      f"({reason}); Stripe will deliver it again") from None
        except Exception as exc:
            _failed(event["id"], f"{type(exc).__name__}: {exc}"[:2000])
            raise
        return WebhookAck(id=event["id"], status=status)

    def _handle(self, session: Session, event_id: str) -> str:
        claimed = session.execute(update(StripeEvent).where(
            col(StripeEvent.id) == event_id, col(StripeEvent.status).in_(("received", "failed")),
        ).values(status="processing"))
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            current = session.get(StripeEvent, event_id)
            return current.status if current else "unknown"
        stored = session.get(StripeEvent, event_id)
        assert stored is not None
        status = "processed" if self._dispatch(session, stored.type, stored.payload["data"]["object"]) else "ignored"
        stored.status, stored.processed_at, stored.error = status, utcnow(), None
        session.add(stored)
        return status

    def _dispatch(self, session: Session, kind: str, obj: dict[str, Any]) -> bool:
        """Bring Shuyu up to date with the object the event is about; False when it is none of Shuyu's."""
        if kind in SESSION_EVENTS:
            return stripe_payments.sync_session(session, obj["id"]) is not None
        if kind == "charge.refunded":
            return stripe_payments.sync_charge(session, obj) is not None
        if kind == "payout.paid":
            stripe_payments.sync_payout(session, obj["id"])
            return True
        return False


def _store(session: Session, event: dict[str, Any]) -> None:
    """Insert the event, or count one more delivery of it: stored once, keyed by its id."""
    insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert
    session.execute(insert(StripeEvent).values(
        id=event["id"], type=str(event["type"])[:100], payload=event, received_at=utcnow(), deliveries=1,
        status="received",
    ).on_conflict_do_update(index_elements=["id"], set_={"deliveries": StripeEvent.deliveries + 1}))


def _failed(event_id: str, reason: str) -> None:
    with unit_of_work() as session:
        session.execute(update(StripeEvent).where(col(StripeEvent.id) == event_id)
                        .values(status="failed", error=reason))


stripe_webhooks = StripeWebhooks()
