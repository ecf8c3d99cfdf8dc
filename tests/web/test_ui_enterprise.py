"""In a real browser: an enterprise registers, licenses, pays by bank transfer, and queries; finance confirms.

Debian's Chromium via Playwright. Set SHUYU_SCREENSHOTS=docs/screenshots to refresh the README's pictures
from these runs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from playwright.sync_api import expect

from core.config import get_settings
from core.receipts import public_pem, sha256_hex, signing_key, verify
from tests.flow import PASSWORD, World
from tests.web.ui import VIEWPORT, shot, sign_in, watch


def test_an_enterprise_registers_licenses_pays_and_sees_its_budget_change(
        client: TestClient, live_server: str, browser: Any) -> None:
    world = World(client)
    enterprise = browser.new_context(locale="zh-CN", viewport=VIEWPORT, accept_downloads=True)
    page = watch(enterprise.new_page())

    _register(page, live_server)
    reference = _apply_and_get_bank_reference(page, live_server, world.listing["id"])

    finance = browser.new_context(locale="en-GB", viewport=VIEWPORT)
    _finance_confirms(watch(finance.new_page()), live_server, reference)

    page.reload()
    expect(page.locator("#licence-status")).to_have_text("有效")
    expect(page.locator(".budget-text")).to_have_text("ε 已用 0 / 3，剩余 3")
    page.click("#console-link")
    _query_and_check_the_result(page)
    _receipt_verifies(page)
    page.click("#licence-link")
    expect(page.locator("#history")).to_contain_text("GROUP BY region")
    enterprise.close()
    finance.close()
    assert page.errors == []


def _register(page: Any, server: str) -> None:
    page.goto(server + "/register")
    page.fill("#name", "闽数科技 Minshu Data")
    page.locator("#credit_code").press_sequentially("91350100M000100Y44")
    expect(page.locator("#credit-code-check [data-valid=false]")).to_contain_text("校验码错误")
    page.fill("#credit_code", "91350100M000100Y43")
    expect(page.locator("#credit-code-check [data-valid=true]")).to_contain_text("代码有效")
    page.fill("#email", "analyst@minshu.test")
    page.fill("#password", PASSWORD)
    shot(page, "zh-register")
    page.click("#register")
    page.wait_for_url(re.compile(r"/enterprise\?welcome=1$"))
    expect(page.locator("[role=status]")).to_contain_text("注册成功")


def _apply_and_get_bank_reference(page: Any, server: str, listing_id: int) -> str:
    page.goto(server + "/")
    page.locator(".card", has_text="人口收入统计").locator("h2 a").click()
    page.wait_for_url(f"**/listings/{listing_id}")
    expect(page.locator("#dictionary")).to_contain_text("0 – 100,000")
    expect(page.locator("#offers")).to_contain_text("¥500.00")
    page.fill("#purpose", "区域收入分析 regional income analysis")
    page.click("#apply-button")
    page.wait_for_url("**/enterprise/licences/*")
    expect(page.locator("#licence-status")).to_have_text("待付款")
    page.click("#pay")
    expect(page.locator("#amount")).to_have_text("¥500.00")
    shot(page, "zh-bank-transfer")
    reference = page.locator("#reference").inner_text()
    assert reference.startswith("SY")
    page.go_back()
    return str(reference)


def _finance_confirms(page: Any, server: str, reference: str) -> None:
    sign_in(page, server, "finance@gov.test")
    page.wait_for_url("**/finance")
    row = page.locator(f"tr[data-reference='{reference}']")
    expect(row).to_contain_text("¥500.00")
    row.locator("input[name=bank_reference]").fill(reference)
    row.locator("input[name=amount]").fill("600.00")
    row.locator("button[type=submit]").click()
    expect(page.locator("[role=alert]")).to_contain_text("is more than what is still due (¥500.00)")
    shot(page, "en-finance-mismatch")
    row = page.locator(f"tr[data-reference='{reference}']")
    row.locator("input[name=bank_reference]").fill(reference)
    row.locator("input[name=amount]").fill("200")
    row.locator("button[type=submit]").click()
    expect(page.locator("#part-recorded")).to_be_visible()
    row = page.locator(f"tr[data-reference='{reference}']")
    expect(row).to_contain_text("¥300.00")  # still due
    row.locator("input[name=bank_reference]").fill(reference)
    row.locator("input[name=amount]").fill("300.00")
    row.locator("button[type=submit]").click()
    expect(page.locator("#confirmed")).to_contain_text("is booked and its licence is active")
    page.click("nav.main >> text=Ledger")
    expect(page.locator("#balanced")).to_have_text("Balanced")
    revenue = page.locator("#trial-balance tr", has_text="4001")
    expect(revenue).to_contain_text("Non-tax revenue")
    expect(revenue.locator("td").nth(4)).to_have_text("¥500.00")
    part = page.locator("#trial-balance tr", has_text="2201")  # the ¥200 part passed through 2201 and left it
    expect(part.locator("td").nth(3)).to_have_text("¥200.00")
    expect(part.locator("td").nth(4)).to_have_text("¥200.00")
    expect(page.locator("#trial-balance tfoot")).to_contain_text("¥700.00")
    with page.expect_download() as download:
        page.click("a[href='/finance/trial-balance.csv']")
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert "4001,Non-tax revenue (treasury),非税收入,revenue,CNY,0,50000" in text


def _query_and_check_the_result(page: Any) -> None:
    expect(page.locator("#columns-title")).to_be_visible()
    expect(page.locator(".column-list")).to_contain_text("region")
    page.fill("#sql", "SELECT region, COUNT(*) AS n FROM people GROUP BY region")
    page.fill("#epsilon", "0.5")
    page.click("#preview-button")
    expect(page.locator("#preview-cost")).to_have_text("ε 0.5")
    expect(page.locator("#preview")).to_contain_text("2.5")
    expect(page.locator(".budget-text")).to_contain_text("剩余 3")  # a preview charges nothing
    page.fill("#sql", "SELECT * FROM people")
    page.click("#run")
    expect(page.locator(".problem")).to_contain_text("不允许此查询")
    page.fill("#sql", "SELECT region, COUNT(*) AS n FROM people GROUP BY region")
    page.click("#run")
    page.wait_for_url("**/enterprise/queries/*")
    expect(page.locator("#result tbody tr")).to_have_count(4)
    expect(page.locator("#result tbody")).to_contain_text("±")
    expect(page.locator("svg.chart .bar")).to_have_count(4)
    expect(page.locator("svg.chart .error-bar")).to_have_count(4)
    expect(page.locator("#remaining")).to_have_text("2.5")
    expect(page.locator(".budget-text")).to_have_text("ε 已用 0.5 / 3，剩余 2.5")


def _receipt_verifies(page: Any) -> None:
    with page.expect_download() as download:
        page.click("#receipt")
    document = json.loads(Path(download.value.path()).read_text())
    assert verify(public_pem(signing_key(get_settings())), document["receipt"])
    assert sha256_hex({"columns": document["columns"], "rows": document["rows"]}) == document["receipt"][
        "result_sha256"]
