"""Per-query pricing (按次计费): an industry offer's price per released query, within the ceiling; each query's
fee booked to the treasury ledger in the unit of work that releases it, never for a query that released nothing;
the enterprise sees what it accrued and the public fee schedule shows the price."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from core.config import get_settings
from core.db import unit_of_work
from licensing.ledger.models import JournalEntry, Posting
from licensing.ledger.service import ledger
from tests.flow import World, ok
from tests.licensing.helpers import publish
from tests.web.test_pages import browser_sign_in

SQL = "SELECT region, COUNT(*) AS n FROM people GROUP BY region"
PER_QUERY = {"name": "按次 Per query", "scenario": "industry", "price_minor": 0, "price_per_query_minor": 300,
             "currency": "CNY", "term_days": 30, "epsilon_budget": 3.0, "query_quota": 20}


def _per_query_licence(client: TestClient) -> tuple[World, dict[str, str], dict[str, Any]]:
    world = World(client)
    listing = ok(client.post(f"/api/v1/listings/{world.listing['id']}/offers", json=PER_QUERY, headers=world.provider))
    offer = next(o for o in listing["offers"] if o["name"] == PER_QUERY["name"])
    analyst = world.enterprise()
    licence = ok(client.post("/api/v1/licenses", json={"listing_id": listing["id"], "offer_id": offer["id"],
                                                       "purpose": "客流分析 market research"}, headers=analyst), 201)
    return world, analyst, licence


def _fee_entries() -> list[tuple[str, str, int, int]]:
    with unit_of_work() as session:
        rows = session.exec(select(JournalEntry.external_key, Posting.account_code, Posting.debit_minor,
                                   Posting.credit_minor).join(Posting, Posting.entry_id == JournalEntry.id)
                            .where(JournalEntry.kind == "query_fee").order_by(Posting.id)).all()
    return [(str(k), a, d, c) for k, a, d, c in rows]


def test_each_released_query_books_its_fee_once_and_the_enterprise_sees_what_it_accrued(
        client: TestClient) -> None:
    world, analyst, licence = _per_query_licence(client)
    assert licence["status"] == "active" and licence["price_per_query_minor"] == 300  # nothing to pay up front
    first = ok(client.post("/api/v1/queries", json={"license_id": licence["id"], "sql": SQL, "epsilon": 0.2},
                           headers=analyst), 201)
    assert _fee_entries() == [(f"query-fee:{licence['id']}:{first['id']}", "1101", 300, 0),
                              (f"query-fee:{licence['id']}:{first['id']}", "4001", 0, 300)]
    # The same question again returns the stored answer: no ε, no query, no fee.
    again = client.post("/api/v1/queries", json={"license_id": licence["id"], "sql": SQL, "epsilon": 0.2},
                        headers=analyst)
    assert again.status_code in (200, 201) and again.json()["cached"] is True
    ok(client.post("/api/v1/queries", json={"license_id": licence["id"], "sql": "SELECT COUNT(*) AS n FROM people",
                                            "epsilon": 0.2}, headers=analyst), 201)
    fees = ok(client.get(f"/api/v1/licenses/{licence['id']}/query-fees", headers=analyst))
    assert (fees["queries_charged"], fees["accrued_minor"], fees["price_per_query_minor"]) == (2, 600, 300)

    report = ok(client.get("/api/v1/reports/revenue?group_by=listing", headers=world.finance))
    assert [(r["key"], r["gross_minor"], r["payments"]) for r in report["rows"]] == [
        (str(world.listing["id"]), 600, 0)]  # the listing's revenue, tied to no payment yet
    with unit_of_work() as session:
        assert ledger.verify(session) == []
        # Released fees are revenue but not cash: nothing of them can be remitted before they are paid.
        assert ledger.treasury_position(session, "CNY").collected_minor == 0
    browser_sign_in(client, "analyst@data.test")
    page = client.get(f"/enterprise/licences/{licence['id']}", headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 200 and "按次计费费用" in page.text and "¥6.00" in page.text


def test_a_query_that_released_nothing_is_never_charged(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    import sandbox.jobs
    from sandbox.worker import get_pool

    _, analyst, licence = _per_query_licence(client)

    class Unsealable:
        def __init__(self, pool: Any) -> None:
            self.pool = pool

        def call(self, op: str, payload: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
            return dict(self.pool.call(op, {**payload, "sealed_key": base64.b64encode(bytes(92)).decode()}, timeout))

    monkeypatch.setattr(sandbox.jobs, "get_pool", lambda _settings: Unsealable(get_pool(get_settings())))
    refunded = client.post("/api/v1/queries", json={"license_id": licence["id"], "sql": SQL, "epsilon": 0.1},
                           headers=analyst)
    assert refunded.status_code == 503 and refunded.json()["type"] == "query-failed"
    assert _fee_entries() == []
    assert ok(client.get(f"/api/v1/licenses/{licence['id']}/query-fees", headers=analyst))["accrued_minor"] == 0


def test_per_query_prices_stay_within_the_ceiling_and_off_free_offers(client: TestClient) -> None:
    world = World(client)
    capped = publish(world, ceiling=60_000, price_minor=50_000)
    over = {**PER_QUERY, "price_minor": 50_000, "price_per_query_minor": 600}  # 50 000 + 20 × 600 > 60 000
    refused = client.post(f"/api/v1/listings/{capped['id']}/offers", json=over, headers=world.provider)
    assert refused.status_code == 422 and refused.json()["type"] == "offer-above-ceiling"
    assert "按次" in refused.json()["detail_zh"]
    within = {**over, "price_per_query_minor": 500}  # 50 000 + 20 × 500 = 60 000
    ok(client.post(f"/api/v1/listings/{capped['id']}/offers", json=within, headers=world.provider))
    free = {**PER_QUERY, "scenario": "public_welfare"}
    assert client.post(f"/api/v1/listings/{capped['id']}/offers", json=free,
                       headers=world.provider).status_code == 422


def test_the_public_fee_schedule_shows_the_price_per_query(client: TestClient) -> None:
    _per_query_licence(client)
    line = next(f for f in ok(client.get("/api/v1/fees"))["items"] if f["offer_name"] == PER_QUERY["name"])
    assert line["price_per_query_minor"] == 300
    page = client.get("/fees", headers={"Accept-Language": "zh-CN"})
    assert "每次发布结果 ¥3.00" in page.text


def test_per_query_fees_count_against_the_revenue_ceiling_when_they_are_earned(client: TestClient) -> None:
    from datetime import datetime, timedelta, timezone

    world, analyst, licence = _per_query_licence(client)
    year = datetime.now(timezone(timedelta(hours=8))).year
    ok(client.post("/api/v1/revenue-ceilings", headers=world.office,
                   json={"year": year, "ceiling_minor": 500, "basis": "成本加合理利润"}), 201)
    for sql in (SQL, "SELECT COUNT(*) AS n FROM people"):
        ok(client.post("/api/v1/queries", json={"license_id": licence["id"], "sql": sql, "epsilon": 0.2},
                       headers=analyst), 201)
    line = ok(client.get(f"/api/v1/disclosures/{year}"))["revenue_cap"]
    assert (line["revenue_minor"], line["excess_minor"]) == (600, 100)  # two fees of 300 against 500 allowed
