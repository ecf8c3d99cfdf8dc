"""Stripe webhooks under abuse: a signature dated in the future is refused like a stale one, and a hundred
concurrent deliveries of one event book it once."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlmodel import select

from core.db import unit_of_work
from licensing.models import StripeEvent
from tests.fake_stripe import FakeStripe
from tests.figures import record
from tests.flow import World, ok
from tests.licensing.helpers import books, deliver
from tests.licensing.test_stripe import _checkout, _licence, _session_of, _stored_events, shop

__all__ = ["shop"]  # the fixture, shared with the Stripe tests


def test_a_signature_dated_in_the_future_is_refused_and_stores_nothing(
    shop: tuple[World, dict[str, str], dict[str, Any]], fake_stripe: FakeStripe,
) -> None:
    world, enterprise, licence = shop
    _checkout(world, enterprise, licence["id"])
    event = fake_stripe.pay(_session_of(fake_stripe))
    for ahead in (3600, 301, 120):
        future = deliver(world.client, fake_stripe, event, timestamp=int(time.time()) + ahead)
        assert future.status_code == 400 and "future" in future.json()["detail"], future.text
    assert _stored_events() == 0
    skewed = deliver(world.client, fake_stripe, event, timestamp=int(time.time()) + 20)  # ordinary clock skew
    assert ok(skewed)["status"] == "processed"


def test_a_hundred_concurrent_deliveries_of_one_event_book_it_once(
    shop: tuple[World, dict[str, str], dict[str, Any]], fake_stripe: FakeStripe,
) -> None:
    world, enterprise, licence = shop
    _checkout(world, enterprise, licence["id"])
    event = fake_stripe.pay(_session_of(fake_stripe))
    with ThreadPoolExecutor(max_workers=16) as pool:
        codes = list(pool.map(lambda _: deliver(world.client, fake_stripe, event).status_code, range(100)))
    assert set(codes) <= {200, 503} and 200 in codes
    assert ok(deliver(world.client, fake_stripe, event))["status"] == "processed"
    charge = fake_stripe.of_type("charge")[0]["id"]
    assert [e[0] for e in books()["journal"]] == [f"stripe:charge:{charge}"]
    with unit_of_work() as session:
        stored = session.exec(select(StripeEvent)).all()
    assert [(s.id, s.deliveries, s.status) for s in stored] == [(event["id"], 101, "processed")]
    assert _licence(world, enterprise, licence["id"])["status"] == "active"
    record("100 concurrent deliveries of one Stripe event", deliveries=101, answered_200=codes.count(200) + 1,
           answered_503=codes.count(503), journal_entries=1, held="booked once; every delivery counted")
