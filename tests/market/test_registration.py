"""Registration records (登记): a public code at first publication, then every change, correction and the
cancellation appended as events anyone can read."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from tests.flow import World, ok
from tests.market.steps import API, transition


def test_a_published_product_gets_a_public_registration_record(client: TestClient) -> None:
    world = World(client)
    code = world.listing["registration_code"]
    assert code == f"SYDJ-{datetime.now(UTC).year}-{world.listing['id']:06d}"
    record = ok(client.get(f"{API}/registrations/{code}"))  # no sign-in needed
    assert record["status"] == "active" and record["listing_id"] == world.listing["id"]
    initial = record["events"][0]
    assert initial["kind"] == "initial" and initial["reason_code"] == "meets-standard"
    assert initial["summary"]["grade"] == "general" and initial["summary"]["provider"] == "统计局 Statistics Bureau"
    assert ok(client.get(f"{API}/registrations", params={"listing_id": world.listing["id"]}))["total"] == 1
    assert client.get(f"{API}/registrations/SYDJ-1999-000000").status_code == 404


def test_changes_corrections_and_cancellation_are_appended_in_order(client: TestClient) -> None:
    world = World(client)
    code, listing_id = world.listing["registration_code"], world.listing["id"]
    ok(client.post(f"{API}/listings/{listing_id}/grade", headers=world.office,
                   json={"grade": "important", "reason_code": "regulation-change"}))
    corrected = ok(client.post(f"{API}/registrations/{code}/corrections", headers=world.office, json={
        "title": "人口与收入统计 People and income", "note": "标题笔误更正 typo in the registered title"}))
    assert corrected["title"] == "人口与收入统计 People and income"
    ok(transition(client, world.office, listing_id, "retire", "superseded"))
    record = ok(client.get(f"{API}/registrations/{code}"))
    assert [e["kind"] for e in record["events"]] == ["initial", "change", "correction", "cancellation"]
    correction = record["events"][2]
    assert correction["note"].startswith("标题笔误更正")
    assert correction["summary"]["title"]["from"] == "人口收入统计 People and income"
    assert record["status"] == "cancelled" and record["listing_status"] == "retired"


def test_only_the_data_office_corrects_a_registration_and_the_catalog_follows(client: TestClient) -> None:
    world = World(client)
    code, listing_id = world.listing["registration_code"], world.listing["id"]
    body = {"description": "Synthetic people by region 按区域的合成人口", "note": "描述更正"}
    assert client.post(f"{API}/registrations/{code}/corrections", headers=world.provider, json=body).status_code \
        == 403
    ok(client.post(f"{API}/registrations/{code}/corrections", headers=world.office, json=body))
    found = ok(client.get(f"{API}/catalog", params={"q": "按区域"}))
    assert [item["id"] for item in found["items"]] == [listing_id]
    same = client.post(f"{API}/registrations/{code}/corrections", headers=world.office, json=body)
    assert same.status_code == 422
