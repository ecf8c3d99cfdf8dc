"""Every main page of every role, in Chinese and in English, in a real browser, on the demo data.

Each page must render its heading in the chosen language with no script error or CSP refusal. With
SHUYU_SCREENSHOTS=docs/screenshots the run also refreshes the README's pictures (1280x800 viewport).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import expect

from tests.web.ui import VIEWPORT, shot, sign_in, watch
from web import demo
from web.i18n import translate

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def demo_accounts(client: TestClient) -> dict[str, str]:
    for _ in demo.seed():
        pass
    return demo._passwords()


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_every_main_page_renders_in_both_languages(client: TestClient, live_server: str, browser: Any,
                                                   demo_accounts: dict[str, str], locale: str) -> None:
    short = "zh" if locale == "zh-CN" else "en"
    context = browser.new_context(locale=locale, viewport=VIEWPORT)
    page = watch(context.new_page())

    def visit(path: str, name: str | None, heading: str) -> None:
        page.goto(live_server + path)
        expect(page.locator("h1")).to_contain_text(translate(locale, heading))
        if name:
            shot(page, f"{short}-{name}")

    visit("/", "catalog", "Catalog")
    page.locator(".card h2 a").first.click()
    expect(page.locator("#dictionary")).to_contain_text("鼓楼区")
    shot(page, f"{short}-listing")

    _as(page, live_server, demo.ENTERPRISE_EMAIL, demo_accounts)
    visit("/enterprise", "enterprise-licences", "My licences")
    page.locator(".licence h2 a").first.click()
    page.locator("#history tr", has_text="GROUP BY district").locator("a").click()
    expect(page.locator("svg.chart .error-bar")).to_have_count(10)  # 5 districts × (trips, avg_fare)
    shot(page, f"{short}-query-result")
    page.click("#licence-link")
    page.click("#console-link")
    page.fill("#sql", "SELECT hour, COUNT(*) AS trips FROM bus_trips WHERE district = '鼓楼区' GROUP BY hour")
    page.click("#preview-button")
    expect(page.locator("#preview-cost")).to_be_visible()
    shot(page, f"{short}-query-console")

    _as(page, live_server, "provider@demo.shuyu.cn", demo_accounts)
    visit("/provider", "provider-home", "My data")
    page.locator("#my-datasets a").first.click()
    expect(page.locator("#dictionary-form")).to_be_visible()
    shot(page, f"{short}-provider-dictionary")

    _as(page, live_server, "office1@demo.shuyu.cn", demo_accounts)
    visit("/office", None, "Review")
    visit("/office/listings", None, "All listings")
    page.locator("#listings a").first.click()
    expect(page.locator("#lifecycle")).to_be_visible()
    shot(page, f"{short}-office-listing")
    visit("/office/audit?verify=1", "office-audit", "Audit log")
    expect(page.locator("#verdict")).to_have_class(re.compile("ok"))

    _as(page, live_server, "finance@demo.shuyu.cn", demo_accounts)
    visit("/finance", None, "Bank transfers to confirm")
    visit("/finance/ledger", "finance-ledger", "Trial balance")
    visit("/finance/revenue", "finance-revenue", "Revenue")
    expect(page.locator("svg.chart .bar").first).to_be_visible()
    _fits_a_phone(page, live_server, demo_accounts, short)
    context.close()
    assert page.errors == []


def _fits_a_phone(page: Any, server: str, accounts: dict[str, str], short: str) -> None:
    """On a phone's width nothing but a wide table's own box scrolls sideways."""
    page.set_viewport_size(PHONE)
    _as(page, server, demo.ENTERPRISE_EMAIL, accounts)
    for path in ("/", "/enterprise", "/enterprise/licences/1/console", "/enterprise/queries/1", "/register"):
        page.goto(server + path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{path} is {overflow}px wider than a phone"
        if path.endswith("/queries/1"):
            shot(page, f"{short}-phone-result")


def _as(page: Any, server: str, email: str, accounts: dict[str, str]) -> None:
    page.context.clear_cookies()
    sign_in(page, server, email, accounts[email])
    page.wait_for_url(re.compile(r"/(enterprise|provider|office|finance)$"))
