"""Any order, repetition or delay of Stripe's webhook deliveries gives the same books (a Hypothesis property).

Stripe acts in a fixed sequence (card payment, delayed payments that settle or fail, dashboard refunds,
a payout). Hypothesis interleaves deliveries of the events emitted so far between those actions —
duplicated, reordered, late — and then delivers every event at least once more in a random order.
The books (journal by external key, payments, licences) must equal those of the plain run.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.engine import make_url

from core.db import dispose_engines, null_pool_engine
from tests.fake_stripe import FakeStripe
from tests.flow import World, ok
from tests.licensing.helpers import apply, books, deliver

Step = tuple[str, int]


@contextmanager
def snapshots() -> Iterator[tuple[Callable[[], None], Callable[[], None]]]:
    """(take, restore) for the test's database: a file copy on SQLite, a template database on PostgreSQL."""
    url = make_url(os.environ["SHUYU_DATABASE_URL"])
    if url.get_backend_name() == "sqlite":
        path, copy = url.database or "", (url.database or "") + ".snapshot"

        def backup(source: str, target: str) -> None:
            dispose_engines()
            with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
                src.backup(dst)

        yield (lambda: backup(path, copy)), (lambda: backup(copy, path))
        return
    admin = null_pool_engine(url.set(database="postgres").render_as_string(hide_password=False))
    name, snap = url.database, f"{url.database}_snap"

    def run(*statements: str) -> None:
        dispose_engines()
        with admin.connect() as conn:
            for statement in statements:
                conn.execute(text(statement))

    try:
        yield ((lambda: run(f'CREATE DATABASE "{snap}" TEMPLATE "{name}"')),
               (lambda: run(f'DROP DATABASE "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}" TEMPLATE "{snap}"')))
    finally:
        run(f'DROP DATABASE IF EXISTS "{snap}" WITH (FORCE)')
        admin.dispose()


def _actions(fake: FakeStripe, sessions: list[str]) -> list[Callable[[], Any]]:
    """What happens on Stripe's side, in order; each action emits the events Stripe would send."""
    a, b, c = sessions

    def charge_of(session_id: str) -> str:
        return str(fake.objects[fake.objects[session_id]["payment_intent"]]["latest_charge"])

    return [
        lambda: fake.pay(a),
        lambda: fake.pay(b, delayed=True),
        lambda: fake.pay(c, delayed=True),
        lambda: fake.refund(charge_of(a), 10_000),
        lambda: fake.settle(b),
        lambda: fake.settle(c, succeed=False),
        lambda: fake.refund(charge_of(a), 5_000),
        lambda: fake.payout(),
        lambda: fake.refund(charge_of(b), 50_000),
    ]


@st.composite
def timelines(draw: st.DrawFn, actions: int) -> list[Step]:
    """Actions in order; after each, some deliveries of events emitted so far; then every event, shuffled."""
    steps: list[Step] = []
    for action in range(actions):
        steps.append(("act", action))
        for _ in range(draw(st.integers(0, 2))):
            steps.append(("deliver", draw(st.integers(0, action))))  # event n comes from action n
    steps += [("deliver", event) for event in draw(st.permutations(range(actions)))]
    return steps


def _play(client: TestClient, fake: FakeStripe, actions: list[Callable[[], Any]], steps: list[Step]) -> None:
    for kind, index in steps:
        if kind == "act":
            actions[index]()
        else:
            ok(deliver(client, fake, fake.events[index]))


def test_any_order_or_repetition_of_webhook_deliveries_gives_the_same_books(
    client: TestClient, fake_stripe: FakeStripe,
) -> None:
    world = World(client)
    enterprise = world.enterprise()
    for _ in range(3):
        licence = apply(client, enterprise, world.listing)
        ok(client.post(f"/api/v1/licenses/{licence['id']}/checkout", json={"method": "stripe"}, headers=enterprise))
    sessions = sorted(s["id"] for s in fake_stripe.of_type("checkout.session"))
    actions = _actions(fake_stripe, sessions)
    stripe_before = fake_stripe.snapshot()
    with snapshots() as (take, restore):
        take()
        _play(client, fake_stripe, actions, [("act", n) for n in range(len(actions))]
              + [("deliver", n) for n in range(len(actions))])
        expected = books()
        assert [p[3] for p in expected["payments"]] == ["partially_refunded", "refunded", "failed"]
        assert [status for _, status in expected["licences"]] == ["refunded", "refunded", "awaiting_payment"]

        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(steps=timelines(len(actions)))
        def same_books(steps: list[Step]) -> None:
            restore()
            fake_stripe.restore(stripe_before)
            _play(client, fake_stripe, actions, steps)
            assert books() == expected

        same_books()
