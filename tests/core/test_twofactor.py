"""Two-factor sign-in over the API: a right code signs in, the same code never works twice, a recovery code works
once, wrong codes are throttled like passwords, required roles cannot get a session (API keys can), and turning it
off or an admin's reset are audited."""

from __future__ import annotations

from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from core.auth import Role
from core.config import get_settings
from core.db import unit_of_work
from core.models import AuditEvent, TwoFactor
from core.twofactor import matching_step
from tests.flow import PASSWORD, staff
from tests.twofactor_codes import code

TOKEN = "/api/v1/auth/token"


def _token(client: TestClient, email: str, otp: str | None = None) -> Any:
    data = {"username": email, "password": PASSWORD} | ({"otp": otp} if otp else {})
    return client.post(TOKEN, data=data)


def _enrol(client: TestClient, headers: dict[str, str]) -> tuple[str, list[str]]:
    """Enrol with a code one step old, so that the current step is still unused for the test's sign-in."""
    started = client.post("/api/v1/me/two-factor/enrolment", headers=headers)
    assert started.status_code == 201, started.text
    body = started.json()
    assert body["otpauth_uri"].startswith("otpauth://totp/") and body["qr_svg"].startswith("<svg")
    confirmed = client.post("/api/v1/me/two-factor/enrolment/confirm", headers=headers,
                            json={"code": code(body["secret"], steps_back=1)})
    assert confirmed.status_code == 200, confirmed.text
    return body["secret"], confirmed.json()["codes"]


def _actions() -> list[str]:
    with unit_of_work() as session:
        return [e.action for e in session.exec(select(AuditEvent).order_by(AuditEvent.seq)).all()]


@pytest.fixture
def finance(client: TestClient) -> dict[str, str]:
    return staff(client, "finance@gov.test", Role.finance)


def test_a_code_is_accepted_only_in_its_window() -> None:
    secret = pyotp.random_base32()
    totp = pyotp.TOTP(secret)
    now = 1_800_000_015.0
    step = int(now // 30)
    assert matching_step(secret, totp.at(now), now) == step
    assert matching_step(secret, totp.at(now - 30), now) == step - 1
    assert matching_step(secret, totp.at(now - 60), now) is None
    assert matching_step(secret, "12345", now) is None and matching_step(secret, "abcdef", now) is None
    assert matching_step(secret, "١٢٣٤٥٦", now) is None  # digits, but not ASCII ones: wrong, not a crash


def test_with_two_factor_on_the_password_alone_gets_no_token(client: TestClient, finance: dict[str, str]) -> None:
    secret, codes = _enrol(client, finance)
    assert len(codes) == 10 and len(set(codes)) == 10
    without = _token(client, "finance@gov.test")
    assert without.status_code == 401 and without.json()["type"] == "two-factor-required", without.text
    assert without.json()["detail_zh"]
    signed = _token(client, "finance@gov.test", code(secret))
    assert signed.status_code == 200, signed.text
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {signed.json()['access_token']}"})
    assert me.json()["email"] == "finance@gov.test"
    assert {"user.two_factor_enrolment_started", "user.two_factor_enabled", "auth.two_factor_passed"} <= set(
        _actions())


def test_the_same_code_is_refused_a_second_time_within_its_window(client: TestClient,
                                                                    finance: dict[str, str]) -> None:
    secret, _ = _enrol(client, finance)
    current = code(secret)
    assert _token(client, "finance@gov.test", current).status_code == 200
    replay = _token(client, "finance@gov.test", current)
    assert replay.status_code == 422 and replay.json()["type"] == "two-factor-code-wrong", replay.text
    older = _token(client, "finance@gov.test", code(secret, steps_back=1))  # the step used to confirm, and older
    assert older.status_code == 422


def test_a_recovery_code_signs_in_once(client: TestClient, finance: dict[str, str]) -> None:
    _, codes = _enrol(client, finance)
    assert _token(client, "finance@gov.test", codes[3].upper()).status_code == 200  # as typed from paper
    again = _token(client, "finance@gov.test", codes[3])
    assert again.status_code == 422 and again.json()["type"] == "two-factor-code-wrong"
    status = client.get("/api/v1/me/two-factor", headers=finance).json()
    assert status == {"enabled": True, "required": False, "recovery_codes_left": 9}
    assert "user.two_factor_recovery_code_used" in _actions()


def test_wrong_codes_lock_the_account_out_like_wrong_passwords(client: TestClient, finance: dict[str, str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    secret, _ = _enrol(client, finance)
    monkeypatch.setenv("SHUYU_SIGNIN_MAX_FAILURES", "3")
    get_settings.cache_clear()
    for _ in range(3):
        assert _token(client, "finance@gov.test", "000000").status_code == 422
    locked = _token(client, "finance@gov.test", code(secret))
    assert locked.status_code == 429 and locked.json()["type"] == "too-many-attempts", locked.text
    assert "auth.locked_out" in _actions()


def test_turning_it_off_needs_a_current_code(client: TestClient, finance: dict[str, str]) -> None:
    secret, _ = _enrol(client, finance)
    wrong = client.post("/api/v1/me/two-factor/disable", headers=finance, json={"code": "123456"})
    assert wrong.status_code == 422 and wrong.json()["detail_zh"]
    assert client.post("/api/v1/me/two-factor/disable", headers=finance,
                       json={"code": code(secret)}).status_code == 204
    assert _token(client, "finance@gov.test").status_code == 200
    assert "user.two_factor_disabled" in _actions()


def test_guessing_the_code_to_turn_it_off_is_throttled(client: TestClient, finance: dict[str, str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    secret, _ = _enrol(client, finance)
    monkeypatch.setenv("SHUYU_SIGNIN_MAX_FAILURES", "3")
    get_settings.cache_clear()
    for _ in range(3):
        assert client.post("/api/v1/me/two-factor/disable", headers=finance, json={"code": "000000"}).status_code == 422
    locked = client.post("/api/v1/me/two-factor/disable", headers=finance, json={"code": code(secret)})
    assert locked.status_code == 429
    assert client.get("/api/v1/me/two-factor", headers=finance).json()["enabled"] is True


def test_a_required_role_needs_two_factor_for_sessions_but_not_for_api_keys(
        client: TestClient, finance: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    key = client.post("/api/v1/api-keys", headers=finance, json={"name": "reports", "scope": "read"}).json()["key"]
    monkeypatch.setenv("SHUYU_TWO_FACTOR_REQUIRED_ROLES", '["finance", "data_office", "admin"]')
    get_settings.cache_clear()
    refused = _token(client, "finance@gov.test")
    assert refused.status_code == 401 and refused.json()["type"] == "two-factor-enrolment-required"
    old_session = client.get("/api/v1/me", headers=finance)  # a session from before: enrol first
    assert old_session.status_code == 401 and old_session.json()["type"] == "two-factor-enrolment-required"
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    enterprise_free = client.post("/api/v1/organizations/register", json={
        "name": "数据公司", "credit_code": "91350100M000100Y43", "admin_email": "e@data.test",
        "admin_password": PASSWORD})
    assert enterprise_free.status_code == 201 and _token(client, "e@data.test").status_code == 200


def test_a_required_role_cannot_turn_it_off(client: TestClient, finance: dict[str, str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    secret, _ = _enrol(client, finance)
    monkeypatch.setenv("SHUYU_TWO_FACTOR_REQUIRED_ROLES", '["finance"]')
    get_settings.cache_clear()
    headers = {"Authorization": f"Bearer {_token(client, 'finance@gov.test', code(secret)).json()['access_token']}"}
    refused = client.post("/api/v1/me/two-factor/disable", headers=headers, json={"code": code(secret, -1)})
    assert refused.status_code == 409 and refused.json()["detail_zh"]


def test_production_requires_it_for_office_finance_and_admin_only() -> None:
    from core.config import Settings, two_factor_required

    prod = Settings(env="production")
    assert [r for r in Role if two_factor_required(prod, r.value)] == [Role.data_office, Role.finance, Role.admin]
    assert not any(two_factor_required(Settings(env="development"), r.value) for r in Role)


def test_an_admin_reset_removes_the_authenticator_and_is_audited(client: TestClient,
                                                                finance: dict[str, str]) -> None:
    _enrol(client, finance)
    admin = staff(client, "admin@ops.test", Role.admin)
    listed = client.get("/api/v1/admin/users", headers=admin, params={"q": "finance@"}).json()["items"]
    assert listed[0]["two_factor"] is True
    assert client.post(f"/api/v1/admin/users/{listed[0]['id']}/two-factor/reset", headers=finance).status_code == 403
    assert client.post(f"/api/v1/admin/users/{listed[0]['id']}/two-factor/reset", headers=admin).status_code == 204
    assert _token(client, "finance@gov.test").status_code == 200
    with unit_of_work() as session:
        assert session.exec(select(TwoFactor)).all() == []
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "admin.two_factor_reset")).one()
    assert event.data == {"email": "finance@gov.test", "had": True}
