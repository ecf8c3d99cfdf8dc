"""Authorization agreements (授权运营协议): listings are submitted, published and resumed only within an active
agreement that covers them; when one ends or is revoked its listings are suspended (`authorization-ended`) and
their licensees are told."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import select

from core.accounts import accounts
from core.auth import Role
from core.db import unit_of_work
from core.models import AuditEvent, utcnow
from market.models import AuthorizationAgreement
from market.service.agreements import CST
from tests.flow import (
    OPERATOR,
    PASSWORD,
    PEOPLE_DICTIONARY,
    World,
    listing_body,
    ok,
    people,
    sign_in,
    staff,
    upload_csv,
)
from web.jobs import run_once

TODAY = datetime.now(CST).date()  # terms are days in China Standard Time


def _unauthorized_draft(client: TestClient) -> tuple[dict[str, str], dict[str, Any]]:
    """A provider department no agreement covers, with a drafted listing over its dataset."""
    with unit_of_work() as session:
        accounts.create_staff(session, "p@gov.test", PASSWORD, Role.provider, "水利局 Water Bureau")
    provider = sign_in(client, "p@gov.test")
    dataset = upload_csv(client, provider, "people", people(200))
    ok(client.put(f"/api/v1/datasets/{dataset['id']}/dictionary", json=PEOPLE_DICTIONARY, headers=provider))
    listing = ok(client.post("/api/v1/listings", json=listing_body(dataset["id"]), headers=provider), 201)
    return provider, listing


def _agreement(client: TestClient, office: dict[str, str], **scope: Any) -> dict[str, Any]:
    body = {"title": "公共数据授权运营协议", "authorizing_body": "某市人民政府", "operator": OPERATOR,
            "starts_on": (TODAY - timedelta(days=1)).isoformat(), "ends_on": (TODAY + timedelta(days=30)).isoformat(),
            "conditions": "仅提供差分隐私聚合结果", **scope}
    return dict(ok(client.post("/api/v1/agreements", json=body, headers=office), 201))


def test_a_listing_outside_every_agreement_cannot_be_submitted(client: TestClient) -> None:
    provider, listing = _unauthorized_draft(client)
    office = staff(client, "office@gov.test", Role.data_office)
    refused = client.post(f"/api/v1/listings/{listing['id']}/submit", headers=provider)
    assert refused.status_code == 409
    assert refused.json()["type"] == "authorization-required"
    assert "授权运营协议" in refused.json()["detail_zh"]

    # An agreement for another department, or one whose term has passed or not begun, does not cover it.
    _agreement(client, office, datasets=["people"], starts_on=(TODAY - timedelta(days=60)).isoformat(),
               ends_on=(TODAY - timedelta(days=1)).isoformat())
    _agreement(client, office, datasets=["people"], starts_on=(TODAY + timedelta(days=5)).isoformat())
    assert client.post(f"/api/v1/listings/{listing['id']}/submit", headers=provider).status_code == 409
    statuses = sorted(a["status"] for a in ok(client.get("/api/v1/agreements"))["items"])
    assert statuses == ["expired", "not_started"]

    covering = _agreement(client, office, datasets=["people"])
    submitted = ok(client.post(f"/api/v1/listings/{listing['id']}/submit", headers=provider))
    assert submitted["status"] == "submitted" and submitted["agreement_id"] == covering["id"]
    assert ok(client.get(f"/api/v1/agreements/{covering['id']}"))["listings"] == [listing["id"]]


def test_the_operator_is_an_organization_of_its_own_and_the_scope_must_be_named(client: TestClient) -> None:
    office = staff(client, "office@gov.test", Role.data_office)
    staff(client, "p@gov.test", Role.provider, "统计局")
    base = {"title": "协议", "authorizing_body": "某市人民政府", "starts_on": TODAY.isoformat(),
            "ends_on": TODAY.isoformat(), "departments": ["统计局"]}
    for operator in ("Shuyu Operator", "统计局"):  # the data office's own organization; a provider
        refused = client.post("/api/v1/agreements", json={**base, "operator": operator}, headers=office)
        assert refused.status_code == 422 and "运营机构" in refused.json()["detail_zh"]
    for bad in ({"departments": []}, {"departments": ["不存在的局"]}, {"datasets": ["nothing_here"]},
                {"ends_on": (TODAY - timedelta(days=1)).isoformat()}):
        assert client.post("/api/v1/agreements", json={**base, "operator": OPERATOR, **bad},
                           headers=office).status_code == 422
    made = ok(client.post("/api/v1/agreements", json={**base, "operator": OPERATOR}, headers=office), 201)
    assert made["operator"] == OPERATOR and made["status"] == "active" and made["ends_on"] == TODAY.isoformat()
    provider = sign_in(client, "p@gov.test")
    assert client.post("/api/v1/agreements", json={**base, "operator": OPERATOR}, headers=provider).status_code == 403
    assert client.post(f"/api/v1/agreements/{made['id']}/revoke", json={"reason": "测试"},
                       headers=provider).status_code == 403


def _licensed_world(client: TestClient) -> tuple[World, dict[str, str], dict[str, Any]]:
    world = World(client)
    analyst = world.enterprise()
    licence = world.active_licence(analyst)
    return world, analyst, licence


def test_revoking_an_agreement_suspends_its_listings_and_tells_their_licensees(client: TestClient) -> None:
    world, analyst, licence = _licensed_world(client)
    agreement_id = world.listing["agreement_id"]
    assert agreement_id is not None
    revoked = ok(client.post(f"/api/v1/agreements/{agreement_id}/revoke", json={"reason": "授权主体收回授权"},
                             headers=world.office))
    assert revoked["status"] == "revoked" and revoked["revoke_reason"] == "授权主体收回授权"

    listing = ok(client.get(f"/api/v1/listings/{world.listing['id']}", headers=world.office))
    assert listing["status"] == "suspended"
    assert listing["history"][-1]["reason_code"] == "authorization-ended"
    query = client.post("/api/v1/queries", json={"license_id": licence["id"], "sql": "SELECT COUNT(*) FROM people"},
                        headers=analyst)
    assert query.status_code == 409 and query.json()["type"] == "listing-unavailable"

    run_once()
    inbox = ok(client.get("/api/v1/notifications", headers={**analyst, "Accept-Language": "zh-CN"}))
    assert [n["kind"] for n in inbox["items"]] == ["authorization_ended", "license_paid"]  # newest first
    assert "授权运营协议已终止" in inbox["items"][0]["body"]
    again = client.post(f"/api/v1/agreements/{agreement_id}/revoke", json={"reason": "再次"}, headers=world.office)
    assert again.status_code == 409

    # Resuming needs an agreement that covers the listing again.
    resume = {"action": "resume", "reason_code": "issue-resolved"}
    refused = client.post(f"/api/v1/listings/{world.listing['id']}/transition", json=resume, headers=world.office)
    assert refused.status_code == 409 and refused.json()["type"] == "authorization-required"
    renewed = _agreement(client, world.office, departments=["统计局 Statistics Bureau"])
    resumed = ok(client.post(f"/api/v1/listings/{world.listing['id']}/transition", json=resume,
                             headers=world.office))
    assert resumed["status"] == "published" and resumed["agreement_id"] == renewed["id"]
    with unit_of_work() as session:
        actions = session.exec(select(AuditEvent.action).where(AuditEvent.subject_type == "agreement")).all()
    assert {"agreement.created", "agreement.revoked"} <= set(actions)


def test_a_term_that_passes_suspends_the_listings_once_on_the_sweep(client: TestClient) -> None:
    world, analyst, licence = _licensed_world(client)
    agreement_id = world.listing["agreement_id"]
    with unit_of_work() as session:
        agreement = session.get(AuthorizationAgreement, agreement_id)
        assert agreement is not None
        agreement.ends_at = utcnow() - timedelta(seconds=1)  # the term passes
        session.add(agreement)
    assert ok(client.get(f"/api/v1/agreements/{agreement_id}"))["status"] == "expired"
    # Before any sweep has run, the passed term already stops queries.
    early = client.post("/api/v1/queries", json={"license_id": licence["id"], "sql": "SELECT COUNT(*) FROM people"},
                        headers=analyst)
    assert early.status_code == 409 and "授权运营协议已终止" in early.json()["detail_zh"]
    run_once()
    listing = ok(client.get(f"/api/v1/listings/{world.listing['id']}", headers=world.office))
    assert listing["status"] == "suspended" and listing["history"][-1]["reason_code"] == "authorization-ended"
    assert listing["history"][-1]["actor_role"] == "system"
    assert ok(client.get(f"/api/v1/agreements/{agreement_id}"))["ended_at"] is not None
    run_once()  # a second sweep finds nothing left to do
    listing = ok(client.get(f"/api/v1/listings/{world.listing['id']}", headers=world.office))
    assert [h["action"] for h in listing["history"]].count("suspend") == 1
    inbox = ok(client.get("/api/v1/notifications", headers=analyst))
    assert [n["kind"] for n in inbox["items"]].count("authorization_ended") == 1


def test_a_listing_another_agreement_covers_moves_to_it_instead_of_being_suspended(client: TestClient) -> None:
    world = World(client)
    first = world.listing["agreement_id"]
    sector = _agreement(client, world.office, sectors=["民政 Civil affairs"],
                        ends_on=(TODAY + timedelta(days=400)).isoformat())
    ok(client.post(f"/api/v1/agreements/{first}/revoke", json={"reason": "改由行业协议覆盖"}, headers=world.office))
    listing = ok(client.get(f"/api/v1/listings/{world.listing['id']}", headers=world.office))
    assert listing["status"] == "published" and listing["agreement_id"] == sector["id"]


def test_the_signed_agreement_is_attached_and_read_back_unchanged(client: TestClient) -> None:
    office = staff(client, "office@gov.test", Role.data_office)
    staff(client, "p@gov.test", Role.provider, "统计局")
    made = _agreement(client, office, departments=["统计局"])
    document = b"%PDF-1.4\n% signed agreement\n" + bytes(range(256))
    attached = ok(client.post(f"/api/v1/agreements/{made['id']}/document", headers=office,
                              files={"file": ("协议.pdf", document, "application/pdf")}))
    assert attached["document_name"] == "协议.pdf" and attached["document_size"] == len(document)
    back = client.get(f"/api/v1/agreements/{made['id']}/document")
    assert back.status_code == 200 and back.content == document
    missing = client.post(f"/api/v1/agreements/{made['id']}/document", headers=office, data={"x": "1"},
                          files={"other": ("a.txt", b"", "text/plain")})
    assert missing.status_code == 422
