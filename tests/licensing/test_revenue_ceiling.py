"""The operator's approved revenue ceiling (最高准许收入): revenue is tracked against it from the ledger's
payments, and what a year takes above what it was allowed is deducted from the next year's ceiling."""

from __future__ import annotations

from datetime import datetime

from fastapi.testclient import TestClient

from licensing.disclosure import CST
from tests.flow import World, ok
from tests.web.test_pages import browser_sign_in, csrf_of

API = "/api/v1"
YEAR = datetime.now(CST).year


def test_revenue_above_the_ceiling_is_deducted_from_the_next_year(client: TestClient) -> None:
    world = World(client)
    licence = world.active_licence(world.enterprise())
    paid = licence["price_minor"]
    ok(client.post(f"{API}/revenue-ceilings", headers=world.office, json={
        "year": YEAR, "ceiling_minor": paid - 20_000, "basis": "批复 2026-1 号"}), 201)
    report = ok(client.post(f"{API}/revenue-ceilings", headers=world.office, json={
        "year": YEAR + 1, "ceiling_minor": 100_000, "basis": "批复 2027-1 号"}), 201)
    this, following = report["years"]
    assert (this["revenue_minor"], this["allowed_minor"], this["excess_minor"]) == (paid, paid - 20_000, 20_000)
    assert (following["deduction_minor"], following["allowed_minor"]) == (20_000, 80_000)
    assert following["revenue_minor"] == 0 and following["excess_minor"] == 0

    ok(client.post(f"{API}/revenue-ceilings", headers=world.office, json={
        "year": YEAR, "ceiling_minor": paid + 1, "basis": "调整批复 2026-2 号"}), 201)  # the latest setting wins
    again = ok(client.get(f"{API}/reports/revenue-ceiling", params={"year": YEAR + 1}, headers=world.finance))
    assert again["years"][0]["excess_minor"] == 0 and again["years"][1]["deduction_minor"] == 0
    assert again["years"][0]["basis"] == "调整批复 2026-2 号"


def test_only_the_data_office_sets_the_ceiling_and_enterprises_do_not_see_it(client: TestClient) -> None:
    world = World(client)
    enterprise = world.enterprise()
    body = {"year": YEAR, "ceiling_minor": 1_000_000, "basis": "批复"}
    assert client.post(f"{API}/revenue-ceilings", headers=world.finance, json=body).status_code == 403
    assert client.get(f"{API}/reports/revenue-ceiling", headers=enterprise).status_code == 403
    assert ok(client.get(f"{API}/reports/revenue-ceiling", headers=world.finance))["years"] == []


def test_the_ceiling_page_shows_revenue_against_it(client: TestClient) -> None:
    world = World(client)
    world.active_licence(world.enterprise())
    browser_sign_in(client, "office@gov.test")
    page = client.get("/ceiling", headers={"accept-language": "zh-CN"})
    assert "尚未核定最高准许收入" in page.text
    done = client.post("/ceiling", follow_redirects=False, data={
        "year": str(YEAR), "ceiling": "100,000.00", "basis": "市发改委批复", "csrf": csrf_of(page.text)})
    assert done.status_code == 303
    shown = client.get("/ceiling", headers={"accept-language": "zh-CN"})
    assert "¥100,000.00" in shown.text and "<svg" in shown.text and "市发改委批复" in shown.text
