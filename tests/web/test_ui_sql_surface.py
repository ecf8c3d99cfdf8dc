"""In a real browser: an analyst asks the wider SQL of issue 14 in the console and reads the result."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from playwright.sync_api import expect

from tests.flow import World
from tests.web.ui import VIEWPORT, sign_in, watch


def test_an_analyst_runs_top_aliases_arithmetic_and_stddev_in_the_console(
        client: TestClient, live_server: str, browser: Any) -> None:
    world = World(client)
    licence = world.active_licence(world.enterprise())
    context = browser.new_context(locale="zh-CN", viewport=VIEWPORT)
    page = watch(context.new_page())
    sign_in(page, live_server, "analyst@data.test")
    page.goto(f"{live_server}/enterprise/licences/{licence['id']}/console")
    page.fill("#sql", "SELECT COUNT(DISTINCT region) AS n FROM people")
    page.fill("#epsilon", "0.5")
    page.click("#run")
    expect(page.locator(".problem")).to_contain_text("只能对隐私单位做 COUNT(DISTINCT")
    page.fill("#sql", "SELECT TOP 3 region AS r, COUNT(*) AS n, SUM(age) * 2 AS s2, STDDEV(age) AS sd "
                      "FROM people GROUP BY region ORDER BY n DESC")
    page.click("#run")
    page.wait_for_url("**/enterprise/queries/*")
    expect(page.locator("#result tbody tr")).to_have_count(3)
    header = page.locator("#result thead")
    for name in ("r", "n", "s2", "sd"):
        expect(header).to_contain_text(name)
    assert page.errors == []
