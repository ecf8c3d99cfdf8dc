"""Steps the licensing tests share: publish a listing with a chosen policy, license it, deliver Stripe events."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import select

from core.db import unit_of_work
from licensing.ledger.models import JournalEntry, Posting
from licensing.models import License, Payment
from tests.fake_stripe import FakeStripe
from tests.flow import World, listing_body, ok


def publish(world: World, *, dp_policy: dict[str, Any] | None = None, price_minor: int = 50_000,
            epsilon_budget: float = 3.0, title: str = "Second listing", ceiling: int | None = None) -> dict[str, Any]:
    """Another published listing on the world's dataset, with its own offer and DP policy."""
    client = world.client
    body = listing_body(world.dataset["id"], price_minor=price_minor)
    body["title"] = title
    body["offers"][0]["epsilon_budget"] = epsilon_budget
    policy = {"max_epsilon_per_query": 1.0, "default_epsilon": 0.5, "min_group_size": 0, **(dp_policy or {})}
    body["dp_policy"] = policy
    listing = ok(client.post("/api/v1/listings", json=body, headers=world.provider), 201)
    ok(client.post(f"/api/v1/listings/{listing['id']}/submit", headers=world.provider))
    review: dict[str, Any] = {"decision": "approve", "grade": "general", "reason_code": "meets-standard",
                              "dp_policy": policy}
    if ceiling is not None:
        review["ceiling_price_minor"] = ceiling
    return dict(ok(client.post(f"/api/v1/listings/{listing['id']}/review", json=review, headers=world.office)))


def apply(client: TestClient, headers: dict[str, str], listing: dict[str, Any], purpose: str = "research"
          ) -> dict[str, Any]:
    return dict(ok(client.post("/api/v1/licenses", json={
        "listing_id": listing["id"], "offer_id": listing["offers"][0]["id"], "purpose": purpose}, headers=headers),
        201))


def pay_by_bank(world: World, headers: dict[str, str], licence_id: int) -> dict[str, Any]:
    """Checkout by bank transfer and finance confirms it; returns the payment."""
    pay = ok(world.client.post(f"/api/v1/licenses/{licence_id}/checkout", json={"method": "bank_transfer"},
                               headers=headers))
    return dict(ok(world.client.post(f"/api/v1/payments/{pay['payment_id']}/confirm", json={
        "bank_reference": pay["bank_reference"], "amount_minor": pay["amount_minor"]}, headers=world.finance)))


def deliver(client: TestClient, fake: FakeStripe, event: dict[str, Any], **signing: Any) -> Any:
    """POST a Stripe event to the webhook exactly as Stripe would (signed with stripe's own helper)."""
    payload, header = fake.signed(event, **signing)
    return client.post("/api/v1/webhooks/stripe", content=payload,
                       headers={"Stripe-Signature": header, "Content-Type": "application/json"})


def books() -> dict[str, Any]:
    """Everything the books say, without ids or times: entries by external key, payments and licences."""
    with unit_of_work() as session:
        entries = session.exec(select(JournalEntry)).all()
        postings = session.exec(select(Posting)).all()
        lines: dict[int, list[tuple[str, str, int, int]]] = {}
        for p in postings:
            lines.setdefault(p.entry_id, []).append((p.account_code, p.currency, p.debit_minor, p.credit_minor))
        journal = sorted((e.external_key or f"#{e.id}", e.kind, tuple(sorted(lines.get(e.id or 0, []))))
                         for e in entries)
        pays = sorted((p.license_id, p.attempt, p.method, p.status, p.refunded_minor, p.fee_minor)
                      for p in session.exec(select(Payment)).all())
        licences = sorted((lic.id, lic.status) for lic in session.exec(select(License)).all())
    return {"journal": journal, "payments": pays, "licences": licences}


def balance_of(trial: dict[str, Any], code: str) -> int:
    """Debit minus credit of one account in a trial balance (CNY)."""
    return sum(a["debit_minor"] - a["credit_minor"] for a in trial["accounts"] if a["code"] == code)
