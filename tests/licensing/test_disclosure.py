"""The annual disclosure (JSON and CSV) and providers' usage view: what was authorized, offered, priced,
licensed by scenario and earned (net of refunds) in a year; usage counts without anyone's query text."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import select

from core.auth import Role
from core.db import unit_of_work
from licensing.models import Payment
from tests.flow import World, ok, staff
from tests.market.steps import API

YEAR = datetime.now(timezone(timedelta(hours=8))).year
SQL = "SELECT region, COUNT(*) AS n FROM people GROUP BY region"


def _licensed_world(client: TestClient) -> tuple[World, dict[str, Any]]:
    """A listing with a paid commercial licence (¥500, ¥120 refunded), a free research licence, and an
    enterprise whose transfer has not arrived."""
    world = World(client)
    listing_id = world.listing["id"]
    free = ok(client.post(f"{API}/listings/{listing_id}/offers", headers=world.provider, json={
        "name": "科研 Research", "scenario": "public_welfare", "price_minor": 0, "term_days": 30,
        "epsilon_budget": 1.0, "query_quota": 10}))["offers"][-1]
    paying = world.enterprise()
    paid = world.active_licence(paying)
    research = ok(client.post(f"{API}/licenses", headers=paying, json={
        "listing_id": listing_id, "offer_id": free["id"], "purpose": "高校交通出行研究 university transport research",
        "evidence": "国家自然科学基金项目 NSFC 52000000"}), 201)
    ok(client.post(f"{API}/licenses/{research['id']}/review", headers=world.office, json={"decision": "approve"}))
    late = client.post(f"{API}/licenses", headers=paying,
                       json={"listing_id": listing_id, "offer_id": world.offer_id, "purpose": "more"})
    ok(client.post(f"{API}/licenses/{ok(late, 201)['id']}/checkout", headers=paying,
                   json={"method": "bank_transfer"}))
    with unit_of_work() as session:  # a partial refund, as licensing records it on the payment
        payment = session.exec(select(Payment).where(Payment.license_id == paid["id"])).one()
        payment.refunded_minor = 12_000
        session.add(payment)
    return world, {"paid": paid, "paying": paying, "free_offer": free}


def test_the_disclosure_lists_resources_prices_licences_by_scenario_and_net_revenue(client: TestClient) -> None:
    world, _ = _licensed_world(client)
    disclosure = ok(client.get(f"{API}/disclosures/{YEAR}"))  # public: no sign-in
    (resource,) = disclosure["resources"]
    assert resource["listing_id"] == world.listing["id"] and resource["registration_code"].startswith("SYDJ-")
    assert resource["provider"] == "统计局 Statistics Bureau" and resource["grade"] == "general"
    products = {p["scenario"]: p for p in resource["products"]}
    industry, welfare = products["industry"], products["public_welfare"]
    assert industry["price_minor"] == 50_000 and industry["licences_granted"] == 1
    assert industry["actual_min_price_minor"] == industry["actual_max_price_minor"] == 50_000
    assert industry["revenue"] == [{"currency": "CNY", "gross_minor": 50_000, "refunds_minor": 12_000,
                                    "net_minor": 38_000}]
    assert welfare["licences_granted"] == 1 and welfare["revenue"] == []
    scenarios = {s["scenario"]: s["licences_granted"] for s in disclosure["licences_by_scenario"]}
    assert scenarios == {"industry": 1, "public_welfare": 1}  # the unpaid one was never granted
    assert disclosure["revenue"] == [{"currency": "CNY", "gross_minor": 50_000, "refunds_minor": 12_000,
                                      "net_minor": 38_000}]
    last_year = ok(client.get(f"{API}/disclosures/{YEAR - 1}"))
    assert last_year["resources"] == [] and last_year["revenue"] == []
    assert client.get(f"{API}/disclosures/1899").status_code == 422


def test_the_disclosure_as_csv_has_a_line_per_product_and_a_total(client: TestClient) -> None:
    _licensed_world(client)
    response = client.get(f"{API}/disclosures/{YEAR}", params={"format": "csv"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
    products = [r for r in rows if r["section"] == "product"]
    assert sorted(r["scenario"] for r in products) == ["industry", "public_welfare"]
    industry = next(r for r in products if r["scenario"] == "industry")
    assert (industry["net_minor"], industry["licences_granted"], industry["title"]) == (
        "38000", "1", "人口收入统计 People and income")
    (total,) = [r for r in rows if r["registration_code"] == "TOTAL"]
    assert (total["currency"], total["gross_minor"], total["net_minor"]) == ("CNY", "50000", "38000")


def test_providers_see_usage_of_their_own_listings_but_never_what_was_asked(client: TestClient) -> None:
    world, made = _licensed_world(client)
    ok(client.post(f"{API}/queries", headers=made["paying"],
                   json={"license_id": made["paid"]["id"], "sql": SQL, "epsilon": 0.5}), 201)
    response = client.get(f"{API}/usage/listings", headers=world.provider)
    (usage,) = ok(response)["items"]
    assert usage["listing_id"] == world.listing["id"] and usage["licences"] == 3
    assert usage["licences_by_scenario"] == {"industry": 2, "public_welfare": 1}
    assert usage["queries_used"] == 1 and usage["epsilon_spent"] > 0
    assert usage["revenue"][0]["net_minor"] == 38_000
    assert "GROUP BY" not in response.text and "数据公司" not in response.text
    stranger = staff(client, "other@gov.test", Role.provider, "税务局")
    assert ok(client.get(f"{API}/usage/listings", headers=stranger))["items"] == []
    assert client.get(f"{API}/usage/listings", headers=made["paying"]).status_code == 403
    assert len(ok(client.get(f"{API}/usage/listings", headers=world.office))["items"]) == 1
