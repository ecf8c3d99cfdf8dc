"""Accounts hold up to guessing (OWASP ASVS level 2): repeated failures lock an account or an address out
with 429 and Retry-After and an audit event, unknown emails cost the same hashing as known ones, common and
short passwords are refused everywhere a password is set, and hashes are argon2id (older scrypt hashes are
replaced at the next sign-in)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select
from typer.testing import CliRunner

from core import auth
from core.accounts import accounts
from core.auth import Role
from core.db import unit_of_work
from core.models import AuditEvent, SignInThrottle, User, utcnow
from tests.figures import record
from tests.flow import CREDIT_CODE, PASSWORD, staff

TOKEN = "/api/v1/auth/token"


def _sign_in(client: TestClient, email: str, password: str) -> Any:
    return client.post(TOKEN, data={"username": email, "password": password})


@pytest.fixture
def office(client: TestClient) -> str:
    staff(client, "office@gov.test", Role.data_office)
    return "office@gov.test"


def test_ten_wrong_passwords_lock_the_account_even_against_the_right_one(client: TestClient, office: str) -> None:
    for _ in range(10):
        assert _sign_in(client, office, "wrong password here").status_code == 401
    locked = _sign_in(client, office, PASSWORD)
    assert locked.status_code == 429, locked.text
    assert locked.json()["type"] == "too-many-attempts" and locked.json()["detail_zh"]
    assert 0 < int(locked.headers["Retry-After"]) <= 900
    with unit_of_work() as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "auth.locked_out")).all()
    assert [(e.subject_type, e.subject_id) for e in events] == [("account", office)]
    record("sign-in throttling", wrong_passwords=10, then_right_password=locked.status_code,
           retry_after_seconds=int(locked.headers["Retry-After"]), audit_events=len(events),
           held="429 too-many-attempts with Retry-After, even for the right password")


def test_a_lockout_ends_and_the_right_password_then_works(client: TestClient, office: str) -> None:
    for _ in range(10):
        _sign_in(client, office, "wrong password here")
    assert _sign_in(client, office, PASSWORD).status_code == 429
    with unit_of_work() as session:  # let the lockout run out
        for row in session.exec(select(SignInThrottle)).all():
            row.locked_until = utcnow() - timedelta(seconds=1)
            session.add(row)
    assert _sign_in(client, office, PASSWORD).status_code == 200


def test_a_correct_password_clears_the_accounts_count(client: TestClient, office: str) -> None:
    for _ in range(9):
        _sign_in(client, office, "wrong password here")
    assert _sign_in(client, office, PASSWORD).status_code == 200
    for _ in range(9):
        assert _sign_in(client, office, "wrong password here").status_code == 401
    assert _sign_in(client, office, PASSWORD).status_code == 200


def test_guessing_across_many_accounts_locks_the_address(client: TestClient, monkeypatch: pytest.MonkeyPatch,
                                                          office: str) -> None:
    monkeypatch.setenv("SHUYU_SIGNIN_MAX_FAILURES_PER_ADDRESS", "5")
    from core.config import get_settings
    get_settings.cache_clear()
    for n in range(5):
        assert _sign_in(client, f"nobody{n}@gov.test", "wrong password here").status_code == 401
    refused = _sign_in(client, office, PASSWORD)  # a real account, from the same address
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    with unit_of_work() as session:
        assert session.exec(select(AuditEvent).where(AuditEvent.action == "auth.locked_out",
                                                     AuditEvent.subject_type == "address")).first()


def test_an_unknown_email_costs_the_same_hashing_as_a_known_one(client: TestClient, office: str,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    verified: list[str] = []

    class Counting:
        def __init__(self, real: Any) -> None:
            self.real = real

        def __getattr__(self, name: str) -> Any:
            return getattr(self.real, name)

        def verify(self, stored: str, password: str) -> bool:
            verified.append(stored.split("$")[1])
            return bool(self.real.verify(stored, password))

    monkeypatch.setattr(auth, "_TEST_HASHER", Counting(auth._TEST_HASHER))
    assert _sign_in(client, office, "wrong password here").status_code == 401
    known = list(verified)
    verified.clear()
    unknown = _sign_in(client, "nobody@gov.test", "wrong password here")
    assert unknown.status_code == 401 and unknown.json()["detail"] == "Wrong email or password"
    assert verified == known == ["argon2id"]


@pytest.mark.parametrize("password", ["12345678", "password", " " * 8, "password1234", "office@gov.test1",
                                      "short1!"])
def test_common_and_short_passwords_are_refused_for_staff(client: TestClient, password: str) -> None:
    with pytest.raises(Exception) as info, unit_of_work() as session:
        accounts.create_staff(session, "office@gov.test", password, Role.data_office, None)
    assert getattr(info.value, "type", None) == "weak-password"


@pytest.mark.parametrize("password", ["12345678", "password", " " * 12])
def test_registration_refuses_common_passwords_with_a_chinese_sentence(client: TestClient, password: str) -> None:
    response = client.post("/api/v1/organizations/register", json={
        "name": "数据公司", "credit_code": CREDIT_CODE, "admin_email": "a@data.test", "admin_password": password})
    assert response.status_code == 422, response.text
    assert response.json()["type"] == "weak-password" and response.json()["detail_zh"]


def test_the_cli_applies_the_same_password_policy(client: TestClient) -> None:
    from web.cli import app

    runner = CliRunner()
    weak = runner.invoke(app, ["users", "create", "--email", "f@gov.test", "--password", "password",
                               "--role", "finance"])
    assert weak.exit_code == 1 and "Passwords need at least" in weak.output
    common = runner.invoke(app, ["users", "create", "--email", "f@gov.test", "--password", "password1234",
                                 "--role", "finance"])
    assert common.exit_code == 1 and "common or easy to guess" in common.output
    good = runner.invoke(app, ["users", "create", "--email", "f@gov.test", "--password", PASSWORD,
                               "--role", "finance"])
    assert good.exit_code == 0, good.output


def test_passwords_are_stored_as_argon2id(client: TestClient, office: str) -> None:
    with unit_of_work() as session:
        user = session.exec(select(User).where(User.email == office)).one()
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


def test_outside_tests_passwords_get_the_full_argon2id_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.config import get_settings

    try:
        for env in ("production", "development"):
            monkeypatch.setenv("SHUYU_ENV", env)
            get_settings.cache_clear()
            stored = auth.hash_password(PASSWORD)
            assert "$m=65536,t=3,p=4$" in stored and auth.verify_password(PASSWORD, stored)
            assert auth.needs_rehash(auth._TEST_HASHER.hash(PASSWORD))  # a cheap hash is replaced at sign-in
    finally:
        monkeypatch.setenv("SHUYU_ENV", "test")
        get_settings.cache_clear()


def _old_scrypt(password: str) -> str:
    """The hash format before argon2id, as stored by earlier releases."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, n=2**14, r=8, p=1)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def test_an_old_scrypt_hash_still_signs_in_and_is_upgraded_to_argon2id(client: TestClient, office: str) -> None:
    with unit_of_work() as session:
        user = session.exec(select(User).where(User.email == office)).one()
        user.password_hash = _old_scrypt(PASSWORD)
        session.add(user)
    assert _sign_in(client, office, "not the password").status_code == 401
    with unit_of_work() as session:
        assert session.exec(select(User).where(User.email == office)).one().password_hash.startswith("scrypt$")
    assert _sign_in(client, office, PASSWORD).status_code == 200
    with unit_of_work() as session:
        upgraded = session.exec(select(User).where(User.email == office)).one().password_hash
    assert upgraded.startswith("$argon2id$") and auth.verify_password(PASSWORD, upgraded)
    assert _sign_in(client, office, PASSWORD).status_code == 200
