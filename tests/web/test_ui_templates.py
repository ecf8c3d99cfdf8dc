"""In a real browser: a provider proposes a query template, the data office approves it, and an enterprise
runs it from its console by filling one field per parameter; the result names the template."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi.testclient import TestClient
from playwright.sync_api import expect

from tests.flow import World
from tests.sandbox.test_templates import PARAMETERS, SQL
from tests.web.ui import VIEWPORT, shot, sign_in, watch


def test_a_template_goes_from_provider_to_office_to_the_enterprise_console(
        client: TestClient, live_server: str, browser: Any) -> None:
    world = World(client)
    licence = world.active_licence(world.enterprise())
    listing_id = world.listing["id"]

    provider = watch(browser.new_context(locale="zh-CN", viewport=VIEWPORT).new_page())
    sign_in(provider, live_server, "provider@gov.test")
    provider.wait_for_url("**/provider")
    provider.goto(f"{live_server}/provider/listings/{listing_id}")
    provider.click("#listing-templates")
    provider.fill("#t-name", "分区域平均收入")
    provider.fill("#t-name-en", "Mean income by region")
    provider.fill("#t-sql", SQL)
    provider.fill("#t-parameters", json.dumps(PARAMETERS, ensure_ascii=False))
    provider.fill("#t-example", json.dumps({"min_age": 30, "regions": ["north"]}))
    provider.click("#propose-template")
    expect(provider.locator("[role=status]")).to_contain_text("模板已提交")
    expect(provider.locator("article[data-template]")).to_contain_text("待审核")
    shot(provider, "template-proposed")

    office = watch(browser.new_context(locale="en-US", viewport=VIEWPORT).new_page())
    sign_in(office, live_server, "office@gov.test")
    office.wait_for_url("**/office")
    office.click("#templates-queue")
    card = office.locator("article[data-template]")
    expect(card).to_contain_text("Mean income by region")
    card.locator("select[name=decision]").select_option("approve")
    card.locator("input[name=comment]").fill("Groups stay large: the age floor is bounded")
    shot(office, "template-review")
    card.locator("button[type=submit]").click()
    expect(office.locator("[role=status]")).to_contain_text("Decision recorded")

    analyst = watch(browser.new_context(locale="zh-CN", viewport=VIEWPORT).new_page())
    sign_in(analyst, live_server, "analyst@data.test")
    analyst.wait_for_url("**/enterprise")
    analyst.goto(f"{live_server}/enterprise/licences/{licence['id']}/console")
    form = analyst.locator("#templates form.template-form")
    expect(analyst.locator("#templates")).to_contain_text("已批准的查询模板")
    form.locator("input[name='p_regions[]'][value=north]").check()
    form.locator("input[name='p_regions[]'][value=east]").check()
    form.locator("input[name=p_min_age]").fill("40")
    shot(analyst, "template-console")
    form.locator("button[type=submit]").click()
    analyst.wait_for_url(re.compile(r"/enterprise/queries/\d+"))
    expect(analyst.locator("#result-template")).to_contain_text("分区域平均收入 v1")
    expect(analyst.locator("pre.sql")).to_contain_text("'north', 'east'")
    shot(analyst, "template-result")
    assert provider.errors == [] and office.errors == [] and analyst.errors == []
