"""The few Stripe API calls Shuyu makes, through the real `stripe` client, returning plain dicts.

The base address comes from `SHUYU_STRIPE_API_BASE`, so tests point the same client at a local fake.
Every create call carries an idempotency key chosen by the caller: a retried request can never make a
second Checkout Session or a second refund.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import stripe

from core.config import Settings, get_settings
from licensing.errors import PaymentProviderError, StripeNotConfigured, StripeRefused

PAGE_SIZE = 100
CHARGE_EXPAND = ["payment_intent.latest_charge.balance_transaction"]
_CLIENTS: dict[tuple[str, str], stripe.StripeClient] = {}


def configured(settings: Settings | None = None) -> bool:
    """Whether card payment (Stripe) is available: a secret key is set."""
    return bool((settings or get_settings()).stripe_secret_key)


def gateway() -> StripeGateway:
    """The Stripe gateway, or a 422 that says card payment is not configured."""
    settings = get_settings()
    if not settings.stripe_secret_key:
        raise StripeNotConfigured("Card payment is not configured on this platform; choose bank_transfer")
    key = (settings.stripe_secret_key, settings.stripe_api_base)
    if key not in _CLIENTS:
        _CLIENTS[key] = stripe.StripeClient(settings.stripe_secret_key, max_network_retries=2,
                                            base_addresses={"api": settings.stripe_api_base})
    return StripeGateway(_CLIENTS[key])


def _plain(obj: Any) -> dict[str, Any]:
    return dict(obj.to_dict())


def _unix(at: datetime) -> int:
    return int(at.timestamp())


class StripeGateway:
    def __init__(self, client: stripe.StripeClient) -> None:
        self.v1 = client.v1

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            return _plain(fn(*args, **kwargs))
        except stripe.InvalidRequestError as exc:
            raise StripeRefused(f"Stripe refused the request: {exc.user_message or exc}", code=exc.code) from None
        except stripe.StripeError as exc:
            raise PaymentProviderError(f"Stripe could not be reached or failed ({type(exc).__name__}); "
                                       "try again in a minute") from None

    def create_checkout_session(self, params: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        return self._call(self.v1.checkout.sessions.create, params, {"idempotency_key": idempotency_key})

    def checkout_session(self, session_id: str) -> dict[str, Any]:
        """The session with its PaymentIntent, charge and balance transaction expanded."""
        return self._call(self.v1.checkout.sessions.retrieve, session_id, {"expand": CHARGE_EXPAND})

    def payment_intent(self, intent_id: str) -> dict[str, Any]:
        return self._call(self.v1.payment_intents.retrieve, intent_id)

    def charge(self, charge_id: str) -> dict[str, Any]:
        return self._call(self.v1.charges.retrieve, charge_id, {"expand": ["balance_transaction"]})

    def refund(self, refund_id: str) -> dict[str, Any]:
        return self._call(self.v1.refunds.retrieve, refund_id, {"expand": ["balance_transaction"]})

    def payout(self, payout_id: str) -> dict[str, Any]:
        return self._call(self.v1.payouts.retrieve, payout_id, {"expand": ["balance_transaction"]})

    def source_transaction(self, kind: str, source_id: str) -> dict[str, Any] | None:
        """The balance transaction of a charge, refund or payout; None when Stripe has no such object."""
        fetch = {"charge": self.charge, "refund": self.refund, "payout": self.payout}[kind]
        try:
            txn = fetch(source_id).get("balance_transaction")
        except StripeRefused as exc:
            if exc.extra.get("code") == "resource_missing":
                return None
            raise
        return txn if isinstance(txn, dict) else None

    def create_refund(self, intent_id: str, amount: int, metadata: dict[str, str], idempotency_key: str
                      ) -> dict[str, Any]:
        params = {"payment_intent": intent_id, "amount": amount, "metadata": metadata}
        return self._call(self.v1.refunds.create, params, {"idempotency_key": idempotency_key})

    def refunds_of(self, charge_id: str) -> list[dict[str, Any]]:
        return list(self._pages(self.v1.refunds.list, {"charge": charge_id}))

    def balance_transactions(self, start: datetime | None = None, end: datetime | None = None,
                             payout: str | None = None) -> list[dict[str, Any]]:
        """Every balance transaction created in [start, end), or those paid out in `payout`, across all pages."""
        params: dict[str, Any] = {}
        if payout:
            params["payout"] = payout
        created = {**({"gte": _unix(start)} if start else {}), **({"lt": _unix(end)} if end else {})}
        if created:
            params["created"] = created
        return list(self._pages(self.v1.balance_transactions.list, params))

    def _pages(self, list_fn: Any, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        try:
            for item in list_fn({**params, "limit": PAGE_SIZE}).auto_paging_iter():
                yield _plain(item)
        except stripe.StripeError as exc:
            raise PaymentProviderError(f"Stripe could not be reached or failed ({type(exc).__name__}); "
                                       "try again in a minute") from None
