"""Grading and review rules: core never publishes, important needs two different approvers, no self-review."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from core.auth import Role
from tests.flow import PEOPLE_DICTIONARY, listing_body, ok, people, security_review, staff, upload_csv


def _draft(client: TestClient, grade: str = "general") -> tuple[dict[str, str], int]:
    provider = staff(client, "p@gov.test", Role.provider, "统计局")
    dataset = upload_csv(client, provider, "people", people(200))
    ok(client.put(f"/api/v1/datasets/{dataset['id']}/dictionary", json=PEOPLE_DICTIONARY, headers=provider))
    listing = ok(client.post("/api/v1/listings", json=listing_body(dataset["id"], grade), headers=provider), 201)
    ok(client.post(f"/api/v1/listings/{listing['id']}/submit", headers=provider))
    return provider, listing["id"]


def _review(client: TestClient, who: dict[str, str], listing_id: int, grade: str, decision: str = "approve") -> Any:
    return client.post(f"/api/v1/listings/{listing_id}/review", headers=who,
                       json={"decision": decision, "grade": grade, "reason_code": "meets-standard"})


def test_core_grade_can_never_be_published(client: TestClient) -> None:
    provider = staff(client, "p@gov.test", Role.provider, "统计局")
    dataset = upload_csv(client, provider, "people", people(200))
    refused = client.post("/api/v1/listings", json=listing_body(dataset["id"], "core"), headers=provider)
    assert refused.status_code == 409 and refused.json()["type"] == "core-grade-not-publishable"
    office = staff(client, "o@gov.test", Role.data_office)
    ok(client.put(f"/api/v1/datasets/{dataset['id']}/dictionary", json=PEOPLE_DICTIONARY, headers=provider))
    listing = ok(client.post("/api/v1/listings", json=listing_body(dataset["id"]), headers=provider), 201)
    ok(client.post(f"/api/v1/listings/{listing['id']}/submit", headers=provider))
    regraded = _review(client, office, listing["id"], "core")
    assert regraded.status_code == 409 and regraded.json()["type"] == "core-grade-not-publishable"
    assert ok(client.get("/api/v1/catalog"))["total"] == 0


def test_important_data_needs_two_different_approvers(client: TestClient) -> None:
    _, listing_id = _draft(client, "important")
    first, second = staff(client, "o1@gov.test", Role.data_office), staff(client, "o2@gov.test", Role.data_office)
    assert ok(_review(client, first, listing_id, "important"))["status"] == "submitted"
    twice = _review(client, first, listing_id, "important")
    assert twice.status_code == 409 and twice.json()["type"] == "self-review"
    unreviewed = _review(client, second, listing_id, "important")
    assert unreviewed.status_code == 409 and unreviewed.json()["type"] == "security-review-required"
    security_review(client, first, listing_id, "fail")
    failed = _review(client, second, listing_id, "important")
    assert failed.status_code == 409 and "failed" in failed.json()["detail"]
    security_review(client, first, listing_id)
    published = ok(_review(client, second, listing_id, "important"))
    assert published["status"] == "published" and published["grade"] == "important"
    assert published["dp_policy"]["max_epsilon_per_query"] <= 0.5 and published["dp_policy"]["min_group_size"] >= 10


def test_only_the_data_office_reviews_and_drafts_stay_private(client: TestClient) -> None:
    provider, listing_id = _draft(client)
    assert _review(client, provider, listing_id, "general").status_code == 403
    assert client.get(f"/api/v1/catalog/{listing_id}").status_code == 404


def test_a_dictionary_must_fit_the_data(client: TestClient) -> None:
    provider = staff(client, "p@gov.test", Role.provider, "统计局")
    dataset = upload_csv(client, provider, "people", people(50))
    for columns, words in (
        ([{"name": "nope", "role": "dimension"}], "no column 'nope'"),
        ([{"name": "region", "role": "measure", "bounds": [0, 1]}], "must be numeric"),
        ([{"name": "income", "role": "measure"}], "needs finite bounds"),
    ):
        response = client.put(f"/api/v1/datasets/{dataset['id']}/dictionary", headers=provider,
                              json={"columns": columns})
        assert response.status_code == 422 and words in response.json()["detail"], response.text


def test_malformed_uploads_are_refused_with_the_reason(client: TestClient) -> None:
    provider = staff(client, "p@gov.test", Role.provider, "统计局")
    for content, words in ((b"", "empty"), (b"a,b\n1,2\n3,4,5\n", "Line 3 has 3 fields")):
        response = client.post("/api/v1/datasets", headers=provider, data={"name": "bad"},
                               files={"file": ("bad.csv", content, "text/csv")})
        assert response.status_code == 422 and words in response.json()["detail"], response.text


def test_gbk_csv_keeps_its_chinese_text(client: TestClient) -> None:
    provider = staff(client, "p@gov.test", Role.provider, "统计局")
    content = "区县,人数\n鼓楼区,3\n台江区,4\n".encode("gbk")
    dataset = ok(client.post("/api/v1/datasets", headers=provider, data={"name": "districts"},
                             files={"file": ("d.csv", content, "text/csv")}), 201)
    assert [c["name"] for c in dataset["columns"]] == ["区县", "人数"]
