"""The audit log for people: readable action names, who acted, filters, search, exact numbers, CSV."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient

from core.audit import record
from core.auth import Actor
from core.db import unit_of_work
from tests.flow import World
from tests.web.test_pages import browser_sign_in


def test_the_audit_log_names_actions_and_people_filters_and_exports(client: TestClient) -> None:
    world = World(client)
    world.active_licence(world.enterprise())
    with unit_of_work() as session:
        record(session, Actor.system(), "query.charged", "query", 99, {"epsilon": 0.49999999999995007})
    browser_sign_in(client, "office@gov.test")
    client.headers["Accept-Language"] = "zh-CN"
    page = client.get("/office/audit").text
    assert "数据产品审核：通过" in page and "确认到账" in page and "provider@gov.test" in page
    assert "epsilon: 0.5" in page and "0.49999999999995007" not in page
    table = page.split('id="audit"')[1]
    assert ">listing.review.approve<" not in table and ">registration.initial<" not in table
    only = client.get("/office/audit", params={"action": "payment", "actor": "finance@gov.test"}).text
    assert "确认到账" in only and "数据产品审核" not in only.split('id="audit"')[1]
    searched = client.get("/office/audit", params={"q": "query", "subject_id": "99"}).text
    assert "共 1 条记录符合条件" in searched
    exported = client.get("/office/audit.csv", params={"action": "payment.confirmed"})
    rows = list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert [r["action"] for r in rows] == ["payment.confirmed"] and rows[0]["actor_email"] == "finance@gov.test"
