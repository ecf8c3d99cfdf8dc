"""Providers edit a draft or a listing sent back for changes; the reviewer sees what changed since the last review."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from core.auth import Role
from tests.flow import PEOPLE_DICTIONARY, listing_body, ok, people, staff, upload_csv

API = "/api/v1"


def _draft(client: TestClient) -> tuple[dict[str, str], dict[str, str], dict[str, Any]]:
    provider = staff(client, "provider@gov.test", Role.provider, "统计局 Statistics Bureau")
    office = staff(client, "office@gov.test", Role.data_office)
    dataset = upload_csv(client, provider, "people", people(400))
    ok(client.put(f"{API}/datasets/{dataset['id']}/dictionary", json=PEOPLE_DICTIONARY, headers=provider))
    listing = ok(client.post(f"{API}/listings", json=listing_body(dataset["id"]), headers=provider), 201)
    return provider, office, listing


def test_a_provider_edits_a_draft_and_only_the_fields_sent_change(client: TestClient) -> None:
    provider, _, listing = _draft(client)
    edited = ok(client.patch(f"{API}/listings/{listing['id']}", headers=provider, json={
        "title": "各区人口收入", "update_cycle": "monthly", "dp_policy": {"default_epsilon": 0.25}}))
    assert (edited["title"], edited["update_cycle"], edited["description"]) == (
        "各区人口收入", "monthly", listing["description"])
    assert edited["dp_policy"]["default_epsilon"] == 0.25 and edited["dp_policy"]["max_epsilon_per_query"] == 1.0


def test_an_edit_with_a_default_epsilon_above_the_cap_is_refused_not_lowered(client: TestClient) -> None:
    provider, _, listing = _draft(client)
    refused = client.patch(f"{API}/listings/{listing['id']}", headers=provider,
                           json={"dp_policy": {"default_epsilon": 2}})
    assert refused.status_code == 422 and "默认 ε（2" in refused.json()["detail_zh"]
    created = client.post(f"{API}/listings", headers=provider, json={
        **listing_body(listing["dataset_id"]), "dp_policy": {"max_epsilon_per_query": 1, "default_epsilon": 2}})
    assert created.status_code == 422
    assert ok(client.get(f"{API}/listings/{listing['id']}", headers=provider))["dp_policy"]["default_epsilon"] == 0.5


def test_a_listing_sent_back_is_edited_resubmitted_and_the_reviewer_sees_the_changes(client: TestClient) -> None:
    provider, office, listing = _draft(client)
    ok(client.post(f"{API}/listings/{listing['id']}/submit", headers=provider))
    assert client.patch(f"{API}/listings/{listing['id']}", headers=provider,
                        json={"title": "x"}).status_code == 409  # under review: frozen
    ok(client.post(f"{API}/listings/{listing['id']}/review", headers=office, json={
        "decision": "request_changes", "reason_code": "price-above-ceiling", "comment": "价格请降到 300 元以内"}))
    offer = {**listing["offers"][0], "price_minor": 30_000}
    offer.pop("id"), offer.pop("active")
    ok(client.patch(f"{API}/listings/{listing['id']}", headers=provider,
                    json={"offers": [offer], "description": "按区域汇总的人口收入"}))
    assert ok(client.post(f"{API}/listings/{listing['id']}/submit", headers=provider))["status"] == "submitted"
    seen = ok(client.get(f"{API}/listings/{listing['id']}", headers=office))
    changes = {c["field"]: (c["before"], c["after"]) for c in seen["field_changes"]}
    assert set(changes) == {"description", "offers.1"}
    assert changes["offers.1"][0]["price_minor"] == 50_000 and changes["offers.1"][1]["price_minor"] == 30_000
    assert seen["reviews"][-1]["comment"] == "价格请降到 300 元以内"


def test_a_published_listing_cannot_be_edited_this_way(client: TestClient) -> None:
    provider, office, listing = _draft(client)
    ok(client.post(f"{API}/listings/{listing['id']}/submit", headers=provider))
    ok(client.post(f"{API}/listings/{listing['id']}/review", headers=office,
                   json={"decision": "approve", "grade": "general", "reason_code": "meets-standard"}))
    refused = client.patch(f"{API}/listings/{listing['id']}", headers=provider, json={"title": "new"})
    assert refused.status_code == 409 and refused.json()["detail_zh"].startswith("只有草稿")
    other = staff(client, "other@gov.test", Role.provider, "交通局")
    assert client.patch(f"{API}/listings/{listing['id']}", headers=other, json={"title": "x"}).status_code == 404
