"""Single sign-on against a real OpenID provider on 127.0.0.1 (oidc-provider-mock): the whole redirect dance
over HTTP — discovery, authorization code with PKCE (checked by the fixture), ID token — then account linking by
verified email or subject, accounts created from mapped claims, and the refusals."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from core.auth import SESSION_COOKIE, Role
from core.config import get_settings
from core.db import unit_of_work
from core.models import AuditEvent, User
from core.sso import OidcIdentity
from tests.flow import staff
from tests.oidc import Provider, oidc_provider

__all__ = ["oidc_provider"]


@pytest.fixture
def base_url(oidc_provider: Provider, monkeypatch: pytest.MonkeyPatch) -> str:
    """The TestClient's address is where the provider sends people back."""
    monkeypatch.setenv("SHUYU_BASE_URL", "http://testserver")
    get_settings.cache_clear()
    return "http://testserver"


def _settings(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for name, value in values.items():
        monkeypatch.setenv(f"SHUYU_OIDC_{name.upper()}", value)
    get_settings.cache_clear()


def _dance(client: TestClient, sub: str, next_path: str = "") -> Any:
    """Sign in by SSO as `sub`: our redirect, the provider's form (as the person submits it), our callback."""
    start = client.get("/auth/oidc/login" + (f"?next={next_path}" if next_path else ""), follow_redirects=False)
    assert start.status_code == 303, start.text
    to_provider = start.headers["location"]
    query = parse_qs(urlsplit(to_provider).query)
    assert query["code_challenge_method"] == ["S256"] and query["nonce"] and query["state"]
    assert query["scope"] == ["openid email profile"] and "code_verifier" not in query
    back = httpx.post(to_provider, data={"sub": sub}, follow_redirects=False)
    assert back.status_code == 302, back.text
    callback = urlsplit(back.headers["location"])
    assert callback.path == "/auth/oidc/callback"
    return client.get(f"{callback.path}?{callback.query}", follow_redirects=False)


def _actions() -> list[str]:
    with unit_of_work() as session:
        return [e.action for e in session.exec(select(AuditEvent).order_by(AuditEvent.seq)).all()]


def test_the_sign_in_page_offers_sso_only_when_configured(client: TestClient, monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    assert 'id="sso"' not in client.get("/signin").text
    assert client.get("/auth/oidc/login", follow_redirects=False).status_code == 404
    _settings(monkeypatch, issuer="https://id.example.test", client_id="shuyu", display_name="统一身份认证")
    page = client.get("/signin", headers={"Accept-Language": "zh-CN"}).text
    assert 'id="sso"' in page and "使用统一身份认证登录" in page and 'id="password"' in page


def test_a_verified_email_links_the_account_and_signs_in(client: TestClient, oidc_provider: Provider,
                                                         base_url: str) -> None:
    staff(client, "office@gov.test", Role.data_office)
    done = _dance(client, "office-1", "/office/licences")
    assert done.status_code == 303 and done.headers["location"] == "/office/licences", done.text
    assert client.cookies.get(SESSION_COOKIE)
    assert client.get("/office").status_code == 200
    assert oidc_provider.challenges and oidc_provider.refused_verifiers == 0  # PKCE sent and checked
    with unit_of_work() as session:
        identity = session.exec(select(OidcIdentity)).one()
    assert (identity.issuer, identity.subject) == (oidc_provider.issuer, "office-1")
    assert {"auth.sso_linked", "auth.sso_signed_in"} <= set(_actions())


def test_a_linked_subject_signs_in_even_after_its_email_changes(client: TestClient, oidc_provider: Provider,
                                                               base_url: str) -> None:
    staff(client, "office@gov.test", Role.data_office)
    assert _dance(client, "office-1").status_code == 303
    client.cookies.clear()
    oidc_provider.set_user("office-1", {"email": "renamed@gov.test", "email_verified": True})
    again = _dance(client, "office-1")
    assert again.status_code == 303 and again.headers["location"] == "/office"


def test_an_unverified_email_is_never_linked(client: TestClient, oidc_provider: Provider, base_url: str) -> None:
    staff(client, "office@gov.test", Role.data_office)
    oidc_provider.set_user("impostor", {"email": "office@gov.test", "email_verified": False})
    refused = _dance(client, "impostor")
    assert refused.status_code == 403 and "本平台没有与此身份匹配的账号" in refused.text
    assert client.cookies.get(SESSION_COOKIE) is None


def test_a_new_account_is_created_from_mapped_claims(client: TestClient, oidc_provider: Provider, base_url: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _settings(monkeypatch, create_users="true", role_claim="groups", role_map='{"gov-finance": "finance"}')
    oidc_provider.set_user("fin-7", {"email": "Cashier@Gov.test", "email_verified": True,
                                     "groups": ["staff", "gov-finance"]})
    done = _dance(client, "fin-7")
    assert done.status_code == 303 and done.headers["location"] == "/finance", done.text
    with unit_of_work() as session:
        user = session.exec(select(User).where(User.email == "cashier@gov.test")).one()
    assert user.role == "finance"
    assert "auth.sso_account_created" in _actions()


def test_a_role_not_allowed_for_sso_is_refused(client: TestClient, oidc_provider: Provider, base_url: str) -> None:
    staff(client, "admin@ops.test", Role.admin)
    oidc_provider.set_user("root", {"email": "admin@ops.test", "email_verified": True})
    refused = _dance(client, "root")
    assert refused.status_code == 403 and "不允许使用统一身份认证登录" in refused.text


def test_a_callback_that_did_not_start_here_is_refused(client: TestClient, oidc_provider: Provider,
                                                       base_url: str) -> None:
    staff(client, "office@gov.test", Role.data_office)
    start = client.get("/auth/oidc/login", follow_redirects=False)
    back = httpx.post(start.headers["location"], data={"sub": "office-1"}, follow_redirects=False)
    callback = urlsplit(back.headers["location"])
    forged = callback.query.replace("state=", "state=x")
    assert client.get(f"{callback.path}?{forged}", follow_redirects=False).status_code == 401
    assert client.get(f"{callback.path}?code=x&state=状态", follow_redirects=False).status_code == 401
    client.cookies.clear()  # another browser, without the state cookie
    stolen = client.get(f"{callback.path}?{callback.query}", follow_redirects=False)
    assert stolen.status_code == 401 and client.cookies.get(SESSION_COOKIE) is None


def test_sso_still_asks_an_enrolled_person_for_the_second_factor(client: TestClient, oidc_provider: Provider,
                                                                 base_url: str) -> None:
    headers = staff(client, "office@gov.test", Role.data_office)
    from tests.twofactor_codes import code

    secret = client.post("/api/v1/me/two-factor/enrolment", headers=headers).json()["secret"]
    client.post("/api/v1/me/two-factor/enrolment/confirm", headers=headers, json={"code": code(secret, 1)})
    done = _dance(client, "office-1")
    assert done.status_code == 303 and done.headers["location"] == "/signin/code"
    assert client.cookies.get(SESSION_COOKIE) is None


def test_a_second_factor_checked_by_the_provider_is_trusted(client: TestClient, oidc_provider: Provider,
                                                            base_url: str) -> None:
    headers = staff(client, "office@gov.test", Role.data_office)
    from tests.twofactor_codes import code

    secret = client.post("/api/v1/me/two-factor/enrolment", headers=headers).json()["secret"]
    client.post("/api/v1/me/two-factor/enrolment/confirm", headers=headers, json={"code": code(secret, 1)})
    oidc_provider.set_user("office-1", {"email": "office@gov.test", "email_verified": True, "amr": ["pwd", "otp"]})
    done = _dance(client, "office-1")
    assert done.status_code == 303 and done.headers["location"] == "/office"


def test_production_refuses_sso_over_plain_http_or_without_a_secret() -> None:
    from core.config import ConfigError, Settings, check_production

    base = {"env": "production", "master_key": "A" * 43 + "=", "treasury_account_name": "国库专户",
            "treasury_bank": "人民银行", "treasury_account_number": "1234", "oidc_client_id": "shuyu"}
    with pytest.raises(ConfigError, match="https"):
        check_production(Settings(**base, oidc_issuer="http://id.gov.test", oidc_client_secret="s"))
    with pytest.raises(ConfigError, match="SECRET"):
        check_production(Settings(**base, oidc_issuer="https://id.gov.test"))
    check_production(Settings(**base, oidc_issuer="https://id.gov.test", oidc_client_secret="a real secret"))


def test_an_enterprise_account_created_by_sso_starts_as_a_viewer(client: TestClient, oidc_provider: Provider,
                                                                 base_url: str, monkeypatch: pytest.MonkeyPatch
                                                                 ) -> None:
    from core.scopes import OrgMember
    from tests.flow import CREDIT_CODE, PASSWORD

    assert client.post("/api/v1/organizations/register", json={
        "name": "数据公司 Data Co", "credit_code": CREDIT_CODE, "admin_email": "boss@data.test",
        "admin_password": PASSWORD}).status_code == 201
    _settings(monkeypatch, create_users="true", role_claim="role", org_claim="uscc")
    oidc_provider.set_user("emp-1", {"email": "emp@data.test", "email_verified": True, "role": "enterprise",
                                     "uscc": CREDIT_CODE})
    assert _dance(client, "emp-1").headers["location"] == "/enterprise"
    with unit_of_work() as session:
        user = session.exec(select(User).where(User.email == "emp@data.test")).one()
        assert session.get(OrgMember, user.id).org_role == "viewer"  # type: ignore[union-attr]
    oidc_provider.set_user("emp-2", {"email": "x@data.test", "email_verified": True, "role": "enterprise",
                                     "uscc": "91350100M000200Y4T"})
    assert _dance(client, "emp-2").status_code == 403  # an enterprise not registered here


def _csrf(client: TestClient, path: str) -> str:
    import re

    found = re.search(r'name="csrf" value="([0-9a-f]+)"', client.get(path).text)
    assert found, f"{path} has no CSRF field"
    return found.group(1)


def test_a_person_sees_their_identities_and_an_unlinked_one_cannot_link_itself_again(
        client: TestClient, oidc_provider: Provider, base_url: str) -> None:
    headers = staff(client, "office@gov.test", Role.data_office)
    assert _dance(client, "office-1").status_code == 303
    assert client.get("/office").status_code == 200  # the session single sign-on opened
    mine = client.get("/api/v1/me/identities", headers=headers).json()
    assert [(i["issuer"], i["email"]) for i in mine] == [(oidc_provider.issuer, "office@gov.test")]
    assert mine[0]["last_sign_in_at"] and mine[0]["linked_at"]
    other = staff(client, "finance@gov.test", Role.finance)
    assert client.delete(f"/api/v1/me/identities/{mine[0]['id']}", headers=other).status_code == 404
    assert client.delete(f"/api/v1/me/identities/{mine[0]['id']}", headers=headers).status_code == 204
    assert client.get("/office", follow_redirects=False).status_code in (302, 303, 401)  # its session ended
    assert client.get("/api/v1/me/identities", headers=headers).json() == []
    assert client.delete(f"/api/v1/me/identities/{mine[0]['id']}", headers=headers).status_code == 404
    assert "auth.sso_unlinked" in _actions()
    client.cookies.clear()
    refused = _dance(client, "office-1")  # the same verified email would link it again: it must not
    assert refused.status_code == 403 and "已与账号解除关联" in refused.text
    assert client.cookies.get(SESSION_COOKIE) is None


def test_a_signed_in_person_links_an_identity_again_from_the_account_page(
        client: TestClient, oidc_provider: Provider, base_url: str) -> None:
    from tests.flow import PASSWORD

    headers = staff(client, "office@gov.test", Role.data_office)
    assert _dance(client, "office-1").status_code == 303
    identity = client.get("/api/v1/me/identities", headers=headers).json()[0]
    client.post(f"/account/identities/{identity['id']}/unlink",
                data={"csrf": _csrf(client, "/account/security")}, follow_redirects=False)
    assert client.get("/api/v1/me/identities", headers=headers).json() == []
    client.cookies.clear()
    signin = client.post("/signin", data={"email": "office@gov.test", "password": PASSWORD,
                                          "csrf": _csrf(client, "/signin")}, follow_redirects=False)
    assert signin.status_code == 303
    page = client.get("/account/security").text
    assert 'id="no-identities"' in page and 'id="link-identity"' in page
    assert client.post("/account/identities/link", follow_redirects=False).status_code == 403  # no CSRF token
    start = client.post("/account/identities/link", data={"csrf": _csrf(client, "/account/security")},
                        follow_redirects=False)
    assert start.status_code == 303 and start.headers["location"].startswith(oidc_provider.issuer)
    back = httpx.post(start.headers["location"], data={"sub": "office-1"}, follow_redirects=False)
    callback = urlsplit(back.headers["location"])
    done = client.get(f"{callback.path}?{callback.query}", follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/account/security?linked=1", done.text
    assert [i["email"] for i in client.get("/api/v1/me/identities", headers=headers).json()] == ["office@gov.test"]
    client.cookies.clear()
    assert _dance(client, "office-1").headers["location"] == "/office"  # signs in again


def test_linking_is_refused_when_another_account_holds_the_identity(
        client: TestClient, oidc_provider: Provider, base_url: str) -> None:
    from tests.flow import PASSWORD

    staff(client, "office@gov.test", Role.data_office)
    staff(client, "second@gov.test", Role.data_office)
    assert _dance(client, "office-1").status_code == 303  # office-1 is office@gov.test's
    client.cookies.clear()
    client.post("/signin", data={"email": "second@gov.test", "password": PASSWORD,
                                 "csrf": _csrf(client, "/signin")}, follow_redirects=False)
    start = client.post("/account/identities/link", data={"csrf": _csrf(client, "/account/security")},
                        follow_redirects=False)
    back = httpx.post(start.headers["location"], data={"sub": "office-1"}, follow_redirects=False)
    callback = urlsplit(back.headers["location"])
    refused = client.get(f"{callback.path}?{callback.query}", follow_redirects=False)
    assert refused.status_code == 403 and "已关联到本平台的另一个账号" in refused.text


def test_signing_out_of_a_session_from_sso_ends_the_providers_session_too(
        client: TestClient, oidc_provider: Provider, base_url: str) -> None:
    from tests.flow import PASSWORD

    staff(client, "office@gov.test", Role.data_office)
    assert _dance(client, "office-1").status_code == 303
    office = client.get("/office")  # browsers check a form's redirects against the page's form-action
    assert f"form-action 'self' {oidc_provider.issuer}" in office.headers["content-security-policy"]
    out = client.post("/signout", data={"csrf": _csrf(client, "/office")}, follow_redirects=False)
    assert out.status_code == 303
    to = urlsplit(out.headers["location"])
    assert f"{to.scheme}://{to.netloc}{to.path}" == oidc_provider.issuer + "/oauth2/end_session"
    assert parse_qs(to.query) == {"client_id": ["shuyu-test"], "post_logout_redirect_uri": ["http://testserver/"]}
    assert client.get("/office", follow_redirects=False).status_code != 200  # our own session ended first
    confirm = httpx.get(out.headers["location"])  # the provider's page offers to end its session, then return
    assert confirm.status_code == 200 and 'value="http://testserver/"' in confirm.text
    client.cookies.clear()  # a session from a password: signing out stays here
    client.post("/signin", data={"email": "office@gov.test", "password": PASSWORD,
                                 "csrf": _csrf(client, "/signin")}, follow_redirects=False)
    out = client.post("/signout", data={"csrf": _csrf(client, "/office")}, follow_redirects=False)
    assert out.headers["location"] == "/"


def test_a_session_from_sso_through_the_second_factor_still_signs_out_at_the_provider(
        client: TestClient, oidc_provider: Provider, base_url: str) -> None:
    from tests.twofactor_codes import code

    headers = staff(client, "office@gov.test", Role.data_office)
    secret = client.post("/api/v1/me/two-factor/enrolment", headers=headers).json()["secret"]
    client.post("/api/v1/me/two-factor/enrolment/confirm", headers=headers, json={"code": code(secret, 1)})
    assert _dance(client, "office-1").headers["location"] == "/signin/code"
    done = client.post("/signin/code", data={"code": code(secret), "csrf": _csrf(client, "/signin/code")},
                       follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/office", done.text
    out = client.post("/signout", data={"csrf": _csrf(client, "/office")}, follow_redirects=False)
    assert out.headers["location"].startswith(oidc_provider.issuer + "/oauth2/end_session?")


def test_a_provider_without_rp_initiated_logout_signs_out_here_only(
        client: TestClient, oidc_provider: Provider, base_url: str) -> None:
    from core.sso import sso

    staff(client, "office@gov.test", Role.data_office)
    assert _dance(client, "office-1").status_code == 303
    sso.discovery().pop("end_session_endpoint")
    out = client.post("/signout", data={"csrf": _csrf(client, "/office")}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/"
