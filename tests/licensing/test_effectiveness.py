"""The effectiveness evaluation (效能评估): figures by month from the platform's own records, ratings after use,
operating costs recorded by finance; the public sees the year's totals, the data office each month."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.auth import Role
from licensing.disclosure import CST
from tests.flow import World, ok, staff
from tests.web.test_pages import browser_sign_in, csrf_of

API = "/api/v1"
THIS_MONTH = datetime.now(CST).strftime("%Y-%m")
YEAR = THIS_MONTH[:4]


@pytest.fixture
def used(client: TestClient) -> dict[str, Any]:
    """A published listing, an enterprise with a paid licence that ran one query and had one refused."""
    world = World(client)
    enterprise = world.enterprise()
    licence = world.active_licence(enterprise)
    query = {"license_id": licence["id"], "sql": "SELECT COUNT(*) AS n FROM people", "epsilon": 0.1}
    ok(client.post(f"{API}/queries", json=query, headers=enterprise), 201)
    refused = client.post(f"{API}/queries", json={**query, "sql": "SELECT * FROM people"}, headers=enterprise)
    assert refused.status_code == 422
    return {"world": world, "enterprise": enterprise, "licence": licence}


def test_the_year_counts_what_happened_and_the_public_sees_only_totals(client: TestClient,
                                                                       used: dict[str, Any]) -> None:
    world, licence = used["world"], used["licence"]
    ok(client.post(f"{API}/licenses/{licence['id']}/rating", headers=used["enterprise"],
                   json={"score": 4, "comment": "好用"}), 201)
    ok(client.post(f"{API}/costs", headers=world.finance, json={
        "month": THIS_MONTH, "category": "云资源", "amount_minor": 30_000, "note": "服务器"}), 201)
    ok(client.post(f"{API}/costs", headers=world.finance, json={
        "month": THIS_MONTH, "category": "云资源", "amount_minor": -5_000, "note": "更正"}), 201)
    ok(client.post(f"{API}/complaints", json={"listing_id": world.listing["id"], "text": "描述与字段不一致，请核查。"}),
       201)

    public = ok(client.get(f"{API}/metrics/effectiveness/{YEAR}"))
    summary = public["summary"]
    assert public["months"] == []
    assert (summary["listings_published"], summary["licences_granted"], summary["enterprises_served"]) == (1, 1, 1)
    assert (summary["queries_released"], summary["queries_refused"], summary["query_success_rate"]) == (1, 1, 1.0)
    assert summary["revenue_minor"] == licence["price_minor"] > 0
    assert summary["costs_minor"] == 25_000
    assert (summary["ratings"], summary["rating_mean"], summary["complaints_received"]) == (1, 4.0, 1)
    assert summary["review_days_median"] is not None and summary["review_days_median"] >= 0

    office = ok(client.get(f"{API}/metrics/effectiveness/{YEAR}", headers=world.office))
    assert len(office["months"]) == 12
    month = next(m for m in office["months"] if m["period"] == THIS_MONTH)
    assert month["queries_released"] == 1 and month["costs_minor"] == 25_000
    assert sum(m["licences_granted"] for m in office["months"]) == 1
    csv_text = client.get(f"{API}/metrics/effectiveness/{YEAR}?format=csv", headers=world.office).text
    assert csv_text.startswith("\ufeffperiod,") and f"\n{THIS_MONTH}," in csv_text.replace("\r\n", "\n")


def test_a_product_is_rated_once_after_use_by_its_licensee(client: TestClient, used: dict[str, Any]) -> None:
    world, licence = used["world"], used["licence"]
    other = world.enterprise("另一公司 Other Co", "91110000600037341L", "other@data.test")
    assert client.post(f"{API}/licenses/{licence['id']}/rating", headers=other,
                       json={"score": 1}).status_code == 404
    fresh = world.active_licence(other)
    unused = client.post(f"{API}/licenses/{fresh['id']}/rating", headers=other, json={"score": 5})
    assert unused.status_code == 409 and unused.json()["detail_zh"]
    ok(client.post(f"{API}/licenses/{licence['id']}/rating", headers=used["enterprise"], json={"score": 5}), 201)
    again = client.post(f"{API}/licenses/{licence['id']}/rating", headers=used["enterprise"], json={"score": 1})
    assert again.status_code == 409
    assert client.post(f"{API}/licenses/{licence['id']}/rating", headers=used["enterprise"],
                       json={"score": 6}).status_code == 422


def test_only_finance_records_costs_and_months_are_checked(client: TestClient) -> None:
    finance = staff(client, "f@gov.test", Role.finance)
    office = staff(client, "o@gov.test", Role.data_office)
    cost = {"month": THIS_MONTH, "category": "人员", "amount_minor": 100}
    assert client.post(f"{API}/costs", headers=office, json=cost).status_code == 403
    assert client.post(f"{API}/costs", headers=finance, json={**cost, "month": "2026-13"}).status_code == 422
    ok(client.post(f"{API}/costs", headers=finance, json=cost), 201)
    assert ok(client.get(f"{API}/costs", headers=finance))["total"] == 1



def test_the_pages_show_the_evaluation_and_take_costs_and_ratings(client: TestClient, used: dict[str, Any]) -> None:
    zh = {"accept-language": "zh-CN"}
    public = client.get(f"/metrics?year={YEAR}", headers=zh)
    assert public.status_code == 200 and "效能评估" in public.text and 'id="effectiveness-months"' not in public.text

    browser_sign_in(client, "finance@gov.test")
    form = client.get("/finance/costs", headers=zh)
    assert "运营成本" in form.text
    bad = client.post("/finance/costs", headers=zh, data={"month": THIS_MONTH, "category": "人员", "amount": "abc",
                                                          "csrf": csrf_of(form.text)})
    assert bad.status_code == 422 and "人员" in bad.text  # what was typed stays
    done = client.post("/finance/costs", follow_redirects=False, data={
        "month": THIS_MONTH, "category": "人员", "amount": "1,200.50", "csrf": csrf_of(form.text)})
    assert done.status_code == 303
    assert "¥1,200.50" in client.get(done.headers["location"]).text
    detailed = client.get(f"/metrics?year={YEAR}", headers=zh)
    assert 'id="effectiveness-months"' in detailed.text and "<svg" in detailed.text

    client.cookies.clear()
    browser_sign_in(client, "analyst@data.test")
    licence_id = used["licence"]["id"]
    page = client.get(f"/enterprise/licences/{licence_id}", headers=zh)
    assert f'hx-get="/enterprise/licences/{licence_id}/rating"' in page.text
    panel = client.get(f"/enterprise/licences/{licence_id}/rating", headers=zh)
    assert "评价该数据产品" in panel.text
    rated = client.post(f"/enterprise/licences/{licence_id}/rating", follow_redirects=False,
                        data={"score": "5", "csrf": csrf_of(page.text)})
    assert rated.status_code == 303
    assert "5 / 5" in client.get(f"/enterprise/licences/{licence_id}/rating", headers=zh).text
