"""API keys: scoped, expiring, listed with last use, revocable at once, stored hashed, shown once."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlmodel import select

from core.db import unit_of_work
from core.models import Credential, utcnow
from tests.flow import World, ok
from tests.web.test_pages import browser_sign_in, csrf_of


def _key(client: TestClient, headers: dict[str, str], **body: object) -> dict[str, object]:
    return dict(ok(client.post("/api/v1/api-keys", json={"name": "script", **body}, headers=headers), 201))


def _bearer(key: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_a_read_only_key_can_read_but_cannot_run_a_query(client: TestClient) -> None:
    world = World(client)
    analyst = world.enterprise()
    licence = world.active_licence(analyst)
    key = _key(client, analyst, scope="read")
    assert ok(client.get(f"/api/v1/licenses/{licence['id']}", headers=_bearer(key["key"])))["id"] == licence["id"]
    refused = client.post("/api/v1/queries", headers=_bearer(key["key"]), json={
        "license_id": licence["id"], "sql": "SELECT COUNT(*) AS n FROM people", "epsilon": 0.5})
    assert refused.status_code == 403 and refused.json()["type"] == "api-key-scope"
    assert "detail_zh" in refused.json()
    assert client.post("/api/v1/api-keys", json={"name": "escalate"}, headers=_bearer(key["key"])).status_code == 403


def test_a_query_key_runs_queries_but_cannot_apply_for_licences(client: TestClient) -> None:
    world = World(client)
    analyst = world.enterprise()
    licence = world.active_licence(analyst)
    key = _key(client, analyst, scope="query")
    ok(client.post("/api/v1/queries", headers=_bearer(key["key"]), json={
        "license_id": licence["id"], "sql": "SELECT COUNT(*) AS n FROM people", "epsilon": 0.5}), 201)
    applied = client.post("/api/v1/licenses", headers=_bearer(key["key"]), json={
        "listing_id": world.listing["id"], "offer_id": world.offer_id, "purpose": "more"})
    assert applied.status_code == 403


def test_keys_are_listed_with_last_use_and_never_with_the_secret(client: TestClient) -> None:
    world = World(client)
    key = _key(client, world.finance, name="nightly export", scope="read", expires_in_days=30)
    listed = ok(client.get("/api/v1/api-keys", headers=world.finance))
    assert listed["total"] == 1 and listed["items"][0]["last_used_at"] is None
    assert key["key"] not in str(listed)
    ok(client.get("/api/v1/ledger/trial-balance", headers=_bearer(key["key"])))
    item = ok(client.get("/api/v1/api-keys", headers=world.finance))["items"][0]
    assert item["name"] == "nightly export" and item["scope"] == "read" and item["last_used_at"] is not None
    assert item["expires_at"] is not None and not item["revoked"]
    with unit_of_work() as session:
        stored = session.exec(select(Credential).where(Credential.id == key["id"])).one()
        assert stored.secret_sha256 == hashlib.sha256(str(key["key"]).encode()).hexdigest()
    assert ok(client.get("/api/v1/api-keys", headers=world.office))["total"] == 0  # only your own


def test_a_revoked_key_is_refused_on_its_next_request(client: TestClient) -> None:
    world = World(client)
    key = _key(client, world.finance)
    ok(client.get("/api/v1/me", headers=_bearer(key["key"])))
    assert client.delete(f"/api/v1/api-keys/{key['id']}", headers=world.office).status_code == 404
    assert client.delete(f"/api/v1/api-keys/{key['id']}", headers=world.finance).status_code == 204
    refused = client.get("/api/v1/me", headers=_bearer(key["key"]))
    assert refused.status_code == 401
    assert ok(client.get("/api/v1/api-keys", headers=world.finance))["items"][0]["revoked"] is True


def test_an_expired_key_is_refused(client: TestClient) -> None:
    world = World(client)
    key = _key(client, world.finance, expires_in_days=1)
    with unit_of_work() as session:
        stored = session.exec(select(Credential).where(Credential.id == key["id"])).one()
        stored.expires_at = utcnow() - timedelta(seconds=1)
        session.add(stored)
    assert client.get("/api/v1/me", headers=_bearer(key["key"])).status_code == 401
    assert ok(client.get("/api/v1/api-keys", headers=world.finance))["items"][0]["expired"] is True


def test_bad_key_requests_are_422_with_the_field(client: TestClient) -> None:
    world = World(client)
    for body in ({"name": ""}, {"name": "x", "scope": "admin"}, {"name": "x", "expires_in_days": 0}):
        response = client.post("/api/v1/api-keys", json=body, headers=world.finance)
        assert response.status_code == 422, body


def test_the_keys_page_shows_a_new_key_once_and_revokes(client: TestClient) -> None:
    World(client)
    browser_sign_in(client, "finance@gov.test")
    page = client.get("/account/api-keys", headers={"Accept-Language": "zh-CN"})
    assert "API 密钥" in page.text
    created = client.post("/account/api-keys", data={"name": "报表脚本", "scope": "read", "expires_in_days": "7",
                                                     "csrf": csrf_of(page.text)})
    assert created.status_code == 200 and 'id="new-key-value">sy_key_' in created.text
    again = client.get("/account/api-keys")
    assert "报表脚本" in again.text and "sy_key_" not in again.text
    key_id = ok(client.get("/api/v1/api-keys", headers={"Authorization": "Bearer " + client.cookies["shuyu_session"]})
                )["items"][0]["id"]
    revoked = client.post(f"/account/api-keys/{key_id}/revoke", data={"csrf": csrf_of(again.text)})
    assert revoked.status_code == 200 and f'data-key="{key_id}"' in revoked.text
    assert f'id="revoke-{key_id}"' not in revoked.text
