"""In a real browser: the enterprise sees what its released queries cost at the per-query price, and anyone sees
the per-query price on the public fee schedule."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from playwright.sync_api import expect

from tests.flow import ok
from tests.licensing.test_query_fees import SQL, _per_query_licence
from tests.web.ui import VIEWPORT, shot, sign_in, watch


def test_the_enterprise_sees_its_per_query_charges_and_the_fee_schedule_the_price(
        client: TestClient, live_server: str, browser: Any) -> None:
    _, analyst, licence = _per_query_licence(client)
    ok(client.post("/api/v1/queries", json={"license_id": licence["id"], "sql": SQL, "epsilon": 0.2},
                   headers=analyst), 201)
    context = browser.new_context(locale="en-US", viewport=VIEWPORT)
    page = watch(context.new_page())
    page.goto(live_server + "/fees")
    expect(page.locator("#fees")).to_contain_text("¥3.00 per released query")
    sign_in(page, live_server, "analyst@data.test")
    page.wait_for_url("**/enterprise**")
    page.goto(f"{live_server}/enterprise/licences/{licence['id']}")
    expect(page.locator("#query-fees")).to_contain_text("¥3.00")
    expect(page.locator("#query-fees")).to_contain_text("Queries charged 1")
    shot(page, "en-enterprise-query-fees")
    context.close()
    assert page.errors == []
