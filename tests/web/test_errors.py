"""Every error response is problem+json with a type slug, a title and a sentence; never a stack trace."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.flow import World


def _assert_problem(response: Any, status: int, type_: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert set(body) >= {"type", "title", "status", "detail"} and body["status"] == status
    assert body["detail"] and "Traceback" not in body["detail"]
    if type_:
        assert body["type"] == type_
    return dict(body)


def test_error_shape_for_every_status(client: TestClient) -> None:
    world = World(client)
    enterprise = world.enterprise()
    _assert_problem(client.get("/api/v1/me"), 401, "not-authenticated")
    _assert_problem(client.get("/api/v1/me", headers={"Authorization": "Bearer nope"}), 401, "not-authenticated")
    _assert_problem(client.get("/api/v1/ledger/trial-balance", headers=enterprise), 403, "forbidden")
    _assert_problem(client.get("/api/v1/catalog/999"), 404, "not-found")
    _assert_problem(client.get("/api/v1/no-such-path"), 404, "not-found")
    _assert_problem(client.post(f"/api/v1/listings/{world.listing['id']}/submit", headers=world.provider),
                    409, "listing-state-conflict")
    _assert_problem(client.post("/api/v1/licenses", json={"listing_id": "x"}, headers=enterprise), 422,
                    "invalid-input")
    _assert_problem(client.post("/api/v1/auth/token", data={"username": "a@b.c", "password": "wrong"}), 401)


def test_an_unexpected_failure_is_a_sentence_not_a_trace(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    import market.service

    def explode(*_: object, **__: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(market.service.listings, "catalog", explode)
    with TestClient(client.app, raise_server_exceptions=False) as raw:
        body = _assert_problem(raw.get("/api/v1/catalog"), 500, "internal-error")
    assert "secret internals" not in body["detail"]


def test_pages_send_security_headers(client: TestClient) -> None:
    headers = client.get("/").headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
