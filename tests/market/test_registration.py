"""Registration records (登记): a public code at first publication, then every change, correction and the
cancellation appended as events anyone can read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import col

from core.config import get_settings
from core.db import unit_of_work
from market.models import Registration
from tests.flow import World, ok
from tests.market.steps import API, transition


def test_a_published_product_gets_a_public_registration_record(client: TestClient) -> None:
    world = World(client)
    code = world.listing["registration_code"]
    assert code == f"SYDJ-{datetime.now(UTC).year}-{world.listing['id']:06d}"
    record = ok(client.get(f"{API}/registrations/{code}"))  # no sign-in needed
    assert record["status"] == "notice" and record["listing_id"] == world.listing["id"]  # public notice first
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


def _end_notice(code: str) -> None:
    with unit_of_work() as session:
        session.execute(update(Registration).where(col(Registration.code) == code)
                        .values(notice_ends_at=datetime.now(UTC) - timedelta(minutes=1)))


def test_a_registration_is_registered_once_its_notice_ends_with_no_objection_open(client: TestClient) -> None:
    world = World(client)
    code = world.listing["registration_code"]
    record = ok(client.get(f"{API}/registrations/{code}"))
    notice = datetime.fromisoformat(record["notice_ends_at"]) - datetime.fromisoformat(record["registered_at"])
    days = round(notice.total_seconds() / 86400)
    assert record["status"] == "notice" and days == get_settings().registration_notice_days
    objection = ok(client.post(f"{API}/complaints", json={"registration_code": code,
                                                            "text": "该产品的数据来源登记有误，请核实。"}), 201)
    _end_notice(code)
    record = ok(client.get(f"{API}/registrations/{code}"))
    assert record["status"] == "notice" and record["open_objections"] == 1  # an open objection holds it
    ok(client.post(f"{API}/complaints/{objection['id']}/handle", headers=world.office, json={
        "decision": "dismissed", "reason_code": "complaint-unfounded", "reply": "来源登记无误。"}))
    assert ok(client.get(f"{API}/registrations/{code}"))["status"] == "active"


def test_the_registrations_export_in_the_documented_format(client: TestClient) -> None:
    world = World(client)
    ok(client.post(f"{API}/listings/{world.listing['id']}/grade", headers=world.office,
                   json={"grade": "important", "reason_code": "regulation-change"}))
    export = ok(client.get(f"{API}/registrations/export.json"))
    assert export["format"] == "shuyu-registrations/1"
    [record] = export["registrations"]
    assert record["code"] == world.listing["registration_code"]
    assert [e["kind"] for e in record["events"]] == ["initial", "change"]  # changes count during the notice too
    doc = (Path(__file__).resolve().parents[2] / "docs" / "data-office.md").read_text()
    assert "shuyu-registrations/1" in doc and all(f"`{field}`" in doc for field in record)
