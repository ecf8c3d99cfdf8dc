"""Exact budgets and a bounded loss per dataset: integer arithmetic in the database, every cap, the odometer."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import polars as pl
import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from core.db import unit_of_work
from licensing.errors import BudgetExhausted
from licensing.models import EpsilonCap, License
from licensing.service import license_service
from tests.flow import PEOPLE_DICTIONARY, World, listing_body, ok, people
from tests.licensing.helpers import apply, pay_by_bank, publish

CODE_B = "91350100M0001020N7"


def _active(world: World, headers: dict[str, str], listing: dict[str, Any]) -> int:
    licence = apply(world.client, headers, listing)
    pay_by_bank(world, headers, licence["id"])
    return int(licence["id"])


def _try(license_id: int, epsilon: float, delta: float = 0.0) -> str:
    try:
        with unit_of_work() as session:
            license_service.reserve(session, license_id, epsilon, delta)
    except BudgetExhausted as exc:
        return str(exc.extra.get("cap"))
    return "charged"


def _licence(license_id: int) -> License:
    with unit_of_work() as session:
        licence = session.get(License, license_id)
        assert licence is not None
        return licence


def _global_row() -> EpsilonCap:
    with unit_of_work() as session:
        rows = session.exec(select(EpsilonCap).where(EpsilonCap.scope == "global")).all()
        assert len(rows) == 1
        return rows[0]


def test_sixty_concurrent_charges_of_a_tenth_spend_exactly_two_and_refuse_the_rest(client: TestClient) -> None:
    world = World(client)
    listing = publish(world, epsilon_budget=2.0)
    enterprise = world.enterprise()
    licence = _active(world, enterprise, listing)
    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(lambda _: _try(licence, 0.1), range(60)))
    assert outcomes.count("charged") == 20 and set(outcomes) == {"charged", "licence"}
    stored = _licence(licence)
    assert stored.epsilon_spent_micro == stored.epsilon_budget_micro == 2_000_000
    assert stored.epsilon_spent == 2.0 and stored.queries_used == 20  # exactly, not approximately
    assert _global_row().spent_micro == 2_000_000
    read = ok(client.get(f"/api/v1/licenses/{licence}", headers=enterprise))
    assert read["epsilon_spent"] == 2.0 and read["epsilon_remaining"] == 0.0


def test_an_offer_above_the_enterprise_cap_is_refused_when_the_listing_is_drafted(client: TestClient) -> None:
    world = World(client)
    body = listing_body(world.dataset["id"])
    body["offers"][0]["epsilon_budget"] = 50.0  # general data: the enterprise cap defaults to 40 / 4 = 10
    refused = client.post("/api/v1/listings", json=body, headers=world.provider)
    assert refused.status_code == 422 and refused.json()["type"] == "offer-above-cap"
    assert refused.json()["epsilon_cap"] == 10.0 and "ε" in refused.json()["detail_zh"]
    listing = world.listing
    refused = client.post(f"/api/v1/listings/{listing['id']}/offers", headers=world.provider, json={
        "name": "Huge", "scenario": "industry", "price_minor": 1, "term_days": 30, "epsilon_budget": 11.0,
        "query_quota": 10})
    assert refused.status_code == 422 and refused.json()["type"] == "offer-above-cap"


def test_an_enterprise_cap_above_the_global_cap_is_refused_at_review(client: TestClient) -> None:
    world = World(client)
    body = listing_body(world.dataset["id"])
    body["title"] = "Another"
    listing = ok(client.post("/api/v1/listings", json=body, headers=world.provider), 201)
    ok(client.post(f"/api/v1/listings/{listing['id']}/submit", headers=world.provider))
    refused = client.post(f"/api/v1/listings/{listing['id']}/review", headers=world.office, json={
        "decision": "approve", "grade": "general", "reason_code": "meets-standard",
        "dp_policy": {"global_epsilon_cap": 5.0, "enterprise_epsilon_cap": 8.0}})
    assert refused.status_code == 422 and refused.json()["type"] == "invalid-dp-policy"
    assert refused.json()["detail_zh"]


@pytest.mark.parametrize(("grade", "total", "enterprise"), [("general", 40.0, 10.0), ("important", 12.0, 3.0)])
def test_every_listing_has_a_finite_global_cap_by_grade_and_shows_what_is_left(
    client: TestClient, grade: str, total: float, enterprise: float,
) -> None:
    world = World(client, grade=grade)
    entry = ok(client.get(f"/api/v1/catalog/{world.listing['id']}"))
    assert entry["dp_policy"]["global_epsilon_cap"] == total
    assert entry["dp_policy"]["enterprise_epsilon_cap"] == enterprise < total
    assert entry["dataset_epsilon_remaining"] == total
    enterprise = world.enterprise()
    licence = world.active_licence(enterprise)
    ok(client.post("/api/v1/queries", headers=enterprise, json={
        "license_id": licence["id"], "sql": "SELECT COUNT(*) AS n FROM people", "epsilon": 0.3}), 201)
    assert ok(client.get(f"/api/v1/catalog/{world.listing['id']}"))["dataset_epsilon_remaining"] == total - 0.3


def test_a_raised_grade_lowers_the_default_caps_at_once(client: TestClient) -> None:
    world = World(client)
    ok(client.post(f"/api/v1/listings/{world.listing['id']}/grade", headers=world.office, json={
        "grade": "important", "reason_code": "reassessment"}))
    policy = ok(client.get(f"/api/v1/catalog/{world.listing['id']}"))["dp_policy"]
    assert (policy["global_epsilon_cap"], policy["enterprise_epsilon_cap"]) == (12.0, 3.0)


def _delta_world(client: TestClient) -> tuple[World, dict[str, Any], dict[str, str], dict[str, str]]:
    # A public row bound near the data's size keeps 1/n above the δ caps these tests set.
    world = World(client, dictionary={**PEOPLE_DICTIONARY, "row_bound": 5_000})
    listing = publish(world, dp_policy={"unknown_keys_delta": 1e-7, "delta_budget": 3e-7,
                                        "enterprise_delta_cap": 4e-7, "global_delta_cap": 5e-7})
    one, two = world.enterprise(), world.enterprise("第二公司 Second Co", CODE_B, "second@co.test")
    return world, listing, one, two


def test_delta_is_capped_per_licence_per_enterprise_and_per_dataset(client: TestClient) -> None:
    world, listing, one, two = _delta_world(client)
    a1, a2 = _active(world, one, listing), _active(world, one, listing)
    b = _active(world, two, listing)
    assert [_try(a1, 0.01, 1e-7) for _ in range(4)] == ["charged"] * 3 + ["delta"]
    assert [_try(a2, 0.01, 1e-7) for _ in range(2)] == ["charged", "enterprise-delta"]
    assert [_try(b, 0.01, 1e-7) for _ in range(2)] == ["charged", "global-delta"]
    assert _global_row().delta_spent_atto == 5 * 10**11  # 5 × 1e-7 in atto-units, exactly
    assert _licence(a1).delta_spent_atto == 3 * 10**11 and _licence(a2).epsilon_spent_micro == 10_000


def test_spent_budget_closes_ordering_refuses_queries_and_shows_on_the_odometer(client: TestClient) -> None:
    world = World(client)
    listing = publish(world, dp_policy={"global_epsilon_cap": 1.0, "enterprise_epsilon_cap": 1.0},
                      epsilon_budget=1.0)
    one = world.enterprise()
    two = world.enterprise("第二公司 Second Co", CODE_B, "second@co.test")
    a, b = _active(world, one, listing), _active(world, two, listing)
    for licence, epsilon in ((a, 0.6), (b, 0.4)):
        ok(client.post("/api/v1/queries", headers=one if licence == a else two, json={
            "license_id": licence, "sql": f"SELECT COUNT(*) AS n{licence} FROM people", "epsilon": epsilon}), 201)
    refused = client.post("/api/v1/queries", headers=two, json={
        "license_id": b, "sql": "SELECT COUNT(*) AS late FROM people", "epsilon": 0.1})
    assert refused.status_code == 409 and refused.json()["type"] == "budget-exhausted"
    assert "budget is spent" in refused.json()["detail"] and "已用尽" in refused.json()["detail_zh"]
    closed = client.post("/api/v1/licenses", headers=two, json={
        "listing_id": listing["id"], "offer_id": listing["offers"][0]["id"], "purpose": "more"})
    assert closed.status_code == 409 and "停止订购" in closed.json()["detail_zh"]
    assert ok(client.get(f"/api/v1/catalog/{listing['id']}"))["dataset_epsilon_remaining"] == 0.0
    odometer = ok(client.get(f"/api/v1/listings/{listing['id']}/budget", headers=world.office))
    assert (odometer["epsilon_spent"], odometer["epsilon_remaining"], odometer["exhausted"]) == (1.0, 0.0, True)
    assert [(u["organization"], u["epsilon_spent"]) for u in odometer["by_enterprise"]] == [
        ("数据公司 Data Co", 0.6), ("第二公司 Second Co", 0.4)]
    assert client.get(f"/api/v1/listings/{listing['id']}/budget", headers=one).status_code == 403


def _upload(world: World, frame: pl.DataFrame) -> dict[str, Any]:
    buffer = io.BytesIO()
    frame.write_csv(buffer)
    return dict(ok(world.client.post("/api/v1/datasets", headers=world.provider, data={"name": "people"},
                                     files={"file": ("people.csv", buffer.getvalue(), "text/csv")}), 201))


def test_a_new_version_gets_a_fresh_budget_only_when_its_data_changed(client: TestClient) -> None:
    world = World(client)
    listing_id = world.listing["id"]
    licence = world.active_licence(world.enterprise())
    assert _try(licence["id"], 0.5) == "charged"
    same = _upload(world, world.frame)
    assert listing_id in same["listings_moved"]
    assert ok(client.get(f"/api/v1/catalog/{listing_id}"))["dataset_epsilon_remaining"] == 39.5
    changed = _upload(world, people(seed=2))
    assert listing_id in changed["listings_moved"]
    assert ok(client.get(f"/api/v1/catalog/{listing_id}"))["dataset_epsilon_remaining"] == 40.0


def test_pages_show_the_odometer_to_the_data_office_and_a_spent_budget_to_the_public(client: TestClient) -> None:
    from tests.web.test_pages import browser_sign_in

    world = World(client)
    listing = publish(world, dp_policy={"global_epsilon_cap": 0.5, "enterprise_epsilon_cap": 0.5},
                      epsilon_budget=0.5)
    licence = _active(world, world.enterprise(), listing)
    assert _try(licence, 0.5) == "charged"
    public = client.get(f"/listings/{listing['id']}", headers={"Accept-Language": "zh-CN"}).text
    assert 'id="budget-spent"' in public and "已停止订购" in public and 'id="apply-button"' not in public
    browser_sign_in(client, "office@gov.test")
    office = client.get(f"/office/listings/{listing['id']}", headers={"Accept-Language": "en"}).text
    assert 'id="odometer"' in office and "ε spent 0.5 of 0.5, 0 left" in office
    assert "数据公司 Data Co" in office and "ordering is closed" in office


def test_the_data_office_sets_the_datasets_total_on_the_review_page(client: TestClient) -> None:
    from tests.web.test_pages import browser_sign_in, csrf_of

    world = World(client)
    body = listing_body(world.dataset["id"])
    body["title"] = "Reviewed on the page"
    listing = ok(client.post("/api/v1/listings", json=body, headers=world.provider), 201)
    ok(client.post(f"/api/v1/listings/{listing['id']}/submit", headers=world.provider))
    browser_sign_in(client, "office@gov.test")
    page = client.get(f"/office/listings/{listing['id']}").text
    decided = client.post(f"/office/listings/{listing['id']}/review", follow_redirects=False, data={
        "csrf": csrf_of(page), "decision": "approve", "grade": "general", "reason_code": "meets-standard",
        "global_epsilon_cap": "60"})
    assert decided.status_code == 303, decided.text
    policy = ok(client.get(f"/api/v1/catalog/{listing['id']}"))["dp_policy"]
    assert (policy["global_epsilon_cap"], policy["enterprise_epsilon_cap"]) == (60.0, 15.0)
