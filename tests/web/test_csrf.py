"""CSRF on every cookie-authenticated state change, the API included: a page on another site can make a
signed-in browser send the cookie, never the token. Bearer-token calls (scripts) are exempt."""

from __future__ import annotations

from fastapi.testclient import TestClient

from core.auth import Role
from tests.flow import ok, staff
from tests.web.test_pages import browser_sign_in, csrf_of


def test_the_api_refuses_a_cookie_session_change_without_the_csrf_token(client: TestClient) -> None:
    staff(client, "p@gov.test", Role.provider, "统计局")
    browser_sign_in(client, "p@gov.test")
    assert ok(client.get("/api/v1/me"))["email"] == "p@gov.test"  # reading with the cookie is fine
    forged = client.post("/api/v1/api-keys", json={"name": "stolen"})
    assert forged.status_code == 403, forged.text
    assert forged.json()["type"] == "csrf-failed" and forged.json()["detail_zh"]
    wrong = client.post("/api/v1/api-keys", json={"name": "stolen"}, headers={"X-CSRF-Token": "0" * 64})
    assert wrong.status_code == 403
    token = csrf_of(client.get("/provider").text)
    assert ok(client.post("/api/v1/api-keys", json={"name": "mine"}, headers={"X-CSRF-Token": token}), 201)


def test_bearer_tokens_need_no_csrf_token(client: TestClient) -> None:
    headers = staff(client, "p@gov.test", Role.provider, "统计局")
    assert ok(client.post("/api/v1/api-keys", json={"name": "script"}, headers=headers), 201)


def test_a_page_form_without_its_token_is_refused(client: TestClient) -> None:
    staff(client, "p@gov.test", Role.provider, "统计局")
    browser_sign_in(client, "p@gov.test")
    response = client.post("/provider/datasets", files={"file": ("a.csv", b"a,b\n1,2\n", "text/csv")},
                           data={"name": "x"})
    assert response.status_code == 403
