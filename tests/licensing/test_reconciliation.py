"""Reconciliation against Stripe, and the whole card path scripted end to end with nothing left unexplained."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import licensing.stripe.client
from tests.fake_stripe import FakeStripe, fee_for
from tests.flow import World, ok
from tests.licensing.helpers import apply, balance_of, deliver
from web.cli import app as cli

PRICE = 50_000


def _buy(world: World, enterprise: dict[str, str], fake: FakeStripe) -> tuple[dict[str, Any], dict[str, Any]]:
    """Apply, pay by card, and let Stripe's webhook book it: returns (licence, checkout)."""
    licence = apply(world.client, enterprise, world.listing)
    checkout = ok(world.client.post(f"/api/v1/licenses/{licence['id']}/checkout", json={"method": "stripe"},
                                    headers=enterprise))
    session = next(s for s in fake.of_type("checkout.session") if s["url"] == checkout["checkout_url"])
    ok(deliver(world.client, fake, fake.pay(session["id"])))
    return licence, checkout


def _reconcile(world: World, **period: str) -> dict[str, Any]:
    return dict(ok(world.client.post("/api/v1/reconciliations", json=period, headers=world.finance), 201))


def test_licence_checkout_webhooks_refund_payout_and_reconciliation_leave_nothing_unexplained(
    client: TestClient, fake_stripe: FakeStripe,
) -> None:
    world = World(client)
    enterprise = world.enterprise()
    licence = apply(client, enterprise, world.listing)
    checkout = ok(client.post(f"/api/v1/licenses/{licence['id']}/checkout", json={"method": "stripe"},
                              headers=enterprise))
    session_id = fake_stripe.of_type("checkout.session")[0]["id"]
    paid = fake_stripe.pay(session_id)  # the enterprise pays on Stripe's page
    forged = deliver(client, fake_stripe, paid, secret="whsec_not_stripes")
    assert forged.status_code == 400
    assert ok(deliver(client, fake_stripe, paid))["status"] == "processed"
    assert ok(deliver(client, fake_stripe, paid))["status"] == "processed"  # delivered twice, booked once
    assert ok(client.get(f"/api/v1/licenses/{licence['id']}", headers=enterprise))["status"] == "active"
    ok(client.post("/api/v1/queries", headers=enterprise, json={
        "license_id": licence["id"], "sql": "SELECT COUNT(*) AS n FROM people", "epsilon": 0.1}), 201)

    refund = ok(client.post(f"/api/v1/payments/{checkout['payment_id']}/refund", headers=world.finance,
                            json={"amount_minor": 15_000, "reason": "partial service outage"}))
    assert refund["status"] == "partially_refunded"
    ok(deliver(client, fake_stripe, fake_stripe.events[-1]))  # charge.refunded
    ok(deliver(client, fake_stripe, fake_stripe.payout()))

    trial = ok(client.get("/api/v1/ledger/trial-balance", headers=world.finance))
    fee = fee_for(PRICE)
    assert trial["balanced"] and balance_of(trial, "1002") == 0
    assert balance_of(trial, "1001") == PRICE - fee - 15_000
    assert (balance_of(trial, "4001"), balance_of(trial, "4901"), balance_of(trial, "5001")) == (-PRICE, 15_000, fee)

    report = _reconcile(world)
    assert report["ok"] is True, report
    assert {(m["type"], m["source"]) for m in report["matched"]} == {
        ("charge", fake_stripe.of_type("charge")[0]["id"]), ("refund", fake_stripe.of_type("refund")[0]["id"]),
        ("payout", fake_stripe.of_type("payout")[0]["id"])}
    assert report["missing_in_ledger"] == report["missing_in_stripe"] == report["mismatches"] == []
    assert report["payout_mismatches"] == [] and report["summary"]["payouts_checked"] == 1
    assert CliRunner().invoke(cli, ["ledger", "verify"]).exit_code == 0
    revenue = ok(client.get("/api/v1/reports/revenue", headers=world.finance))
    assert (revenue["gross_minor"], revenue["refunds_minor"], revenue["net_minor"]) == (PRICE, 15_000, 35_000)


def test_reconciliation_shows_every_kind_of_difference_and_is_saved_listed_and_exported(
    client: TestClient, fake_stripe: FakeStripe,
) -> None:
    world = World(client)
    enterprise = world.enterprise()
    _buy(world, enterprise, fake_stripe)
    _buy(world, enterprise, fake_stripe)
    charge_one, charge_two = (c["id"] for c in sorted(fake_stripe.of_type("charge"), key=lambda c: c["id"]))
    txn_one = fake_stripe.objects[fake_stripe.objects[charge_one]["balance_transaction"]]
    txn_one["fee"], txn_one["net"] = txn_one["fee"] + 7, txn_one["net"] - 7  # Stripe charged 7 more than booked
    fake_stripe.refund(charge_two, 1_000)  # a refund whose webhook never arrived
    lost = fake_stripe.objects.pop(charge_two)  # and Stripe has no record of the second charge any more
    del fake_stripe.objects[lost["balance_transaction"]]
    adjustment = fake_stripe.add_transaction("adjustment", -300)
    payout = fake_stripe.payout()["data"]["object"]  # never delivered: missing in the ledger
    fake_stripe.objects[payout["balance_transaction"]]["amount"] -= 50  # paid out more than its transactions

    report = _reconcile(world)
    assert report["ok"] is False
    assert [(m["source"], m["field"], m["stripe_minor"], m["ledger_minor"]) for m in report["mismatches"]] == [
        (charge_one, "fee", fee_for(PRICE) + 7, fee_for(PRICE)), (charge_one, "net", PRICE - fee_for(PRICE) - 7,
                                                                  PRICE - fee_for(PRICE))]
    missing = {(m["type"], m["id"]) for m in report["missing_in_ledger"]}
    assert ("adjustment", adjustment["id"]) in missing and ("payout", payout["balance_transaction"]) in missing
    assert any(m["type"] == "refund" for m in report["missing_in_ledger"])
    assert [m["source"] for m in report["missing_in_stripe"]] == [charge_two]
    assert [m["payout"] for m in report["payout_mismatches"]] == [payout["id"]]
    assert report["payout_mismatches"][0]["difference_minor"] == 50

    listed = ok(client.get("/api/v1/reconciliations", headers=world.finance))
    assert listed["total"] == 1 and listed["items"][0]["ok"] is False
    assert listed["items"][0]["summary"]["mismatches"] == 2
    assert ok(client.get(f"/api/v1/reconciliations/{report['id']}", headers=world.finance)) == report
    exported = client.get(f"/api/v1/reconciliations/{report['id']}?format=csv", headers=world.finance)
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {r["section"] for r in rows} == {"missing_in_ledger", "missing_in_stripe", "mismatches",
                                           "payout_mismatches"}
    fee_line = next(r for r in rows if r["section"] == "mismatches" and r["field"] == "fee")
    assert (fee_line["source"], fee_line["difference_minor"]) == (charge_one, "7")


def test_reconciliation_reads_every_page_of_stripes_transactions(
    client: TestClient, fake_stripe: FakeStripe, monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = World(client)
    enterprise = world.enterprise()
    for _ in range(3):
        _buy(world, enterprise, fake_stripe)
    ok(deliver(client, fake_stripe, fake_stripe.payout()))
    monkeypatch.setattr(licensing.stripe.client, "PAGE_SIZE", 2)
    report = _reconcile(world)
    assert report["ok"] is True and len(report["matched"]) == 4
    listings = [path for method, path, _ in fake_stripe.requests if path == "/v1/balance_transactions"]
    assert len(listings) >= 3


def test_a_period_only_compares_what_stripe_dated_inside_it(client: TestClient, fake_stripe: FakeStripe) -> None:
    world = World(client)
    enterprise = world.enterprise()
    _buy(world, enterprise, fake_stripe)
    now = datetime.now(UTC)
    inside = _reconcile(world, **{"from": (now - timedelta(hours=1)).isoformat(), "to": (now + timedelta(hours=1))
                                  .isoformat()})
    assert inside["ok"] and len(inside["matched"]) == 1
    before = _reconcile(world, **{"from": (now - timedelta(days=2)).isoformat(), "to": (now - timedelta(days=1))
                                  .isoformat()})
    assert before["ok"] and before["matched"] == [] and before["summary"]["stripe_transactions"] == 0


def test_reconciliation_from_a_stripe_csv_statement(client: TestClient, fake_stripe: FakeStripe) -> None:
    world = World(client)
    enterprise = world.enterprise()
    _, checkout = _buy(world, enterprise, fake_stripe)
    ok(client.post(f"/api/v1/payments/{checkout['payment_id']}/refund", headers=world.finance,
                   json={"amount_minor": 2_000, "reason": "goodwill"}))
    ok(deliver(client, fake_stripe, fake_stripe.payout()))
    statement = fake_stripe.statement_csv()
    report = ok(client.post("/api/v1/reconciliations/import", headers=world.finance,
                            files={"file": ("balance_history.csv", statement, "text/csv")}), 201)
    assert report["source"] == "csv" and report["ok"] is True and len(report["matched"]) == 3
    broken = client.post("/api/v1/reconciliations/import", headers=world.finance,
                         files={"file": ("x.csv", b"name,value\na,1\n", "text/csv")})
    assert broken.status_code == 422 and broken.json()["type"] == "invalid-statement"
