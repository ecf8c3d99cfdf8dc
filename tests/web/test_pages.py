"""The catalog pages in a real browser (Debian's Chromium via Playwright)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tests.flow import World


def test_catalog_page_lists_published_data_and_opens_a_listing(client: TestClient, live_server: str,
                                                                browser: Any, tmp_path: Path) -> None:
    World(client)
    page = browser.new_page(locale="zh-CN")
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(live_server + "/")
    assert page.locator("h1").inner_text().startswith("数据目录")
    card = page.locator(".card", has_text="人口收入统计")
    assert card.count() == 1
    assert "一般数据" in card.locator(".badge").inner_text()
    page.fill("#q", "no-such-thing")
    page.click("button[type=submit]")
    assert page.locator(".empty").is_visible()
    page.goto(live_server + "/")
    card.locator("a").click()
    page.wait_for_url("**/listings/*")
    dictionary = page.locator("table").first.inner_text()
    assert "income" in dictionary and "0.0 – 100000.0" in dictionary
    assert "¥500.00" in page.locator("table").nth(1).inner_text()
    page.screenshot(path=str(tmp_path / "listing.png"), full_page=True)
    assert errors == []
