"""In a real browser: the data office records an authorization agreement with its signed document, the provider's
listing is submitted under it, and revoking it on the page suspends the listing."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from playwright.sync_api import expect

from core.accounts import accounts
from core.auth import Role
from core.db import unit_of_work
from market.service.agreements import CST
from tests.flow import OPERATOR, PASSWORD, PEOPLE_DICTIONARY, listing_body, ok, people, sign_in, staff, upload_csv
from tests.web.ui import VIEWPORT, shot, watch
from tests.web.ui import sign_in as page_sign_in


def test_the_data_office_records_an_agreement_and_revoking_it_suspends_its_listing(
        client: TestClient, live_server: str, browser: Any, tmp_path: Path) -> None:
    with unit_of_work() as session:  # a department no agreement covers yet
        accounts.create_staff(session, "p@gov.test", PASSWORD, Role.provider, "水利局 Water Bureau")
    provider = sign_in(client, "p@gov.test")
    office_api = staff(client, "office@gov.test", Role.data_office)
    dataset = upload_csv(client, provider, "people", people(300))
    ok(client.put(f"/api/v1/datasets/{dataset['id']}/dictionary", json=PEOPLE_DICTIONARY, headers=provider))
    listing = ok(client.post("/api/v1/listings", json=listing_body(dataset["id"]), headers=provider), 201)
    assert client.post(f"/api/v1/listings/{listing['id']}/submit", headers=provider).status_code == 409

    context = browser.new_context(locale="zh-CN", viewport=VIEWPORT)
    page = watch(context.new_page())
    page_sign_in(page, live_server, "office@gov.test")
    page.wait_for_url("**/office")
    page.click("a[href='/office/agreements']")
    expect(page.locator("h1")).to_have_text("授权运营协议")
    today = datetime.now(CST).date()
    page.fill("#title", "水利数据授权运营协议")
    page.fill("#authorizing_body", "某市人民政府")
    page.fill("#operator", OPERATOR)
    page.fill("#departments", "水利局 Water Bureau")
    page.fill("#starts_on", (today - timedelta(days=1)).isoformat())
    page.fill("#ends_on", (today + timedelta(days=365)).isoformat())
    page.fill("#conditions", "仅提供差分隐私聚合结果")
    pdf = tmp_path / "agreement.pdf"
    pdf.write_bytes(b"%PDF-1.4\n% signed\n")
    page.set_input_files("#document", str(pdf))
    page.click("#agreement-form button[type=submit]")
    expect(page.locator("[role=status]")).to_contain_text("授权运营协议已登记")
    expect(page.locator("#agreement-status")).to_have_text("有效")
    expect(page.locator("a", has_text="agreement.pdf")).to_be_visible()
    shot(page, "zh-office-agreement")

    ok(client.post(f"/api/v1/listings/{listing['id']}/submit", headers=provider))
    second = staff(client, "office2@gov.test", Role.data_office)
    assert office_api
    ok(client.post(f"/api/v1/listings/{listing['id']}/review", headers=second,
                   json={"decision": "approve", "grade": "general", "reason_code": "meets-standard"}))
    page.reload()
    expect(page.locator(f"a[href='/office/listings/{listing['id']}']")).to_be_visible()

    page.fill("#reason", "授权主体收回授权")
    page.click("button.danger")
    expect(page.locator("#agreement-status")).to_have_text("已撤销")
    suspended = ok(client.get(f"/api/v1/listings/{listing['id']}", headers=second))
    assert suspended["status"] == "suspended" and suspended["history"][-1]["reason_code"] == "authorization-ended"
    context.close()
    assert page.errors == []
