"""Administration: the admin lists, creates, disables and re-enables users; everyone changes their password and
ends their sessions; each action is audited."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlmodel import select

from core.auth import Role
from core.db import unit_of_work
from core.models import AuditEvent
from tests.flow import PASSWORD, World, ok, sign_in, staff
from tests.smtp import Mailbox, smtp_server
from web.jobs import run_once

__all__ = ["smtp_server"]


def test_the_admin_creates_lists_disables_and_enables_users(client: TestClient) -> None:
    world = World(client)
    admin = staff(client, "admin@gov.test", Role.admin)
    created = ok(client.post("/api/v1/admin/users", headers=admin, json={
        "email": "Clerk@Gov.test", "role": "provider", "password": "a long password", "org_name": "市统计局"}), 201)
    assert created["email"] == "clerk@gov.test" and created["organization_name"] == "市统计局"
    listed = ok(client.get("/api/v1/admin/users?q=finance", headers=admin))
    assert listed["total"] == 1 and listed["items"][0]["last_sign_in_at"] is not None
    assert client.get("/api/v1/admin/users", headers=world.finance).status_code == 403

    finance_id = listed["items"][0]["id"]
    disabled = ok(client.post(f"/api/v1/admin/users/{finance_id}/disable", headers=admin))
    assert disabled["is_active"] is False
    assert client.get("/api/v1/me", headers=world.finance).status_code == 401  # the session ends at once
    refused = client.post("/api/v1/auth/token", data={"username": "finance@gov.test", "password": PASSWORD})
    assert refused.status_code == 401
    ok(client.post(f"/api/v1/admin/users/{finance_id}/enable", headers=admin))
    sign_in(client, "finance@gov.test")
    me = ok(client.get("/api/v1/me", headers=admin))
    assert client.post(f"/api/v1/admin/users/{me['id']}/disable", headers=admin).status_code == 409
    with unit_of_work() as session:
        actions = set(session.exec(select(AuditEvent.action).where(AuditEvent.actor_role == "admin")).all())
    assert {"admin.user_created", "admin.user_disabled", "admin.user_enabled"} <= actions


def test_a_person_changes_their_password_and_their_other_sessions_end(client: TestClient) -> None:
    world = World(client)
    other = sign_in(client, "finance@gov.test")
    wrong = client.post("/api/v1/me/password", headers=world.finance,
                        json={"current_password": "nope", "new_password": "another long one"})
    assert wrong.status_code == 422 and wrong.json()["detail_zh"] == "当前密码不正确"
    assert client.post("/api/v1/me/password", headers=world.finance, json={
        "current_password": PASSWORD, "new_password": "another long one"}).status_code == 204
    assert client.get("/api/v1/me", headers=other).status_code == 401
    ok(client.get("/api/v1/me", headers=world.finance))  # the session that changed it goes on
    sign_in(client, "finance@gov.test", "another long one")


def test_a_person_sees_and_ends_their_sessions(client: TestClient) -> None:
    world = World(client)
    laptop = sign_in(client, "office@gov.test")
    sessions = ok(client.get("/api/v1/me/sessions", headers=world.office))
    assert len(sessions) == 2 and [s["current"] for s in sessions].count(True) == 1
    laptop_id = next(s["id"] for s in sessions if not s["current"])
    assert client.delete(f"/api/v1/me/sessions/{laptop_id}", headers=world.finance).status_code == 404
    assert client.delete(f"/api/v1/me/sessions/{laptop_id}", headers=world.office).status_code == 204
    assert client.get("/api/v1/me", headers=laptop).status_code == 401
    assert len(ok(client.get("/api/v1/me/sessions", headers=world.office))) == 1


def test_the_admin_has_pages_now_and_everyone_can_change_their_password_in_the_browser(client: TestClient) -> None:
    from tests.web.test_pages import browser_sign_in, csrf_of

    World(client)
    staff(client, "admin@gov.test", Role.admin)
    browser_sign_in(client, "admin@gov.test")
    page = client.get("/admin", headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 200 and "最近登录" in page.text and "finance@gov.test" in page.text
    created = client.post("/admin/users", data={"email": "clerk@gov.test", "role": "finance",
                                                "password": "a long password", "csrf": csrf_of(page.text)},
                          follow_redirects=False)
    assert created.status_code == 303
    clerk = ok(client.get("/api/v1/admin/users?q=clerk", headers={
        "Authorization": "Bearer " + client.cookies["shuyu_session"]}))["items"][0]
    client.post(f"/admin/users/{clerk['id']}/disable", data={"csrf": csrf_of(page.text)})
    assert f'id="enable-{clerk["id"]}"' in client.get("/admin").text

    security = client.get("/account/security")
    short = client.post("/account/password", data={"current_password": PASSWORD, "new_password": "short",
                                                   "csrf": csrf_of(security.text)})
    assert short.status_code == 422
    changed = client.post("/account/password", data={"current_password": PASSWORD, "new_password": "a new passphrase",
                                                     "csrf": csrf_of(security.text)})
    assert changed.status_code == 200 and "当前浏览器" in changed.text  # still signed in here


def test_a_forgotten_password_is_reset_by_an_emailed_one_time_link(client: TestClient, smtp_server: Mailbox) -> None:
    World(client)
    admin = staff(client, "admin@gov.test", Role.admin)
    old_session = sign_in(client, "office@gov.test")
    assert client.post("/api/v1/auth/password-reset", json={"email": "nobody@gov.test"}).status_code == 202
    assert client.post("/api/v1/auth/password-reset", json={"email": "office@gov.test"}).status_code == 202
    run_once()
    assert smtp_server.to("nobody@gov.test") == []
    token = re.search(r"/reset/([A-Za-z0-9_-]+)", smtp_server.to("office@gov.test")[0].get_content())
    assert token is not None
    short = client.post(f"/api/v1/auth/password-reset/{token.group(1)}", json={"password": "short"})
    assert short.status_code == 422
    assert client.post(f"/api/v1/auth/password-reset/{token.group(1)}",
                       json={"password": "a fresh passphrase"}).status_code == 204
    assert client.get("/api/v1/me", headers=old_session).status_code == 401
    sign_in(client, "office@gov.test", "a fresh passphrase")
    again = client.post(f"/api/v1/auth/password-reset/{token.group(1)}", json={"password": "another passphrase"})
    assert again.status_code == 404 and again.json()["detail_zh"]

    finance_id = ok(client.get("/api/v1/admin/users?q=finance", headers=admin))["items"][0]["id"]
    assert ok(client.post(f"/api/v1/admin/users/{finance_id}/reset-password", headers=admin))["sent"] is True
    run_once()
    assert "/reset/" in smtp_server.to("finance@gov.test")[0].get_content()
