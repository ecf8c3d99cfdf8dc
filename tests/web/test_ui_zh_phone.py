"""Every role's main pages in zh-CN on a 390 px phone: no sideways scrolling, and no English sentence.

Walks the demo platform as each role. Data the people typed themselves (titles, SQL, column names, codes)
may be in any language; the words of the platform must be Chinese."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.web.ui import sign_in, watch
from web import demo

PHONE = {"width": 390, "height": 844}
PAGES = {
    # In the demo listing 1 (clinic visits) awaits its second approval, so it is not public: 4 is sold, 2 is free
    None: ["/", "/listings/4", "/listings/2", "/register", "/signin", "/help/privacy", "/disclosures"],
    demo.ENTERPRISE_EMAIL: ["/enterprise", "/enterprise/licences/1", "/enterprise/licences/1/console",
                            "/enterprise/queries/1"],
    "provider@demo.shuyu.cn": ["/provider", "/provider/datasets/4", "/provider/listings/4"],  # its bus trips
    "office1@demo.shuyu.cn": ["/office", "/office/listings", "/office/listings/1", "/office/licences",
                              "/office/audit"],
    "finance@demo.shuyu.cn": ["/finance", "/finance/ledger", "/finance/revenue", "/finance/reconciliations"],
}
# The platform's own text, without what users typed or what is code: those may be in any language.
PLATFORM_TEXT = """() => {
  const copy = document.body.cloneNode(true);
  copy.querySelectorAll('code, pre, kbd, svg, script, style, textarea, .mono, [data-user-text], .lang, footer a,'
    + ' .brand, td, h1, h2 a, .card p:not(.meta), blockquote, #sql, option').forEach((n) => n.remove());
  return copy.innerText;
}"""
ENGLISH_SENTENCE = re.compile(r"[A-Za-z][a-z]+(?:[ ,'’-]+[A-Za-z][a-z]+){3,}")


@pytest.fixture
def demo_accounts(client: TestClient) -> dict[str, str]:
    for _ in demo.seed():
        pass
    return demo._passwords()


def test_every_role_reads_chinese_on_a_phone_without_sideways_scrolling(
        client: TestClient, live_server: str, browser: Any, demo_accounts: dict[str, str]) -> None:
    context = browser.new_context(locale="zh-CN", viewport=PHONE)
    page = watch(context.new_page())
    too_wide, english = [], []
    for email, paths in PAGES.items():
        context.clear_cookies()
        if email:
            sign_in(page, live_server, email, demo_accounts[email])
            page.wait_for_url(re.compile(r"/(enterprise|provider|office|finance)$"))
        for path in paths:
            response = page.goto(live_server + path)
            assert response is not None and response.status == 200, path
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            if overflow > 0:
                too_wide.append(f"{path}: {overflow}px")
            english += [f"{path}: {m}" for m in ENGLISH_SENTENCE.findall(page.evaluate(PLATFORM_TEXT))]
    context.close()
    assert too_wide == [], too_wide
    assert english == [], "\n".join(english)
    assert page.errors == []
