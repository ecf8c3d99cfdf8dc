"""Raising a listing to important applies to existing licences at once: they wait for the data office."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.flow import World, ok


def _raise_to_important(client: TestClient, world: World) -> None:
    ok(client.post(f"/api/v1/listings/{world.listing['id']}/grade", headers=world.office,
                   json={"grade": "important", "reason_code": "aggregation-risk", "comment": "contains health data"}))


def test_an_active_licence_waits_for_approval_after_the_grade_is_raised(client: TestClient) -> None:
    world = World(client)
    enterprise = world.enterprise()
    licence = world.active_licence(enterprise)
    query = {"license_id": licence["id"], "sql": "SELECT COUNT(*) AS n FROM people", "epsilon": 0.1}
    ok(client.post("/api/v1/queries", json=query, headers=enterprise), 201)
    _raise_to_important(client, world)
    refused = client.post("/api/v1/queries", json={**query, "sql": "SELECT COUNT(*) AS m FROM people"},
                          headers=enterprise)
    assert refused.status_code == 403 and "must approve" in refused.json()["detail"]
    ok(client.post(f"/api/v1/licenses/{licence['id']}/review", json={"decision": "approve", "comment": "ok"},
                   headers=world.office2))
    ok(client.post("/api/v1/queries", json={**query, "sql": "SELECT COUNT(*) AS m FROM people"},
                   headers=enterprise), 201)


def test_a_licence_awaiting_payment_cannot_be_paid_until_approved(client: TestClient) -> None:
    world = World(client)
    enterprise = world.enterprise()
    licence = ok(client.post("/api/v1/licenses", json={
        "listing_id": world.listing["id"], "offer_id": world.offer_id, "purpose": "research"},
        headers=enterprise), 201)
    assert licence["status"] == "awaiting_payment"
    _raise_to_important(client, world)
    checkout = client.post(f"/api/v1/licenses/{licence['id']}/checkout", json={"method": "bank_transfer"},
                           headers=enterprise)
    assert checkout.status_code == 409 and "must approve" in checkout.json()["detail"]
    ok(client.post(f"/api/v1/licenses/{licence['id']}/review", json={"decision": "approve"}, headers=world.office))
    ok(client.post(f"/api/v1/licenses/{licence['id']}/checkout", json={"method": "bank_transfer"},
                   headers=enterprise))
