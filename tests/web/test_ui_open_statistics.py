"""In a real browser: the data office composes open statistics, previews their ε against the global budget and
publishes them; anyone then reads the tables and downloads a CSV with ±; the registration page and the annual
report are one click from the listing and the office's dashboard."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from playwright.sync_api import expect

from tests.flow import World
from tests.web.ui import VIEWPORT, shot, sign_in, watch


def test_the_office_publishes_open_statistics_and_anyone_downloads_them(
        client: TestClient, live_server: str, browser: Any) -> None:
    world = World(client)
    listing_id = world.listing["id"]
    office = browser.new_context(locale="zh-CN", viewport=VIEWPORT)
    page = watch(office.new_page())
    sign_in(page, live_server, "office@gov.test")
    page.wait_for_url("**/office")
    expect(page.locator("#disclosure-due")).to_contain_text("还剩")

    page.goto(f"{live_server}/office/listings/{listing_id}")
    page.click("#open-statistics-link")
    page.fill("#os-title", "2026 人口统计")
    page.fill("#t-title-1", "按区域人数")
    page.fill("#t-sql-1", "SELECT region, COUNT(*) AS n FROM people GROUP BY region")
    page.fill("#t-eps-1", "0.5")
    page.fill("#t-title-2", "平均年龄")
    page.fill("#t-sql-2", "SELECT AVG(age) AS mean_age FROM people")
    page.fill("#t-eps-2", "0.3")
    page.click("#os-preview")
    expect(page.locator("#open-preview-total [data-total]")).to_have_text("0.8")
    expect(page.locator("[data-fits]")).to_be_visible()
    shot(page, "zh-office-open-statistics")
    page.click("#os-publish")
    expect(page.locator("p.ok[role=status]")).to_contain_text("已发布")
    expect(page.locator("[data-statistic] .status")).to_have_text("已发布")
    expect(page.locator("#global-budget [data-left]")).to_have_text("39.2")

    public = browser.new_context(locale="en-US", viewport=VIEWPORT, accept_downloads=True)
    reader = watch(public.new_page())
    reader.goto(f"{live_server}/listings/{listing_id}")
    reader.click("#listing-open-statistics a")
    table = reader.locator("[data-table]").first
    expect(table.locator("thead")).to_contain_text("n ±")
    expect(table.locator("tbody tr")).to_have_count(4)
    with reader.expect_download() as download:
        table.locator("a[download]").click()
    content = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert "region,n,n ±" in content and "# receipt.signature" in content

    reader.goto(f"{live_server}/listings/{listing_id}")
    reader.click("dd a[href^='/registrations/']")
    expect(reader.locator("#registration [data-status]")).to_have_text("Under public notice")
    expect(reader.locator("#registration-events")).to_contain_text("First registration")
    reader.goto(f"{live_server}/disclosures")
    expect(reader.locator("#disclosure-open-statistics")).to_contain_text("2026 人口统计")
    pdf = f"/api/v1/disclosures/{_year(reader)}?format=pdf"
    expect(reader.locator("#disclosure-pdf")).to_have_attribute("href", pdf)
    office.close()
    public.close()
    assert page.errors == [] and reader.errors == []


def _year(page: Any) -> str:
    return str(page.url.rstrip("/").rsplit("/", 1)[-1])
