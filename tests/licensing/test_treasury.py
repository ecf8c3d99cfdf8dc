"""Bank refunds as reversals, remittance to the treasury, revenue reports, and `ledger verify` on the whole book."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from core.config import get_settings
from core.db import get_engine, unit_of_work
from licensing.ledger.service import ledger
from tests.flow import World, ok
from tests.licensing.helpers import apply, balance_of, pay_by_bank, publish
from web.cli import app as cli

PRICE = 50_000


@pytest.fixture
def paid(client: TestClient) -> tuple[World, dict[str, str], dict[str, Any]]:
    """An enterprise whose licence was paid by bank transfer; returns the payment."""
    world = World(client)
    enterprise = world.enterprise()
    licence = apply(client, enterprise, world.listing)
    return world, enterprise, pay_by_bank(world, enterprise, licence["id"])


def _refund(world: World, payment_id: int, amount: int, **extra: Any) -> Any:
    return world.client.post(f"/api/v1/payments/{payment_id}/refund", headers=world.finance,
                             json={"amount_minor": amount, "reason": "duplicate purchase", **extra})


def _trial(world: World) -> dict[str, Any]:
    return dict(ok(world.client.get("/api/v1/ledger/trial-balance", headers=world.finance)))


def test_a_bank_refund_is_a_reversing_entry_and_ends_the_licence(
    paid: tuple[World, dict[str, str], dict[str, Any]],
) -> None:
    world, enterprise, payment = paid
    refunded = ok(_refund(world, payment["id"], 20_000, bank_reference="OUT-2026-0001"))
    assert refunded["status"] == "partially_refunded" and refunded["refunded_minor"] == 20_000
    assert refunded["refunds"][0]["external_key"] == "bank-refund:OUT-2026-0001"
    licence = ok(world.client.get(f"/api/v1/licenses/{payment['license_id']}", headers=enterprise))
    assert licence["status"] == "refunded"
    refused = world.client.post("/api/v1/queries", headers=enterprise, json={
        "license_id": licence["id"], "sql": "SELECT COUNT(*) AS n FROM people", "epsilon": 0.1})
    assert refused.status_code == 403
    entries = ok(world.client.get("/api/v1/ledger/entries", headers=world.finance))["items"]
    refund, original = entries[0], entries[1]
    assert refund["kind"] == "refund" and refund["reverses_entry_id"] == original["id"]
    assert {(p["account_code"], p["debit_minor"], p["credit_minor"]) for p in refund["postings"]} == {
        ("4901", 20_000, 0), ("1001", 0, 20_000)}
    trial = _trial(world)
    assert trial["balanced"] and balance_of(trial, "1001") == PRICE - 20_000


def test_refunds_never_give_back_more_than_was_paid_and_each_bank_reference_books_once(
    paid: tuple[World, dict[str, str], dict[str, Any]],
) -> None:
    world, _, payment = paid
    ok(_refund(world, payment["id"], 30_000, bank_reference="OUT-1"))
    again = _refund(world, payment["id"], 10_000, bank_reference="OUT-1")
    assert again.status_code == 409 and "recorded already" in again.json()["detail"]
    over = _refund(world, payment["id"], 20_001)
    assert over.status_code == 409 and over.json()["type"] == "refund-not-allowed"
    assert "¥200.00" in over.json()["detail"]
    assert ok(_refund(world, payment["id"], 20_000))["status"] == "refunded"
    assert _refund(world, payment["id"], 1).status_code == 409
    assert world.client.post(f"/api/v1/payments/{payment['id']}/refund", json={"amount_minor": 1, "reason": "x y"},
                             headers=world.office).status_code == 403


def test_remittance_moves_what_is_owed_to_the_treasury_and_never_more(
    paid: tuple[World, dict[str, str], dict[str, Any]],
) -> None:
    world, _, payment = paid
    ok(_refund(world, payment["id"], 10_000))
    before = ok(world.client.get("/api/v1/treasury", headers=world.finance))["items"]
    assert before == [{"currency": "CNY", "collected_minor": 40_000, "remitted_minor": 0, "owed_minor": 40_000}]
    body = {"amount_minor": 25_000, "reference": "缴款书 No. 0001", "note": "July"}
    remitted = ok(world.client.post("/api/v1/treasury/remittances", json=body, headers=world.finance), 201)
    assert remitted["reference"] == "缴款书 No. 0001"
    duplicate = world.client.post("/api/v1/treasury/remittances", json=body, headers=world.finance)
    assert duplicate.status_code == 409 and duplicate.json()["type"] == "remittance-conflict"
    over = world.client.post("/api/v1/treasury/remittances", headers=world.finance,
                             json={"amount_minor": 15_001, "reference": "No. 0002"})
    assert over.status_code == 409 and "15000" in over.json()["detail"]
    after = ok(world.client.get("/api/v1/treasury", headers=world.finance))["items"][0]
    assert (after["collected_minor"], after["remitted_minor"], after["owed_minor"]) == (40_000, 25_000, 15_000)
    trial = _trial(world)
    assert balance_of(trial, "3001") == 25_000 and balance_of(trial, "1001") == 15_000
    assert ok(world.client.get("/api/v1/treasury/remittances", headers=world.finance))["total"] == 1
    report = ok(world.client.get("/api/v1/reports/revenue", headers=world.finance))
    assert report["treasury"]["owed_minor"] == 15_000


def test_revenue_reports_group_by_listing_provider_scenario_and_month(client: TestClient) -> None:
    world = World(client)
    second = publish(world, price_minor=30_000, title="第二个产品 Second product")
    enterprise = world.enterprise()
    first_payment = pay_by_bank(world, enterprise, apply(client, enterprise, world.listing)["id"])
    pay_by_bank(world, enterprise, apply(client, enterprise, second)["id"])
    ok(_refund(world, first_payment["id"], 5_000))

    def report(**params: str) -> dict[str, Any]:
        return dict(ok(client.get("/api/v1/reports/revenue", params=params, headers=world.finance)))

    by_listing = report(group_by="listing")
    assert (by_listing["gross_minor"], by_listing["refunds_minor"], by_listing["net_minor"]) == (80_000, 5_000, 75_000)
    assert [(r["label"], r["gross_minor"], r["refunds_minor"], r["net_minor"]) for r in by_listing["rows"]] == [
        (world.listing["title"], 50_000, 5_000, 45_000), ("第二个产品 Second product", 30_000, 0, 30_000)]
    provider = report(group_by="provider")["rows"]
    assert [(r["label"], r["net_minor"], r["payments"]) for r in provider] == [("统计局 Statistics Bureau", 75_000, 2)]
    assert [(r["key"], r["net_minor"]) for r in report(group_by="scenario")["rows"]] == [("industry", 75_000)]
    today = datetime.now(ZoneInfo(get_settings().report_timezone)).date()
    assert [(r["key"], r["net_minor"]) for r in report(group_by="month")["rows"]] == [(today.strftime("%Y-%m"),
                                                                                         75_000)]
    assert report(group_by="month", **{"from": str(today + timedelta(days=1))})["rows"] == []
    assert report(**{"from": str(today), "to": str(today)})["net_minor"] == 75_000
    exported = client.get("/api/v1/reports/revenue", params={"group_by": "listing", "format": "csv"},
                          headers=world.finance)
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows[0][:6] == ["listing", "label", "currency", "gross_minor", "refunds_minor", "net_minor"]
    assert rows[-1][:6] == ["TOTAL", "", "CNY", "80000", "5000", "75000"]
    assert client.get("/api/v1/reports/revenue?group_by=colour", headers=world.finance).status_code == 422


def test_ledger_verify_passes_on_a_sound_book_and_names_a_refund_booked_without_its_record(
    paid: tuple[World, dict[str, str], dict[str, Any]],
) -> None:
    world, _, payment = paid
    ok(_refund(world, payment["id"], 10_000))
    ok(world.client.post("/api/v1/treasury/remittances", json={"amount_minor": 40_000, "reference": "R1"},
                         headers=world.finance), 201)
    assert CliRunner().invoke(cli, ["ledger", "verify"]).exit_code == 0
    with get_engine().begin() as conn:  # someone with database access changes a payment behind the ledger
        conn.execute(text("UPDATE payments SET refunded_minor = 0, status = 'succeeded' WHERE id = :id"),
                     {"id": payment["id"]})
    with unit_of_work() as session:
        problems = ledger.verify(session)
    assert any(f"payment {payment['id']}: refunded 0" in p for p in problems)
    result = CliRunner().invoke(cli, ["ledger", "verify"])
    assert result.exit_code == 1 and "refunded 0" in result.output


def test_ledger_verify_names_revenue_booked_for_a_payment_that_was_never_received(
    paid: tuple[World, dict[str, str], dict[str, Any]],
) -> None:
    _world, _, payment = paid
    with get_engine().begin() as conn:
        conn.execute(text("UPDATE payments SET status = 'pending' WHERE id = :id"), {"id": payment["id"]})
    with unit_of_work() as session:
        # (it also holds nothing in 2201 for what a pending payment says it received: a second, true break)
        assert ledger.verify(session)[0] == f"payment {payment['id']} is pending yet its revenue is booked"


def test_refund_and_remittance_records_are_append_only_in_the_database(
    paid: tuple[World, dict[str, str], dict[str, Any]],
) -> None:
    world, _, payment = paid
    ok(_refund(world, payment["id"], 1_000))
    ok(world.client.post("/api/v1/treasury/remittances", json={"amount_minor": 1_000, "reference": "R9"},
                         headers=world.finance), 201)
    for statement in ("UPDATE payment_refunds SET amount_minor = 1", "DELETE FROM payment_refunds",
                      "UPDATE remittances SET amount_minor = 1", "DELETE FROM remittances"):
        with pytest.raises(DBAPIError, match="append-only"), get_engine().begin() as conn:
            conn.execute(text(statement))
