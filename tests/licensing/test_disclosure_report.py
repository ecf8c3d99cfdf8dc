"""The complete annual report: operator, authorization agreements, resources, products, fees charged, the
revenue ceiling, complaints and open statistics, as JSON, CSV, a page (zh notes on zh pages) and a bilingual
PDF; its deadline for the office."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, timedelta, timezone

from fastapi.testclient import TestClient
from pypdf import PdfReader

from licensing.disclosure import due
from tests.flow import World, ok
from tests.market.steps import API
from tests.web.test_pages import browser_sign_in

YEAR = datetime.now(timezone(timedelta(hours=8))).year
TABLE = {"title": "按区域人数", "sql": "SELECT region, COUNT(*) AS n FROM people GROUP BY region", "epsilon": 0.5}


def _text(pdf: bytes) -> str:
    return re.sub(r"[\s\x00]+", "", "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages))


def _world(client: TestClient) -> World:
    world = World(client)
    world.active_licence(world.enterprise())
    ok(client.post(f"{API}/revenue-ceilings", headers=world.office,
                   json={"year": YEAR, "ceiling_minor": 30_000, "basis": "成本加合理利润"}), 201)
    ok(client.post(f"{API}/complaints", json={"listing_id": world.listing["id"], "text": "价格说明不清楚，请补充",
                                              "contact": "a@b.test"}), 201)
    ok(client.post(f"{API}/listings/{world.listing['id']}/open-statistics", headers=world.office,
                   json={"title": "人口统计 Population", "queries": [TABLE]}), 201)
    return world


def test_the_report_names_the_operator_caps_fees_complaints_and_open_statistics(client: TestClient) -> None:
    world = _world(client)
    report = ok(client.get(f"{API}/disclosures/{YEAR}"))
    assert report["deadline"] == f"{YEAR + 1}-03-31"
    assert report["operator"]["name"] and report["operator"]["revenue_account"]
    (agreement,) = report["agreements"]  # the test world's, covering its provider's department
    assert agreement["status"] == "active" and "统计局" in agreement["scope"] and agreement["authorizing_body"]
    (resource,) = report["resources"]
    assert "ceiling_price_minor" in resource and resource["rights"]["ownership"].startswith("国家")
    assert resource["products"][0]["actual_max_price_minor"] == 50_000
    cap = report["revenue_cap"]
    assert (cap["ceiling_minor"], cap["revenue_minor"], cap["excess_minor"]) == (30_000, 50_000, 20_000)
    assert report["complaints"]["complaints_received"] == 1
    (stat,) = report["open_statistics"]
    assert (stat["listing_id"], stat["tables"], stat["epsilon_total"]) == (world.listing["id"], 1, 0.5)
    assert len(report["notes_zh"]) == len(report["notes"]) and "次年 3 月底" in "".join(report["notes_zh"])

    rows = list(csv.DictReader(io.StringIO(client.get(f"{API}/disclosures/{YEAR}?format=csv").text.lstrip("\ufeff"))))
    parts = {(r["section"], r["item"]): r["value"] for r in rows if r["section"] not in ("product", "total")}
    assert parts[("deadline", "due")] == f"{YEAR + 1}-03-31" and parts[("revenue_cap", "excess_minor")] == "20000"
    assert parts[("complaints", "complaints_received")] == "1" and parts[("operator", "name")]
    assert ("open_statistics", "1 tables") in parts
    assert agreement["title"] in parts[("agreement", str(agreement["id"]))]

    pdf = client.get(f"{API}/disclosures/{YEAR}?format=pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = _text(pdf.content)
    for expected in (f"{YEAR}年度公开报告", "运营机构", "人口收入统计", "最高准许收入", "¥300.00", "投诉与异议",
                     "公开统计", "人口统计Population", "授权运营协议", "某市人民政府", f"{YEAR + 1}-03-31",
                     "本报告应于次年3月底前公开"):
        assert expected in text, expected


def test_the_report_page_speaks_the_viewers_language_notes_included(client: TestClient) -> None:
    _world(client)
    zh = client.get(f"/disclosures/{YEAR}", headers={"accept-language": "zh-CN"}).text
    notes = re.search(r'<ul class="meta" id="disclosure-notes">(.*?)</ul>', zh, re.S)
    assert notes is not None and "年度按北京时间" in notes.group(1)
    assert not re.search(r"[A-Za-z]{4,}", re.sub(r"UTC\+8|ε", "", notes.group(1)))  # no English sentence left
    assert "运营机构" in zh and "最高准许收入" in zh and "人口统计 Population" in zh and "format=pdf" in zh
    en = client.get(f"/disclosures/{YEAR}", headers={"accept-language": "en"}).text
    assert "Years are calendar years" in en and "Approved revenue ceiling" in en


def test_the_office_sees_the_reports_deadline_and_the_days_left(client: TestClient) -> None:
    assert due(date(2027, 1, 10)).model_dump() == {"year": 2026, "deadline": date(2027, 3, 31), "days_left": 80}
    assert due(date(2027, 3, 31)).days_left == 0 and due(date(2027, 3, 31)).year == 2026
    assert due(date(2027, 4, 1)).model_dump() == {"year": 2027, "deadline": date(2028, 3, 31), "days_left": 365}
    world = World(client)
    today = datetime.now(timezone(timedelta(hours=8))).date()
    shown = ok(client.get(f"{API}/disclosures/due", headers=world.office))
    assert shown == due(today).model_dump(mode="json")
    assert client.get(f"{API}/disclosures/due", headers=world.provider).status_code == 403
    browser_sign_in(client, "office@gov.test")
    home = client.get("/office", headers={"accept-language": "zh-CN"}).text
    assert f'data-days-left="{due(today).days_left}"' in home and f"还剩 {due(today).days_left} 天" in home
