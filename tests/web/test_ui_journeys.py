"""Daily work in zh-CN, in a real browser, as first-time users of each role meet it.

The data office sends a listing back; the provider sees why at the top, edits it (mistakes are caught as typed,
nothing is changed behind their back) and resubmits; the next reviewer sees what changed. An enterprise pays by
bank transfer into the account the operator configured; finance sees who paid and imports the bank's statement.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from playwright.sync_api import expect

from core.auth import Role
from tests.flow import CREDIT_CODE, PEOPLE_DICTIONARY, World, listing_body, ok, people, staff, upload_csv
from tests.web.ui import VIEWPORT, shot, sign_in, watch

API = "/api/v1"


def _submitted_listing(client: TestClient) -> int:
    provider = staff(client, "provider@gov.test", Role.provider, "统计局 Statistics Bureau")
    staff(client, "office@gov.test", Role.data_office)
    staff(client, "office2@gov.test", Role.data_office)
    dataset = upload_csv(client, provider, "people", people(600))
    ok(client.put(f"{API}/datasets/{dataset['id']}/dictionary", json=PEOPLE_DICTIONARY, headers=provider))
    listing = ok(client.post(f"{API}/listings", json=listing_body(dataset["id"]), headers=provider), 201)
    ok(client.post(f"{API}/listings/{listing['id']}/submit", headers=provider))
    return int(listing["id"])


def test_a_listing_sent_back_is_edited_and_resubmitted_and_the_reviewer_sees_what_changed(
        client: TestClient, live_server: str, browser: Any) -> None:
    listing_id = _submitted_listing(client)
    context = browser.new_context(locale="zh-CN", viewport=VIEWPORT)
    page = watch(context.new_page())

    sign_in(page, live_server, "office@gov.test")
    page.wait_for_url("**/office")
    page.goto(f"{live_server}/office/listings/{listing_id}")
    expect(page.locator("input[name=decision]:checked")).to_have_count(0)  # nothing decided for the reviewer
    expect(page.locator("#reason_code")).to_have_value("")
    expect(page.locator("#fact-unit")).to_contain_text("一人 = 一行")
    expect(page.locator("#fact-k")).to_have_text("0")
    expect(page.locator("#fact-default-eps")).to_have_text("0.5")
    expect(page.locator("#review-preview tbody tr")).to_have_count(5)
    page.check("input[name=decision][value=request_changes]")
    expect(page.locator("#reason_code option[value=meets-standard]")).to_be_disabled()
    page.select_option("#reason_code", "price-above-ceiling")
    page.fill("#comment", "价格偏高，请调整后重新提交")
    shot(page, "zh-office-review")
    page.click("#record-decision")
    expect(page.locator("#review-outcome")).to_contain_text("需修改")

    page.context.clear_cookies()
    sign_in(page, live_server, "provider@gov.test")
    page.wait_for_url("**/provider")
    page.goto(f"{live_server}/provider/listings/{listing_id}")
    requested = page.locator("#requested-changes")
    expect(requested).to_contain_text("报价高于最高限价")
    expect(requested).to_contain_text("价格偏高，请调整后重新提交")
    assert page.locator("#requested-changes").bounding_box()["y"] < page.locator("#offers").bounding_box()["y"]
    page.click("#edit-listing")
    expect(page.locator("#title")).to_have_value("人口收入统计 People and income")
    expect(page.locator("#cap-help")).to_contain_text("一次查询最多可消耗的隐私预算")
    page.fill("#default_epsilon", "2")
    expect(page.locator("#default_epsilon-error")).to_contain_text("高于单次查询 ε 上限")
    page.click("#create-listing")  # refused before it leaves the page; nothing is changed silently
    expect(page.locator("#default_epsilon")).to_have_value("2")
    assert "/edit" in page.url
    page.fill("#default_epsilon", "0.5")
    page.fill("#offer1_price", "8,000元")
    expect(page.locator("#offer1_price-error")).to_be_hidden()
    shot(page, "zh-provider-edit")
    page.click("#create-listing")
    page.wait_for_url(re.compile(r"/provider/listings/\d+\?saved=1"))
    expect(page.locator("#offers")).to_contain_text("¥8,000.00")
    page.click("#submit-listing")
    expect(page.locator("#listing-status")).to_have_text("待审核")

    page.context.clear_cookies()
    sign_in(page, live_server, "office2@gov.test")
    page.wait_for_url("**/office")
    page.goto(f"{live_server}/office/listings/{listing_id}")
    changes = page.locator("#field-changes")
    expect(changes).to_contain_text("产品方案 1")
    expect(changes).to_contain_text("¥500.00")
    expect(changes).to_contain_text("¥8,000.00")
    context.close()
    assert page.errors == []


STATEMENT = "交易日期,摘要,借方金额,贷方金额,余额,对方户名\n2026-11-29,转账 {ref},,\"200.00\",\"1,200.00\",闽数科技\n"


def test_an_enterprise_pays_into_the_configured_account_and_finance_matches_the_statement(
        client: TestClient, live_server: str, browser: Any, tmp_path: Path) -> None:
    world = World(client)
    world.enterprise("闽数科技")
    context = browser.new_context(locale="zh-CN", viewport=VIEWPORT)
    page = watch(context.new_page())
    sign_in(page, live_server, "analyst@data.test")
    page.wait_for_url("**/enterprise")
    page.goto(f"{live_server}/listings/{world.listing['id']}")
    page.click("#apply-button")  # 用途 left empty: the browser asks for it
    expect(page.locator("#purpose")).to_have_js_property("validity.valueMissing", True)
    page.fill("#purpose", "区域收入分析")
    page.click("#apply-button")
    page.wait_for_url("**/enterprise/licences/*")
    expect(page.locator("#next-steps")).to_contain_text("财务确认")
    page.click("#pay")
    expect(page.locator("#account-number")).to_have_text("6200 0000 0000 0000 000")
    reference = page.locator("#reference").inner_text()
    page.goto(page.url.replace("/checkout", ""))
    expect(page.locator("#reference")).to_have_text(reference)  # still there after checkout, until paid
    expect(page.locator("#account-name")).to_contain_text("非税收入专户")
    page.click("#notice-link")
    expect(page.locator("#payment-notice h1")).to_have_text("缴款通知")
    expect(page.locator("#notice-amount")).to_contain_text("伍佰元整")
    expect(page.locator("#notice-payer")).to_have_text("闽数科技")
    shot(page, "zh-payment-notice")

    page.context.clear_cookies()
    sign_in(page, live_server, "finance@gov.test")
    page.wait_for_url("**/finance")
    row = page.locator(f"tr[data-reference='{reference}']")
    expect(row.locator(".payer")).to_contain_text("闽数科技")
    expect(row.locator(".payer")).to_contain_text(CREDIT_CODE)
    statement = tmp_path / "statement.csv"
    statement.write_bytes(STATEMENT.format(ref=reference).encode("gbk"))
    page.set_input_files("#statement-file", str(statement))
    page.click("#import-statement")
    expect(page.locator("#statement-matched")).to_contain_text("部分到账")
    shot(page, "zh-finance-statement")
    page.click("text=返回银行转账")
    row = page.locator(f"tr[data-reference='{reference}']")
    expect(row).to_contain_text("¥300.00")
    row.locator("input[name=bank_reference]").fill(reference)
    row.locator("input[name=amount]").fill("¥300")
    row.locator("button[type=submit]").click()
    expect(page.locator("#confirmed")).to_be_visible()
    context.close()
    assert page.errors == []
