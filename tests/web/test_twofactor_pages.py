"""Two-factor in the pages: after the password an enrolled person is asked for a code and has no session until it
is right; a role that must use two factors is sent to enrolment and can reach nothing else; the admin's reset."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from core.auth import SESSION_COOKIE, Role
from core.config import get_settings
from tests.flow import PASSWORD, staff
from tests.twofactor_codes import code
from tests.web.test_pages import browser_sign_in, csrf_of


def _secret(html: str) -> str:
    found = re.search(r'id="totp-secret">([A-Z2-7]+)<', html)
    assert found, "the enrolment page shows no key"
    return found.group(1)


def _password(client: TestClient, email: str) -> str:
    token = csrf_of(client.get("/signin").text)
    response = client.post("/signin", data={"email": email, "password": PASSWORD, "csrf": token},
                           follow_redirects=False)
    assert response.status_code == 303, response.text
    return response.headers["location"]


def _enrol_in_account(client: TestClient) -> str:
    page = client.get("/account/two-factor")
    assert 'id="start-two-factor"' in page.text
    started = client.post("/account/two-factor/start", data={"csrf": csrf_of(page.text)})
    assert "<svg" in started.text and 'id="totp-qr"' in started.text
    secret = _secret(started.text)
    done = client.post("/account/two-factor/confirm", data={"csrf": csrf_of(started.text),
                                                            "code": code(secret, steps_back=1)})
    assert done.status_code == 200 and len(re.findall(r"<li><code>", done.text)) == 10, done.text
    return secret


def test_an_enrolled_person_has_no_session_until_the_code_is_right(client: TestClient) -> None:
    staff(client, "office@gov.test", Role.data_office)
    browser_sign_in(client, "office@gov.test")
    secret = _enrol_in_account(client)
    client.cookies.clear()

    assert _password(client, "office@gov.test") == "/signin/code"
    assert client.cookies.get(SESSION_COOKIE) is None
    assert client.get("/office", follow_redirects=False).headers["location"].startswith("/signin")
    form = client.get("/signin/code")
    wrong = client.post("/signin/code", data={"csrf": csrf_of(form.text), "code": "000000"})
    assert wrong.status_code == 422 and 'role="alert"' in wrong.text
    right = client.post("/signin/code", data={"csrf": csrf_of(form.text), "code": code(secret)},
                        follow_redirects=False)
    assert right.status_code == 303 and right.headers["location"] == "/office"
    assert client.get("/office").status_code == 200
    replay = client.post("/signin/code", data={"csrf": csrf_of(form.text), "code": code(secret)},
                         follow_redirects=False)  # the pending sign-in is spent with it
    assert replay.status_code == 303 and replay.headers["location"].startswith("/signin")


def test_a_required_role_without_two_factor_is_sent_to_enrol_and_can_do_nothing_else(
        client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    staff(client, "finance@gov.test", Role.finance)
    monkeypatch.setenv("SHUYU_TWO_FACTOR_REQUIRED_ROLES", '["finance"]')
    get_settings.cache_clear()
    assert _password(client, "finance@gov.test") == "/signin/two-factor"
    assert client.get("/finance", follow_redirects=False).headers["location"].startswith("/signin")
    assert client.get("/account/two-factor", follow_redirects=False).status_code == 303
    page = client.get("/signin/two-factor")
    assert 'id="must-enrol"' in page.text
    started = client.post("/signin/two-factor/start", data={"csrf": csrf_of(page.text)})
    wrong = client.post("/signin/two-factor/confirm", data={"csrf": csrf_of(page.text), "code": "000000"})
    assert wrong.status_code == 422 and _secret(wrong.text) == _secret(started.text)  # the same key, shown again
    done = client.post("/signin/two-factor/confirm", data={"csrf": csrf_of(page.text),
                                                           "code": code(_secret(started.text))})
    assert done.status_code == 200 and 'id="recovery-codes"' in done.text and 'href="/finance"' in done.text
    assert client.get("/finance").status_code == 200
    status = client.get("/account/two-factor")
    assert 'id="disable-two-factor"' not in status.text  # required: it cannot be turned off


def test_the_admin_resets_a_lost_authenticator_from_the_users_page(client: TestClient) -> None:
    staff(client, "office@gov.test", Role.data_office)
    browser_sign_in(client, "office@gov.test")
    _enrol_in_account(client)
    client.cookies.clear()
    staff(client, "admin@ops.test", Role.admin)
    browser_sign_in(client, "admin@ops.test")
    users = client.get("/admin", params={"q": "office@"})
    user_id = re.search(r'id="reset-2fa-(\d+)"', users.text)
    assert user_id, "no reset button for a user with two-factor"
    done = client.post(f"/admin/users/{user_id.group(1)}/two-factor/reset", data={"csrf": csrf_of(users.text)})
    assert 'id="two-factor-reset"' in done.text and 'id="reset-2fa-' not in done.text
    client.cookies.clear()
    assert _password(client, "office@gov.test") == "/office"


def test_new_recovery_codes_and_turning_it_off_from_the_account_page(client: TestClient) -> None:
    staff(client, "provider@gov.test", Role.provider, "统计局 Statistics Bureau")
    browser_sign_in(client, "provider@gov.test")
    secret = _enrol_in_account(client)
    page = client.get("/account/two-factor")
    assert "Recovery codes left: 10" in page.text or "剩余恢复码：10 个" in page.text
    renewed = client.post("/account/two-factor/recovery-codes", data={"csrf": csrf_of(page.text),
                                                                      "code": code(secret)})
    codes = re.findall(r"<li><code>([a-z2-7-]+)</code></li>", renewed.text)
    assert len(codes) == 10
    wrong = client.post("/account/two-factor/disable", data={"csrf": csrf_of(page.text), "code": "000000"})
    assert wrong.status_code == 422 and 'id="disable-two-factor"' in wrong.text
    off = client.post("/account/two-factor/disable", data={"csrf": csrf_of(page.text), "code": codes[0]})
    assert off.status_code == 200 and 'id="start-two-factor"' in off.text
    client.cookies.clear()
    assert _password(client, "provider@gov.test") == "/provider"
