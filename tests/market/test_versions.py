"""Dataset versions: a listing follows a new upload at once when nothing public changes, and only through
review when the dictionary does; until then the catalog and the sandbox keep the approved one."""

from __future__ import annotations

import polars as pl
from fastapi.testclient import TestClient

from core.auth import Role
from core.db import unit_of_work
from market.service import listings
from tests.flow import World, ok, people, security_review, staff, upload_csv
from tests.market.steps import API, dictionary_with, review


def test_a_new_version_with_an_unchanged_dictionary_moves_live_listings_at_once(client: TestClient) -> None:
    world = World(client)
    second = upload_csv(client, world.provider, "people", people(500, seed=7))
    assert second["version"] == 2 and second["listings_moved"] == [world.listing["id"]]
    entry = ok(client.get(f"{API}/catalog/{world.listing['id']}"))
    assert entry["dataset_version"] == 2
    with unit_of_work() as session:
        assert listings.query_target(session, world.listing["id"]).dataset_sha256 == second["sha256"]
    history = ok(client.get(f"{API}/listings/{world.listing['id']}", headers=world.provider))["history"]
    assert history[-1]["action"] == "move_version" and history[-1]["reason_code"] == "new-version"


def test_a_changed_dictionary_reaches_the_listing_only_through_review(client: TestClient) -> None:
    world = World(client)
    listing_id, dataset_id = world.listing["id"], world.dataset["id"]
    changed = dictionary_with(region={"keys": ["north", "south", "east", "west", "centre"]},
                              age={"description": "age at the end of the year"})
    ok(client.put(f"{API}/datasets/{dataset_id}/dictionary", headers=world.provider, json=changed))
    before = ok(client.get(f"{API}/catalog/{listing_id}"))["dictionary"]
    assert "centre" not in next(c for c in before["columns"] if c["name"] == "region")["keys"]

    submitted = ok(client.post(f"{API}/listings/{listing_id}/submit", headers=world.provider))
    assert submitted["status"] == "published" and submitted["revision"]["status"] == "submitted"
    detail = ok(client.get(f"{API}/listings/{listing_id}", headers=world.office))
    assert any("keys added ['centre']" in change for change in detail["changes"])
    with unit_of_work() as session:  # licensees keep the approved dictionary while the revision waits
        keys = next(c for c in listings.query_target(session, listing_id).dictionary["columns"]
                    if c["name"] == "region")["keys"]
    assert "centre" not in keys

    assert review(client, world.provider, listing_id).status_code == 403
    approved = ok(review(client, world.office, listing_id, reason_code="meets-standard"))
    assert approved["revision"] is None
    after = ok(client.get(f"{API}/catalog/{listing_id}"))["dictionary"]
    assert "centre" in next(c for c in after["columns"] if c["name"] == "region")["keys"]


def test_a_revision_of_important_data_needs_two_different_approvers(client: TestClient) -> None:
    world = World(client, grade="important")
    listing_id = world.listing["id"]
    ok(client.put(f"{API}/datasets/{world.dataset['id']}/dictionary", headers=world.provider,
                  json=dictionary_with(income={"bounds": [0, 50_000]})))
    ok(client.post(f"{API}/listings/{listing_id}/submit", headers=world.provider))
    first = ok(review(client, world.office, listing_id, reason_code="meets-standard"))
    assert first["revision"]["status"] == "submitted"
    twice = review(client, world.office, listing_id, reason_code="meets-standard")
    assert twice.status_code == 409 and twice.json()["type"] == "self-review"
    assert ok(review(client, world.office2, listing_id, reason_code="meets-standard"))["revision"] is None


def test_a_rejected_revision_leaves_the_listing_as_it_was(client: TestClient) -> None:
    world = World(client)
    listing_id = world.listing["id"]
    ok(client.put(f"{API}/datasets/{world.dataset['id']}/dictionary", headers=world.provider,
                  json=dictionary_with(person_id={"role": "dimension"})))
    ok(client.post(f"{API}/listings/{listing_id}/submit", headers=world.provider))
    rejected = ok(review(client, world.office, listing_id, "reject", reason_code="personal-information"))
    assert rejected["status"] == "published" and rejected["revision"] is None
    entry = ok(client.get(f"{API}/catalog/{listing_id}"))
    assert next(c for c in entry["dictionary"]["columns"] if c["name"] == "person_id")["role"] == "identifier"


def test_a_version_with_new_columns_waits_for_review(client: TestClient) -> None:
    world = World(client)
    wider = people(300, seed=3).with_columns(pl.lit(1).alias("household_size"))
    uploaded = upload_csv(client, world.provider, "people", wider)
    assert uploaded["listings_moved"] == []
    assert ok(client.get(f"{API}/catalog/{world.listing['id']}"))["dataset_version"] == 1
    submitted = ok(client.post(f"{API}/listings/{world.listing['id']}/submit", headers=world.provider))
    assert submitted["revision"]["proposed_version"] == 2
    moved = ok(review(client, world.office, world.listing["id"], reason_code="meets-standard"))
    assert moved["dataset_version"] == 2


def test_the_provider_sees_its_datasets_and_their_versions(client: TestClient) -> None:
    world = World(client)
    upload_csv(client, world.provider, "people", people(100, seed=9))
    page = ok(client.get(f"{API}/datasets", headers=world.provider))
    assert page["total"] == 1 and [v["version"] for v in page["items"][0]["versions"]] == [2, 1]
    assert page["items"][0]["listings"] == [world.listing["id"]]
    stranger = staff(client, "other@gov.test", Role.provider, "税务局")
    assert ok(client.get(f"{API}/datasets", headers=stranger))["total"] == 0
    assert client.get(f"{API}/datasets/{world.dataset['id']}", headers=stranger).status_code == 404
    assert client.get(f"{API}/datasets/{world.dataset['id']}", headers=world.office).status_code == 403


def test_an_unchanged_new_version_of_important_data_is_served_only_after_its_security_review(
        client: TestClient) -> None:
    world = World(client, grade="important")
    listing_id = world.listing["id"]
    uploaded = upload_csv(client, world.provider, "people", people(500, seed=7))
    assert uploaded["listings_moved"] == []  # the dictionary is unchanged, but important data is reviewed anyway
    assert ok(client.get(f"{API}/catalog/{listing_id}"))["dataset_version"] == 1
    with unit_of_work() as session:
        assert listings.query_target(session, listing_id).dataset_sha256 == world.dataset["sha256"]
    detail = ok(client.get(f"{API}/listings/{listing_id}", headers=world.office))
    assert detail["revision"] == {"kind": "version", "status": "submitted", "grade": None, "proposed_version": 2}

    assert ok(review(client, world.office, listing_id, reason_code="meets-standard"))["dataset_version"] == 1
    blocked = review(client, world.office2, listing_id, reason_code="meets-standard")
    assert blocked.status_code == 409 and blocked.json()["type"] == "security-review-required"
    assert ok(client.get(f"{API}/catalog/{listing_id}"))["dataset_version"] == 1
    security_review(client, world.office2, listing_id)
    served = ok(review(client, world.office2, listing_id, reason_code="meets-standard"))
    assert served["dataset_version"] == 2 and served["revision"] is None
    reviews = ok(client.get(f"{API}/listings/{listing_id}/security-reviews", headers=world.office))["items"]
    assert reviews[0]["dataset_version"] == 2
