"""The licence lifecycle: price ceiling, approval with purpose, suspend/resume/revoke, exact expiry, renewal."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import col, select

import licensing.service.budget
import licensing.service.licenses
from core.db import get_engine, unit_of_work
from core.models import AuditEvent, utcnow
from licensing.credit_code import check_character
from licensing.errors import LicenseNotActive
from licensing.models import License
from licensing.service import license_service
from tests.flow import World, ok
from tests.licensing.helpers import apply, pay_by_bank

OTHER_CODE = "91350100M0001020N" + check_character("91350100M0001020N")


@pytest.fixture
def world(client: TestClient) -> World:
    return World(client)


def _query(client: TestClient, headers: dict[str, str], licence_id: int, n: int = 0) -> Any:
    return client.post("/api/v1/queries", headers=headers, json={
        # A different measurement per n (another alias alone would reuse the stored release for free).
        "license_id": licence_id, "sql": f"SELECT COUNT(*) AS n FROM people WHERE age >= -{n}", "epsilon": 0.1})


def _act(world: World, licence_id: int, action: str, reason: str = "audit finding 2026-07") -> Any:
    return world.client.post(f"/api/v1/licenses/{licence_id}/{action}", json={"reason": reason},
                             headers=world.office)


def _set_ceiling(listing_id: int, ceiling: int) -> None:
    with get_engine().begin() as conn:
        conn.execute(text("UPDATE listings SET ceiling_price_minor = :c WHERE id = :id"),
                     {"c": ceiling, "id": listing_id})


def test_an_offer_priced_above_the_ceiling_is_refused_when_applied_for(world: World) -> None:
    enterprise = world.enterprise()
    _set_ceiling(world.listing["id"], 40_000)  # the ceiling was lowered after the offer was made
    response = world.client.post("/api/v1/licenses", headers=enterprise, json={
        "listing_id": world.listing["id"], "offer_id": world.offer_id, "purpose": "x"})
    assert response.status_code == 422 and response.json()["type"] == "price-above-ceiling"
    assert "40000" in response.json()["detail"]
    _set_ceiling(world.listing["id"], 50_000)
    assert apply(world.client, enterprise, world.listing)["status"] == "awaiting_payment"


def test_important_data_waits_for_the_data_office_who_sees_the_stated_purpose(client: TestClient) -> None:
    world = World(client, grade="important")
    enterprise = world.enterprise()
    licence = apply(client, enterprise, world.listing, purpose="城市公交客流研究 bus ridership study")
    assert licence["status"] == "pending_approval"
    queue = ok(client.get("/api/v1/licenses?status=pending_approval", headers=world.office))
    purpose = "城市公交客流研究 bus ridership study"
    assert [(x["id"], x["purpose"]) for x in queue["items"]] == [(licence["id"], purpose)]
    approved = ok(client.post(f"/api/v1/licenses/{licence['id']}/review", json={"decision": "approve"},
                              headers=world.office))
    assert approved["status"] == "awaiting_payment"


def test_suspension_blocks_the_next_query_and_resume_restores_it(world: World) -> None:
    enterprise = world.enterprise()
    licence = world.active_licence(enterprise)
    ok(_query(world.client, enterprise, licence["id"]), 201)
    suspended = ok(_act(world, licence["id"], "suspend"))
    assert suspended["status"] == "suspended" and suspended["status_reason"] == "audit finding 2026-07"
    refused = _query(world.client, enterprise, licence["id"], 1)
    assert refused.status_code == 403 and refused.json()["type"] == "license-not-active"
    assert ok(_act(world, licence["id"], "resume", "finding resolved"))["status"] == "active"
    ok(_query(world.client, enterprise, licence["id"], 1), 201)


def test_revocation_is_final(world: World) -> None:
    enterprise = world.enterprise()
    licence = world.active_licence(enterprise)
    assert ok(_act(world, licence["id"], "revoke", "data used outside the stated purpose"))["status"] == "revoked"
    assert _query(world.client, enterprise, licence["id"]).status_code == 403
    for attempt in (_act(world, licence["id"], "resume"), _act(world, licence["id"], "suspend"),
                    world.client.post(f"/api/v1/licenses/{licence['id']}/renew", headers=enterprise)):
        assert attempt.status_code == 409 and attempt.json()["type"] == "license-state-conflict"


def test_only_the_data_office_suspends_and_a_reason_is_required(world: World) -> None:
    enterprise = world.enterprise()
    licence = world.active_licence(enterprise)
    own = world.client.post(f"/api/v1/licenses/{licence['id']}/suspend", json={"reason": "no"}, headers=enterprise)
    assert own.status_code == 403
    assert world.client.post(f"/api/v1/licenses/{licence['id']}/suspend", json={},
                             headers=world.office).status_code == 422


def test_every_transition_is_audited_with_its_actor_and_reason(world: World) -> None:
    enterprise = world.enterprise()
    licence = world.active_licence(enterprise)
    for action in ("suspend", "resume", "revoke"):
        ok(_act(world, licence["id"], action, f"reason for {action}"))
    me = ok(world.client.get("/api/v1/me", headers=world.office))
    with unit_of_work() as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.subject_type == "license",
                                                       AuditEvent.subject_id == str(licence["id"]))
                              .order_by(col(AuditEvent.seq))).all()
    actions = [e.action for e in events]
    assert actions == ["license.applied", "license.activated", "license.suspended", "license.resumed",
                       "license.revoked"]
    reasons = {"license.suspended": "reason for suspend", "license.resumed": "reason for resume",
               "license.revoked": "reason for revoke"}
    for event in events[2:]:
        assert event.actor_user_id == me["id"] and event.actor_role == "data_office"
        assert event.data["reason"] == reasons[event.action]


def test_a_licence_expires_exactly_at_its_term_end(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    enterprise = world.enterprise()
    licence = world.active_licence(enterprise)
    with unit_of_work() as session:
        row = session.get(License, licence["id"])
        assert row is not None and row.expires_at is not None
        end = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=utcnow().tzinfo)
    for at, expected in ((end - timedelta(microseconds=1), "active"), (end, "expired")):
        for module in (licensing.service.licenses, licensing.service.budget):
            monkeypatch.setattr(module, "utcnow", lambda at=at: at)
        assert ok(world.client.get(f"/api/v1/licenses/{licence['id']}", headers=enterprise))["status"] == expected
        if expected == "expired":
            with pytest.raises(LicenseNotActive), unit_of_work() as session:
                license_service.reserve(session, licence["id"], 0.1)
    listed = ok(world.client.get("/api/v1/licenses?status=expired", headers=enterprise))
    assert [x["id"] for x in listed["items"]] == [licence["id"]]
    assert ok(world.client.get("/api/v1/licenses?status=active", headers=enterprise))["total"] == 0


def test_an_expired_licence_cannot_query(world: World) -> None:
    enterprise = world.enterprise()
    licence = world.active_licence(enterprise)
    with get_engine().begin() as conn:
        conn.execute(text("UPDATE licenses SET expires_at = :at WHERE id = :id"),
                     {"at": utcnow() - timedelta(seconds=1), "id": licence["id"]})
    refused = _query(world.client, enterprise, licence["id"])
    assert refused.status_code == 403 and "expired" in refused.json()["detail"]


def test_renewal_is_a_new_licence_with_a_new_term_and_a_fresh_budget(world: World) -> None:
    enterprise = world.enterprise()
    old = world.active_licence(enterprise)
    ok(_query(world.client, enterprise, old["id"]), 201)
    renewal = ok(world.client.post(f"/api/v1/licenses/{old['id']}/renew", headers=enterprise), 201)
    assert renewal["id"] != old["id"] and renewal["renews_license_id"] == old["id"]
    assert renewal["status"] == "awaiting_payment" and renewal["epsilon_spent"] == 0
    assert renewal["purpose"] == old["purpose"]
    pay_by_bank(world, enterprise, renewal["id"])
    fresh = ok(world.client.get(f"/api/v1/licenses/{renewal['id']}", headers=enterprise))
    assert fresh["status"] == "active" and fresh["epsilon_remaining"] == pytest.approx(3.0)
    assert ok(world.client.get(f"/api/v1/licenses/{old['id']}", headers=enterprise))["epsilon_spent"] == (
        pytest.approx(0.1))


def test_another_enterprise_cannot_renew_or_see_a_licence(world: World) -> None:
    enterprise = world.enterprise()
    licence = world.active_licence(enterprise)
    other = world.enterprise("别家公司 Other Co", OTHER_CODE, "other@co.test")
    assert world.client.post(f"/api/v1/licenses/{licence['id']}/renew", headers=other).status_code == 404
    assert world.client.get(f"/api/v1/licenses/{licence['id']}", headers=other).status_code == 404
