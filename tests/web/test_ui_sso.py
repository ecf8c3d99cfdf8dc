"""In a real browser: a data-office person clicks "Sign in with …", signs in at the OpenID provider (the
oidc-provider-mock on 127.0.0.1) and lands on their page, signed in, with the password form still beside it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import expect

from core.auth import Role
from core.config import get_settings
from tests.flow import staff
from tests.oidc import Provider, oidc_provider
from tests.web.ui import VIEWPORT, sign_in, watch

__all__ = ["oidc_provider"]


@pytest.fixture
def office_page(client: TestClient, live_server: str, browser: Any, oidc_provider: Provider,
                monkeypatch: pytest.MonkeyPatch) -> Any:
    """A data-office account, and a Chinese browser page for it, with SSO pointed at this live server."""
    monkeypatch.setenv("SHUYU_BASE_URL", live_server)
    get_settings.cache_clear()
    staff(client, "office@gov.test", Role.data_office)
    page = watch(browser.new_context(locale="zh-CN", viewport=VIEWPORT).new_page())
    page.route(re.compile(r"^https://"), lambda route: route.abort())  # the mock's page links a CDN stylesheet
    return page


def test_sign_in_with_the_identity_provider(office_page: Any, live_server: str, oidc_provider: Provider) -> None:
    page = office_page
    page.goto(live_server + "/signin?next=/office/licences")
    expect(page.locator("#password")).to_be_visible()
    expect(page.locator("#sso")).to_have_text("使用Test ID登录")
    page.click("#sso")
    expect(page).to_have_url(re.compile(re.escape(oidc_provider.issuer) + r"/oauth2/authorize\?"))
    page.click("button[name=sub][value=office-1]")
    expect(page).to_have_url(f"{live_server}/office/licences")
    expect(page.locator(".who")).to_contain_text("office@gov.test")
    assert oidc_provider.refused_verifiers == 0 and len(oidc_provider.challenges) == 1
    assert page.errors == []


def test_signing_out_ends_the_providers_session_and_comes_back(office_page: Any, live_server: str,
                                                                oidc_provider: Provider) -> None:
    page = office_page
    page.goto(live_server + "/signin")
    page.click("#sso")
    page.click("button[name=sub][value=office-1]")
    expect(page).to_have_url(f"{live_server}/office")
    page.click("#signout")
    expect(page).to_have_url(re.compile(re.escape(oidc_provider.issuer) + r"/oauth2/end_session\?"))
    page.get_by_role("button", name="End session").click()  # the provider asks (no id_token_hint)
    expect(page).to_have_url(live_server + "/")
    expect(page.locator(".who")).to_have_count(0)
    assert page.errors == []


def test_a_person_links_and_unlinks_an_identity_on_the_account_page(office_page: Any, live_server: str,
                                                                    oidc_provider: Provider) -> None:
    page = office_page
    sign_in(page, live_server, "office@gov.test")
    page.goto(live_server + "/account/security")
    expect(page.locator("#no-identities")).to_be_visible()
    page.click("#link-identity")
    page.click("button[name=sub][value=office-1]")
    expect(page).to_have_url(f"{live_server}/account/security?linked=1")
    row = page.locator("#identities tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(oidc_provider.issuer)
    expect(row).to_contain_text("office@gov.test")
    row.locator("button").click()
    expect(page).to_have_url(f"{live_server}/account/security?unlinked=1")
    expect(page.locator("#no-identities")).to_be_visible()
    expect(page.locator("[role=status]")).to_contain_text("已解除关联")
    assert page.errors == []
