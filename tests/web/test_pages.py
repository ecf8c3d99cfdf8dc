"""The pages over HTTP: languages, sign-in cookies, CSRF, errors as sentences, no inline script."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.auth import SESSION_COOKIE, Role
from tests.flow import PASSWORD, World, ok, staff
from web import i18n
from web.charts import bar_chart, nice_ticks, short
from web.session import CSRF_COOKIE


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def browser_sign_in(client: TestClient, email: str, password: str = PASSWORD) -> None:
    """Sign in through the form, as a browser does (the client keeps the cookies)."""
    token = csrf_of(client.get("/signin").text)
    response = client.post("/signin", data={"email": email, "password": password, "csrf": token},
                           follow_redirects=False)
    assert response.status_code == 303, response.text


def test_the_language_follows_accept_language_and_the_switch_sticks(client: TestClient) -> None:
    english = client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9,zh;q=0.5"})
    assert '<html lang="en">' in english.text and "<h1>Catalog</h1>" in english.text
    chinese = client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert '<html lang="zh-CN">' in chinese.text and "<h1>数据目录</h1>" in chinese.text
    switched = client.get("/lang/en?next=/listings/1", follow_redirects=False)
    assert switched.status_code == 303 and switched.headers["location"] == "/listings/1"
    assert "<h1>Catalog</h1>" in client.get("/", headers={"Accept-Language": "zh-CN"}).text
    assert client.get("/lang/zh-CN?next=https://evil.example/", follow_redirects=False).headers["location"] == "/"


def test_money_numbers_and_dates_are_written_for_the_locale() -> None:
    assert i18n.money(123450) == "¥1,234.50"
    assert i18n.money(-5) == "-¥0.05"
    assert i18n.money(100, "USD") == "US$1.00"
    assert i18n.plain(100000.0) == "100,000" and i18n.plain(0.5) == "0.5" and i18n.plain(0.00001) == "0.00001"
    assert i18n.number(1234.567, 2) == "1,234.57" and i18n.value(2.0) == "2"
    moment = datetime(2026, 1, 5, 18, 7, tzinfo=UTC)  # the next morning in Beijing (UTC+8)
    assert i18n.when("zh-CN", moment) == "2026年1月6日 02:07" and i18n.when("en", moment) == "6 Jan 2026 02:07"
    assert i18n.negotiate("fr-FR, en;q=0.8, zh;q=0.9") == "zh-CN"
    assert i18n.negotiate("de") == "zh-CN"


def test_sign_in_sets_a_safe_cookie_and_sign_out_revokes_it(client: TestClient) -> None:
    World(client)
    token = csrf_of(client.get("/signin").text)
    response = client.post("/signin", data={"email": "finance@gov.test", "password": PASSWORD, "csrf": token,
                                            "next": ""}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/finance"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower() and "Secure" not in cookie
    secret = client.cookies[SESSION_COOKIE]
    assert ok(client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}))["role"] == "finance"
    signed_out = client.post("/signout", data={"csrf": token}, follow_redirects=False)
    assert signed_out.status_code == 303
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_the_session_cookie_is_secure_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.responses import Response

    from core.config import get_settings
    from web.session import set_session_cookie

    monkeypatch.setattr(get_settings(), "env", "production")
    response = Response()
    set_session_cookie(response, "sy_tok_x")
    assert "Secure" in response.headers["set-cookie"] and "HttpOnly" in response.headers["set-cookie"]


def test_a_wrong_password_is_a_sentence_on_the_form(client: TestClient) -> None:
    World(client)
    token = csrf_of(client.get("/signin", headers={"Accept-Language": "en"}).text)
    response = client.post("/signin", data={"email": "finance@gov.test", "password": "nope", "csrf": token},
                           headers={"Accept-Language": "en"})
    assert response.status_code == 401 and "Wrong email or password" in response.text
    assert SESSION_COOKIE not in client.cookies
    zh = client.post("/signin", data={"email": "finance@gov.test", "password": "nope", "csrf": token},
                     headers={"Accept-Language": "zh-CN"})
    assert zh.status_code == 401 and "邮箱或密码错误" in zh.text and "Wrong email" not in zh.text


def test_a_form_without_this_browsers_token_is_refused(client: TestClient) -> None:
    World(client)
    refused = client.post("/signin", data={"email": "finance@gov.test", "password": PASSWORD},
                          headers={"Accept-Language": "en"})
    assert refused.status_code == 403 and "reload the page" in refused.text
    csrf_of(client.get("/signin").text)  # this browser now has a CSRF cookie ...
    forged = client.post("/signin", data={"email": "finance@gov.test", "password": PASSWORD, "csrf": "0" * 64})
    assert forged.status_code == 403  # ... but a token made up by another site does not match it
    assert SESSION_COOKIE not in client.cookies


def test_registration_checks_the_credit_code_as_you_type_and_on_submit(client: TestClient) -> None:
    client.headers["Accept-Language"] = "en"
    typed = client.get("/register/credit-code", params={"credit_code": "91350100M000100Y44"})
    assert "check character is wrong" in typed.text and 'data-valid="false"' in typed.text
    assert 'data-valid="true"' in client.get("/register/credit-code", params={"credit_code": "91350100M000100Y43"}).text
    token = csrf_of(client.get("/register").text)
    form = {"name": "坏公司 Bad Co", "credit_code": "91350100M000100Y44", "email": "a@bad.test",
            "password": PASSWORD, "csrf": token}
    refused = client.post("/register", data=form)
    assert refused.status_code == 422 and "check character is wrong" in refused.text
    assert 'value="坏公司 Bad Co"' in refused.text  # what was typed is kept
    done = client.post("/register", data={**form, "credit_code": "91350100M000100Y43"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith("/enterprise")
    assert "坏公司 Bad Co" in client.get("/enterprise").text


def test_page_errors_are_sentences_and_pages_need_the_right_role(client: TestClient,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    World(client)
    missing = client.get("/listings/999", headers={"Accept-Language": "en"})
    assert missing.status_code == 404 and "No published listing 999" in missing.text
    assert "text/html" in missing.headers["content-type"]
    anonymous = client.get("/enterprise", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/signin?next=/enterprise"
    browser_sign_in(client, "provider@gov.test")
    wrong = client.get("/finance", headers={"Accept-Language": "en"})
    assert wrong.status_code == 403 and "you are signed in as provider" in wrong.text
    assert client.get("/no-such-page").status_code == 404

    import market.service

    def explode(*_: object, **__: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(market.service.listings, "catalog", explode)
    with TestClient(client.app, raise_server_exceptions=False) as raw:
        failed = raw.get("/", headers={"Accept-Language": "en"})
    assert failed.status_code == 500 and "nothing you sent was lost" in failed.text
    assert "secret internals" not in failed.text and "Traceback" not in failed.text


PAGES_BY_ROLE: dict[str, list[str]] = {
    "enterprise": ["/enterprise", "/enterprise/licences/{licence}", "/enterprise/licences/{licence}/console",
                   "/enterprise/queries/{query}"],
    "provider": ["/provider", "/provider/datasets/{dataset}", "/provider/datasets/{dataset}/listing",
                 "/provider/listings/{listing}"],
    "office": ["/office", "/office/listings", "/office/listings/{listing}", "/office/licences", "/office/audit",
               "/office/audit?verify=1"],
    "finance": ["/finance", "/finance/payments/{payment}", "/finance/ledger", "/finance/revenue",
                "/finance/reconciliations"],
}
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)


class Fields(HTMLParser):
    """Form fields and the labels that name them."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[dict[str, str | None]] = []
        self.labelled: set[str] = set()
        self.in_label = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "label":
            self.in_label += 1
            if found.get("for"):
                self.labelled.add(found["for"] or "")
        elif tag in ("input", "select", "textarea") and found.get("type") not in ("hidden", "submit"):
            self.fields.append({**found, "wrapped": "yes" if self.in_label else None})

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.in_label -= 1

    def unlabelled(self) -> list[str]:
        return [str(f.get("name")) for f in self.fields
                if not (f.get("wrapped") or f.get("aria-label") or f.get("id") in self.labelled)]


def _assert_clean(response: Any, path: str) -> None:
    assert response.status_code == 200, f"{path}: {response.status_code} {response.text[:500]}"
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert not INLINE_SCRIPT.search(response.text), f"{path} has an inline script"
    assert " style=" not in response.text and "<style" not in response.text, f"{path} has an inline style"
    assert re.search(r"\son\w+=", response.text) is None, f"{path} has an inline event handler"
    fields = Fields()
    fields.feed(response.text)
    assert not fields.unlabelled(), f"{path}: fields without a label: {fields.unlabelled()}"
    assert 'name="viewport"' in response.text


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_every_role_page_renders_in_both_languages_without_inline_script(client: TestClient, locale: str) -> None:
    world = World(client)
    enterprise = world.enterprise()
    licence = world.active_licence(enterprise)["id"]
    query = ok(client.post("/api/v1/queries", json={"license_id": licence, "sql": "SELECT COUNT(*) AS n FROM people"},
                           headers=enterprise), 201)
    payment = ok(client.get("/api/v1/payments", headers=world.finance))["items"][0]["id"]
    ids = {"licence": licence, "dataset": world.dataset["id"], "listing": world.listing["id"], "query": query["id"],
           "payment": payment}
    emails = {"enterprise": "analyst@data.test", "provider": "provider@gov.test", "office": "office@gov.test",
              "finance": "finance@gov.test"}
    for path in ["/", f"/listings/{world.listing['id']}", "/signin", "/register", "/disclosures/2026"]:
        _assert_clean(client.get(path, headers={"Accept-Language": locale}), path)
    for role, paths in PAGES_BY_ROLE.items():
        client.cookies.clear()
        browser_sign_in(client, emails[role])
        for template in paths:
            path = template.format(**ids)
            page = client.get(path, headers={"Accept-Language": locale})
            _assert_clean(page, path)
            assert f'<html lang="{locale}">' in page.text


def test_the_bar_chart_draws_one_bar_and_one_error_bar_per_group() -> None:
    svg = str(bar_chart("trips", ["north", "south", "east"], [120.0, -4.0, 33.5], [10.0, 10.0, 10.0]))
    assert svg.count('class="bar"') == 3 and svg.count('class="error-bar"') == 3
    assert 'role="img"' in svg and "<title>trips</title>" in svg
    assert str(bar_chart("<b>", ["<i>"], [1.0])).count("<b>") == 0  # labels are escaped
    assert [short(v) for v in (0.25, 1500.0, 15000.0, 2_500_000.0)] == ["0.25", "1,500", "15k", "2.5M"]
    ticks = nice_ticks(-14.0, 130.0)
    assert ticks[0] <= -14.0 and ticks[-1] >= 130.0 and len(ticks) <= 12


def test_a_provider_page_never_shows_another_providers_dataset(client: TestClient) -> None:
    world = World(client)
    staff(client, "other@gov.test", Role.provider, "其他局 Other Bureau")
    browser_sign_in(client, "other@gov.test")
    page = client.get(f"/provider/datasets/{world.dataset['id']}", headers={"Accept-Language": "en"})
    assert page.status_code == 404 and "income" not in page.text


def test_the_csrf_cookie_is_httponly(client: TestClient) -> None:
    response = client.get("/signin")
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(CSRF_COOKIE))
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower()


def test_the_data_office_sees_the_stated_purpose_before_approving_a_licence(client: TestClient) -> None:
    world = World(client, grade="important")
    enterprise = world.enterprise()
    licence = ok(client.post("/api/v1/licenses", json={"listing_id": world.listing["id"], "offer_id": world.offer_id,
                                                       "purpose": "交通规划研究 transport planning"},
                             headers=enterprise), 201)
    browser_sign_in(client, "office@gov.test")
    page = client.get("/office", headers={"Accept-Language": "en"}).text
    assert f'data-licence="{licence["id"]}"' in page and "交通规划研究 transport planning" in page
    decided = client.post(f"/office/licences/{licence['id']}/review",
                          data={"decision": "approve", "comment": "ok", "csrf": csrf_of(page)}, follow_redirects=False)
    assert decided.status_code == 303
    assert ok(client.get(f"/api/v1/licenses/{licence['id']}", headers=enterprise))["status"] == "awaiting_payment"


def test_finance_sees_revenue_by_month_and_listing_and_refunds_a_payment(client: TestClient) -> None:
    world = World(client)
    enterprise = world.enterprise()
    licence = world.active_licence(enterprise)
    payment = ok(client.get("/api/v1/payments", headers=world.finance))["items"][0]
    browser_sign_in(client, "finance@gov.test")
    revenue = client.get("/finance/revenue", headers={"Accept-Language": "en"}).text
    assert re.search(r'id="net">¥500\.00<', revenue) and revenue.count('class="bar"') == 2
    exported = client.get("/finance/revenue.csv?group_by=listing")
    assert exported.headers["content-type"].startswith("text/csv") and ",50000," in exported.text
    remitted = client.post("/finance/remittances", data={"amount": "100", "reference": "GK-2026-001",
                                                         "csrf": csrf_of(revenue)}, headers={"Accept-Language": "en"})
    assert "Remittance to the treasury recorded" in remitted.text and re.search(r'id="owed">¥400\.00<', remitted.text)
    page = client.get(f"/finance/payments/{payment['id']}").text
    refused = client.post(f"/finance/payments/{payment['id']}/refund",
                          data={"amount": "600.00", "reason": "too much", "csrf": csrf_of(page)},
                          headers={"Accept-Language": "en"})
    assert refused.status_code in (409, 422) and 'role="alert"' in refused.text
    done = client.post(f"/finance/payments/{payment['id']}/refund",
                       data={"amount": "400.00", "reason": "service not delivered", "bank_reference": "RF1",
                             "csrf": csrf_of(page)}, follow_redirects=False)
    assert done.status_code == 303, done.text
    assert ok(client.get(f"/api/v1/licenses/{licence['id']}", headers=enterprise))["status"] == "refunded"
    assert re.search(r'id="net">¥100\.00<', client.get("/finance/revenue").text)


def test_the_data_office_suspends_a_listing_and_a_licence_from_their_pages(client: TestClient) -> None:
    world = World(client)
    enterprise = world.enterprise()
    licence = world.active_licence(enterprise)
    browser_sign_in(client, "office2@gov.test")
    page = client.get(f"/office/listings/{world.listing['id']}", headers={"Accept-Language": "en"}).text
    assert 'id="lifecycle"' in page and 'value="complaint"' in page
    suspended = client.post(f"/office/listings/{world.listing['id']}/transition", data={
        "action": "suspend", "reason_code": "complaint", "comment": "checking", "csrf": csrf_of(page)},
        follow_redirects=False)
    assert suspended.status_code == 303
    assert "Suspended" in client.get(suspended.headers["location"], headers={"Accept-Language": "en"}).text
    query = {"license_id": licence["id"], "sql": "SELECT COUNT(*) AS n FROM people"}
    assert client.post("/api/v1/queries", json=query, headers=enterprise).status_code in (403, 409)

    licences = client.get("/office/licences", headers={"Accept-Language": "en"}).text
    assert f'action="/office/licences/{licence["id"]}/suspend"' in licences
    done = client.post(f"/office/licences/{licence['id']}/suspend",
                       data={"reason": "unpaid invoice", "csrf": csrf_of(licences)}, follow_redirects=False)
    assert done.status_code == 303
    assert ok(client.get(f"/api/v1/licenses/{licence['id']}", headers=enterprise))["status"] == "suspended"


@pytest.fixture
def card_payments(fake_stripe: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Shuyu configured with the local fake Stripe, sending payers back to the test client's host."""
    from core.config import get_settings

    monkeypatch.setenv("SHUYU_BASE_URL", "http://testserver")
    get_settings.cache_clear()
    return fake_stripe


def test_with_stripe_configured_an_enterprise_pays_by_card_and_comes_back(client: TestClient,
                                                                          card_payments: Any) -> None:
    world = World(client)
    world.enterprise()
    browser_sign_in(client, "analyst@data.test")
    page = client.get(f"/listings/{world.listing['id']}").text
    applied = client.post("/enterprise/licences", data={"listing_id": world.listing["id"], "purpose": "客流研究",
                                                        "offer_id": world.offer_id, "csrf": csrf_of(page)})
    assert 'id="pay-card"' in applied.text
    checkout = client.post(applied.url.path + "/checkout", data={"method": "stripe", "csrf": csrf_of(applied.text)})
    link = re.search(r'href="([^"]+)" id="stripe-link" data-auto-follow', checkout.text)
    assert link and link.group(1).startswith(card_payments.base + "/pay/cs_")
    session_id = link.group(1).rsplit("/", 1)[1]
    card_payments.pay(session_id)
    back = client.get(f"/api/v1/checkout/return?session_id={session_id}", headers={"Accept-Language": "en"})
    assert back.url.path == applied.url.path and 'id="licence-status">Active<' in back.text


def test_finance_reconciles_with_stripe_and_sees_the_difference_highlighted(client: TestClient,
                                                                             card_payments: Any) -> None:
    World(client)
    card_payments.add_transaction("adjustment", -1234)  # something Stripe did that Shuyu never booked
    browser_sign_in(client, "finance@gov.test")
    page = client.get("/finance/reconciliations", headers={"Accept-Language": "en"}).text
    done = client.post("/finance/reconciliations", data={"source": "api", "csrf": csrf_of(page)},
                       headers={"Accept-Language": "en"})
    assert re.search(r"/finance/reconciliations/\d+$", done.url.path), done.text[:500]
    assert 'id="missing_in_ledger"' in done.text and 'class="bad-row"' in done.text and "Differences" in done.text
    exported = client.get(done.url.path + "/export.csv")
    assert exported.status_code == 200 and "adjustment" in exported.text
    listed = client.get("/finance/reconciliations", headers={"Accept-Language": "en"}).text
    assert 'class="bad-row"' in listed


def test_the_credit_code_check_speaks_the_viewers_language(client: TestClient) -> None:
    zh = {"Accept-Language": "zh-CN,zh;q=0.9"}
    typed = client.get("/register/credit-code", params={"credit_code": "91350100M000100Y44"}, headers=zh)
    assert "校验码错误" in typed.text and "应为「3」" in typed.text
    short = client.get("/register/credit-code", params={"credit_code": "9135"}, headers=zh)
    assert "应为 18 位" in short.text
    token = csrf_of(client.get("/register", headers=zh).text)
    refused = client.post("/register", headers=zh, data={
        "name": "坏公司", "credit_code": "91350100M000100Y44", "email": "a@bad.test", "password": PASSWORD,
        "csrf": token})
    assert refused.status_code == 422 and "校验码错误" in refused.text
