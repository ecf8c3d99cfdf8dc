"""In a real browser: a provider uploads, writes the dictionary and submits; the data office reviews and publishes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from fastapi.testclient import TestClient
from playwright.sync_api import expect

from core.auth import Role
from tests.flow import staff
from tests.web.ui import VIEWPORT, shot, sign_in, watch

DISTRICTS = ["鼓楼区", "台江区", "仓山区", "晋安区", "马尾区"]


def bus_trips_csv(path: Path, rows: int = 3000) -> Path:
    rng = np.random.default_rng(3)
    pl.DataFrame({
        "card_id": [f"C{n:06d}" for n in rng.integers(0, rows // 3, rows)],
        "district": rng.choice(DISTRICTS, rows).tolist(),
        "hour": rng.integers(5, 23, rows),
        "fare_yuan": np.round(rng.uniform(1, 4, rows), 1),
    }).write_csv(path)
    return path


def test_a_provider_lists_a_dataset_and_the_data_office_publishes_it(
        client: TestClient, live_server: str, browser: Any, tmp_path: Path) -> None:
    staff(client, "provider@gov.test", Role.provider, "市交通运输局 Transport Bureau")
    staff(client, "office@gov.test", Role.data_office)
    provider = browser.new_context(locale="en-US", viewport=VIEWPORT)
    page = watch(provider.new_page())
    sign_in(page, live_server, "provider@gov.test")
    page.wait_for_url("**/provider")

    _upload(page, bus_trips_csv(tmp_path / "bus_trips.csv"))
    _write_dictionary(page)
    listing_url = _draft_and_submit(page)

    office = browser.new_context(locale="zh-CN", viewport=VIEWPORT)
    reviewer = watch(office.new_page())
    _review_and_publish(reviewer, live_server)

    page.goto(listing_url)
    expect(page.locator("#listing-status")).to_have_text("Published")
    expect(page.locator("#reviews")).to_contain_text("Meets the publication standard")
    provider.close()
    office.close()
    assert page.errors == [] and reviewer.errors == []


def _upload(page: Any, csv: Path) -> None:
    page.fill("#name", "bus_trips")
    page.set_input_files("#file", str(csv))
    with page.expect_response(re.compile(r"/provider/datasets$")) as answer:
        page.click("#upload")
    # The script sent it (XMLHttpRequest, with upload progress) and follows the JSON answer's redirect.
    assert answer.value.status == 200 and answer.value.headers["content-type"] == "application/json"
    assert answer.value.request.headers["accept"] == "application/json"
    page.wait_for_url(re.compile(r"/provider/datasets/\d+$"))
    expect(page.locator("h1")).to_have_text("Dataset bus_trips")
    expect(page.locator("tr[data-column=district] .seen")).to_contain_text("鼓楼区")
    expect(page.locator("tr[data-column=hour] .seen")).to_contain_text("5 – 22")


def _write_dictionary(page: Any) -> None:
    for column, role in (("card_id", "identifier"), ("district", "dimension"), ("hour", "measure"),
                         ("fare_yuan", "measure")):
        page.locator(f"tr[data-column={column}] select").select_option(role)
    page.locator("tr[data-column=hour] input[name^=lo_]").fill("0")
    page.locator("tr[data-column=hour] input[name^=hi_]").fill("24")
    page.locator("tr[data-column=fare_yuan] input[name^=lo_]").fill("0")
    page.locator("tr[data-column=fare_yuan] input[name^=hi_]").fill("2")
    page.locator("tr[data-column=district] input[name^=desc_]").fill("上车区 boarding district")
    # A card holder has several trips: the card is the privacy unit, five trips each at most.
    page.select_option("#privacy_column", "card_id")
    page.fill("#max_contributions", "5")
    page.click("#save-dictionary")
    expect(page.locator("[role=status]")).to_contain_text("Dictionary saved")
    # The data is checked against the dictionary: fares above 2 yuan fall outside the bounds typed.
    expect(page.locator("#findings")).to_contain_text("outside its bounds")
    shot(page, "en-provider-checks")
    page.locator("tr[data-column=fare_yuan] input[name^=hi_]").fill("10")
    page.click("#save-dictionary")
    expect(page.locator("#findings")).not_to_contain_text("outside its bounds")
    confirm = page.locator("#confirm-keys form", has=page.locator("input[value=district]"))
    confirm.locator("input[name=public_knowledge]").check()
    confirm.locator("button").click()
    expect(page.locator("tr[data-column=district] input[name^=keys_]")).to_have_value(re.compile("鼓楼区"))


def _draft_and_submit(page: Any) -> str:
    page.click("#draft-link")
    page.fill("#title", "公交刷卡出行 Bus trips")
    page.fill("#description", "Bus trips by district and hour / 按区和小时统计的公交出行")
    page.fill("#keywords", "交通, 公交, transport")
    page.fill("#sector", "交通运输 Transport")
    page.fill("#offer1_name", "Commercial")
    page.fill("#offer1_price", "1,200.00")
    page.fill("#offer1_term_days", "365")
    page.fill("#offer1_epsilon_budget", "10")
    page.fill("#offer1_query_quota", "500")
    page.fill("#offer2_name", "Research (free)")
    page.select_option("#offer2_scenario", "public_welfare")
    page.click("#create-listing")
    page.wait_for_url(re.compile(r"/provider/listings/\d+$"))
    expect(page.locator("#listing-status")).to_have_text("Draft")
    expect(page.locator("#offers")).to_contain_text("¥1,200.00")
    page.click("#submit-listing")
    expect(page.locator("#listing-status")).to_have_text("Submitted")
    expect(page.locator("[role=status]")).to_contain_text("the data office will review it")
    return str(page.url.split("?")[0])


def _review_and_publish(page: Any, server: str) -> None:
    sign_in(page, server, "office@gov.test")
    page.wait_for_url("**/office")
    row = page.locator("#queue tr", has_text="公交刷卡出行")
    expect(row).to_contain_text("待审核")
    row.locator("a").click()
    expect(page.locator("#dictionary")).to_contain_text("鼓楼区")
    page.check("input[name=decision][value=reject]")
    # an approval's reason cannot justify a rejection: the list offers only the reasons that fit
    expect(page.locator("#reason_code option[value=meets-standard]")).to_be_disabled()
    expect(page.locator("#reason_code option[value=not-public-data]")).to_be_enabled()
    page.check("input[name=decision][value=approve]")
    page.select_option("#grade", "general")
    page.select_option("#reason_code", "meets-standard")
    page.fill("#ceiling_price", "2000")
    page.fill("#comment", "字典完整 dictionary complete")
    page.click("#record-decision")
    expect(page.locator("#review-outcome")).to_contain_text("已发布")
    page.goto(server + "/?q=公交")
    expect(page.locator(".card", has_text="公交刷卡出行")).to_have_count(1)
