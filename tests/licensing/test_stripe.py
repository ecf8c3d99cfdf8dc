"""Stripe: Checkout per attempt, signed webhooks stored once and handled idempotently, refunds, fees, payouts.

The real `stripe` client talks to a local fake Stripe (tests/fake_stripe.py) over HTTP.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import func, select

from core.db import unit_of_work
from core.models import AuditEvent
from licensing.models import StripeEvent
from tests.fake_stripe import FakeStripe, fee_for
from tests.flow import World, ok
from tests.licensing.helpers import apply, balance_of, books, deliver

PRICE = 50_000


@pytest.fixture
def shop(client: TestClient, fake_stripe: FakeStripe) -> tuple[World, dict[str, str], dict[str, Any]]:
    """A published listing, an enterprise, and its licence awaiting payment."""
    world = World(client)
    enterprise = world.enterprise()
    return world, enterprise, apply(client, enterprise, world.listing)


def _checkout(world: World, headers: dict[str, str], licence_id: int) -> dict[str, Any]:
    return dict(ok(world.client.post(f"/api/v1/licenses/{licence_id}/checkout", json={"method": "stripe"},
                                     headers=headers)))


def _session_of(fake: FakeStripe) -> str:
    sessions = fake.of_type("checkout.session")
    assert len(sessions) == 1
    return str(sessions[0]["id"])


def _paid(world: World, headers: dict[str, str], licence_id: int, fake: FakeStripe) -> dict[str, Any]:
    """Check out, pay on Stripe's page, and deliver the completion event once; returns the checkout."""
    pay = _checkout(world, headers, licence_id)
    ok(deliver(world.client, fake, fake.pay(_session_of(fake))))
    return pay


def _licence(world: World, headers: dict[str, str], licence_id: int) -> dict[str, Any]:
    return dict(ok(world.client.get(f"/api/v1/licenses/{licence_id}", headers=headers)))


def _stored_events() -> int:
    with unit_of_work() as session:
        return int(session.exec(select(func.count()).select_from(StripeEvent)).one())


def test_checkout_is_one_session_per_attempt_with_an_idempotency_key_and_urls_back_to_shuyu(
    shop: tuple[World, dict[str, str], dict[str, Any]], fake_stripe: FakeStripe,
) -> None:
    world, enterprise, licence = shop
    first = _checkout(world, enterprise, licence["id"])
    again = _checkout(world, enterprise, licence["id"])
    assert first == again and first["checkout_url"].startswith(fake_stripe.base)
    assert first["amount_minor"] == PRICE and first["currency"] == "CNY"
    session = fake_stripe.objects[_session_of(fake_stripe)]
    assert session["amount_total"] == PRICE and session["currency"] == "cny"
    assert session["success_url"].startswith("http://127.0.0.1:8000/api/v1/checkout/return?session_id=")
    assert f"/enterprise/licences/{licence['id']}" in session["cancel_url"]
    created = [key for method, path, key in fake_stripe.requests if path == "/v1/checkout/sessions"]
    assert created == [f"shuyu-licence-{licence['id']}-attempt-1"]


def test_a_retried_checkout_request_gets_stripes_first_session_back(
    shop: tuple[World, dict[str, str], dict[str, Any]], fake_stripe: FakeStripe,
) -> None:
    from licensing.models import License
    from licensing.service.stripe_payments import stripe_payments
    from licensing.stripe.client import gateway

    _world, _, licence = shop
    with unit_of_work() as session:  # the same request twice, as after a crash before our commit
        row = session.get(License, licence["id"])
        assert row is not None
        params = stripe_payments._session_params(row, 1)
    key = f"shuyu-licence-{licence['id']}-attempt-1"
    assert gateway().create_checkout_session(params, key)["id"] == gateway().create_checkout_session(params, key)["id"]
    assert len(fake_stripe.of_type("checkout.session")) == 1


def test_without_stripe_keys_card_checkout_is_a_clear_422(client: TestClient) -> None:
    world = World(client)
    enterprise = world.enterprise()
    licence = apply(client, enterprise, world.listing)
    response = client.post(f"/api/v1/licenses/{licence['id']}/checkout", json={"method": "stripe"},
                           headers=enterprise)
    assert response.status_code == 422 and response.json()["type"] == "stripe-not-configured"
    assert "bank_transfer" in response.json()["detail"]


def test_a_webhook_with_a_missing_wrong_or_stale_signature_is_400_and_stores_nothing(
    shop: tuple[World, dict[str, str], dict[str, Any]], fake_stripe: FakeStripe,
) -> None:
    world, enterprise, licence = shop
    _checkout(world, enterprise, licence["id"])
    event = fake_stripe.pay(_session_of(fake_stripe))
    payload, _ = fake_stripe.signed(event)
    forged = deliver(world.client, fake_stripe, event, secret="whsec_someone_else")
    stale = deliver(world.client, fake_stripe, event, timestamp=fake_stripe.now() - 3600)
    missing = world.client.post("/api/v1/webhooks/stripe", content=payload)
    tampered = world.client.post("/api/v1/webhooks/stripe", content=payload.replace(b"complete", b"open"),
                                 headers={"Stripe-Signature": fake_stripe.signed(event)[1]})
    for response in (forged, stale, missing, tampered):
        assert response.status_code == 400 and response.json()["type"] == "invalid-webhook"
    assert _stored_events() == 0
    assert _licence(world, enterprise, licence["id"])["status"] == "awaiting_payment"


def test_a_paid_checkout_books_gross_fee_and_net_once_however_often_it_is_delivered(
    shop: tuple[World, dict[str, str], dict[str, Any]], fake_stripe: FakeStripe,
) -> None:
    world, enterprise, licence = shop
    _checkout(world, enterprise, licence["id"])
    event = fake_stripe.pay(_session_of(fake_stripe))
    first = ok(deliver(world.client, fake_stripe, event))
    again = ok(deliver(world.client, fake_stripe, event))
    assert first == {"id": event["id"], "status": "processed"} and again["status"] == "processed"
    assert _licence(world, enterprise, licence["id"])["status"] == "active"
    trial = ok(world.client.get("/api/v1/ledger/trial-balance", headers=world.finance))
    fee = fee_for(PRICE)
    assert trial["balanced"] and balance_of(trial, "4001") == -PRICE
    assert balance_of(trial, "5001") == fee and balance_of(trial, "1002") == PRICE - fee
    with unit_of_work() as session:
        stored = session.get(StripeEvent, event["id"])
        assert stored is not None and stored.deliveries == 2 and stored.status == "processed"
        activations = session.exec(select(AuditEvent).where(AuditEvent.action == "license.activated")).all()
    assert len(activations) == 1 and activations[0].actor_role == "stripe"


def test_an_unpaid_completed_checkout_books_nothing_until_the_delayed_payment_succeeds(
    shop: tuple[World, dict[str, str], dict[str, Any]], fake_stripe: FakeStripe,
) -> None:
    world, enterprise, licence = shop
    _checkout(world, enterprise, licence["id"])
    session_id = _session_of(fake_stripe)
    ok(deliver(world.client, fake_stripe, fake_stripe.pay(session_id, delayed=True)))
    assert _licence(world, enterprise, licence["id"])["status"] == "awaiting_payment"
    assert books()["journal"] == [] and books()["payments"][0][3] == "processing"
    ok(deliver(world.client, fake_stripe, fake_stripe.settle(session_id)))
    assert _licence(world, enterprise, licence["id"])["status"] == "active"
    assert [e[0] for e in books()["journal"]] == [f"stripe:charge:{fake_stripe.of_type('charge')[0]['id']}"]


def test_a_failed_delayed_payment_leaves_the_licence_awaiting_a_new_attempt(
    shop: tuple[World, dict[str, str], dict[str, Any]], fake_stripe: FakeStripe,
) -> None:
    world, enterprise, licence = shop
    _checkout(world, enterprise, licence["id"])
    session_id = _session_of(fake_stripe)
    ok(deliver(world.client, fake_stripe, fake_stripe.pay(session_id, delayed=True)))
    ok(deliver(world.client, fake_stripe, fake_stripe.settle(session_id, succeed=False)))
    assert _licence(world, enterprise, licence["id"])["status"] == "awaiting_payment"
    assert books()["journal"] == [] and books()["payments"][0][3] == "failed"
    retry = _checkout(world, enterprise, licence["id"])
    assert len(fake_stripe.of_type("checkout.session")) == 2 and retry["checkout_url"]
    keys = [key for _, path, key in fake_stripe.requests if path == "/v1/checkout/sessions"]
    assert keys[-1] == f"shuyu-licence-{licence['id']}-attempt-2"


def test_coming_back_from_checkout_activates_the_licence_before_any_webhook(
    shop: tuple[World, dict[str, str], dict[str, Any]], fake_stripe: FakeStripe,
) -> None:
    world, enterprise, licence = shop
    _checkout(world, enterprise, licence["id"])
    session_id = _session_of(fake_stripe)
    fake_stripe.pay(session_id)
    back = world.client.get(f"/api/v1/checkout/return?session_id={session_id}", follow_redirects=False)
    assert back.status_code == 303
    assert back.headers["location"].endswith(f"/enterprise/licences/{licence['id']}?payment=succeeded")
    assert _licence(world, enterprise, licence["id"])["status"] == "active"
    assert world.client.get("/api/v1/checkout/return?session_id=cs_unknown", follow_redirects=False).status_code == 404


def test_a_stripe_refund_is_booked_once_even_when_its_webhook_follows(
    shop: tuple[World, dict[str, str], dict[str, Any]], fake_stripe: FakeStripe,
) -> None:
    world, enterprise, licence = shop
    pay = _paid(world, enterprise, licence["id"], fake_stripe)
    refunded = ok(world.client.post(f"/api/v1/payments/{pay['payment_id']}/refund",
                                    json={"amount_minor": 20_000, "reason": "service not as described"},
                                    headers=world.finance))
    assert refunded["status"] == "partially_refunded" and refunded["refunded_minor"] == 20_000
    assert refunded["refunds"][0]["external_key"].startswith("stripe:refund:re_")
    ok(deliver(world.client, fake_stripe, fake_stripe.events[-1]))  # Stripe's charge.refunded for it
    assert ok(world.client.get(f"/api/v1/payments/{pay['payment_id']}", headers=world.finance))["refunded_minor"] == (
        20_000)
    assert _licence(world, enterprise, licence["id"])["status"] == "refunded"
    too_much = world.client.post(f"/api/v1/payments/{pay['payment_id']}/refund",
                                 json={"amount_minor": 30_001, "reason": "more"}, headers=world.finance)
    assert too_much.status_code == 409 and too_much.json()["type"] == "refund-not-allowed"
    trial = ok(world.client.get("/api/v1/ledger/trial-balance", headers=world.finance))
    assert balance_of(trial, "4901") == 20_000 and balance_of(trial, "1002") == PRICE - fee_for(PRICE) - 20_000


def test_a_refund_made_in_the_stripe_dashboard_is_booked_from_its_webhook(
    shop: tuple[World, dict[str, str], dict[str, Any]], fake_stripe: FakeStripe,
) -> None:
    world, enterprise, licence = shop
    pay = _paid(world, enterprise, licence["id"], fake_stripe)
    charge = fake_stripe.of_type("charge")[0]["id"]
    ok(deliver(world.client, fake_stripe, fake_stripe.refund(charge, PRICE)))
    payment = ok(world.client.get(f"/api/v1/payments/{pay['payment_id']}", headers=world.finance))
    assert payment["status"] == "refunded" and payment["refunded_minor"] == PRICE
    assert _licence(world, enterprise, licence["id"])["status"] == "refunded"


def test_a_payout_moves_stripe_clearing_to_the_bank_once(
    shop: tuple[World, dict[str, str], dict[str, Any]], fake_stripe: FakeStripe,
) -> None:
    world, enterprise, licence = shop
    _paid(world, enterprise, licence["id"], fake_stripe)
    payout = fake_stripe.payout()
    for _ in range(2):
        ok(deliver(world.client, fake_stripe, payout))
    trial = ok(world.client.get("/api/v1/ledger/trial-balance", headers=world.finance))
    assert balance_of(trial, "1002") == 0 and balance_of(trial, "1001") == PRICE - fee_for(PRICE)
    assert [e[0] for e in books()["journal"]].count(f"stripe:payout:{payout['data']['object']['id']}") == 1


def test_events_for_objects_that_are_not_shuyus_are_stored_and_ignored(
    shop: tuple[World, dict[str, str], dict[str, Any]], fake_stripe: FakeStripe,
) -> None:
    world, _, _ = shop
    event = {"id": "evt_other", "object": "event", "type": "customer.created", "data": {"object": {"id": "cus_1"}}}
    assert ok(deliver(world.client, fake_stripe, event)) == {"id": "evt_other", "status": "ignored"}
    assert _stored_events() == 1 and books()["journal"] == []


def test_concurrent_deliveries_book_each_object_once(
    shop: tuple[World, dict[str, str], dict[str, Any]], fake_stripe: FakeStripe,
) -> None:
    world, enterprise, licence = shop
    _checkout(world, enterprise, licence["id"])
    completed = fake_stripe.pay(_session_of(fake_stripe))
    refunded = fake_stripe.refund(fake_stripe.of_type("charge")[0]["id"], 5_000)
    deliveries = [completed, refunded] * 6
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(lambda e: deliver(world.client, fake_stripe, e).status_code, deliveries))
    assert set(codes) <= {200, 503}
    for event in (completed, refunded):  # what Stripe does after a 503: deliver again
        assert ok(deliver(world.client, fake_stripe, event))["status"] == "processed"
    keys = [e[0] for e in books()["journal"]]
    assert sorted(keys) == sorted([f"stripe:charge:{fake_stripe.of_type('charge')[0]['id']}",
                                   f"stripe:refund:{fake_stripe.of_type('refund')[0]['id']}"])
    assert _licence(world, enterprise, licence["id"])["status"] == "refunded"
