"""Open statistics (数据社会化): DP tables the data office publishes, charged once to the dataset's global budget,
and downloadable by anyone without a licence, with their ± and a receipt that verifies."""

from __future__ import annotations

import csv
import hashlib
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from core.db import unit_of_work
from core.receipts import canonical, verify
from tests.flow import World, ok
from tests.licensing.helpers import publish

TABLES = [{"title": "按区域人数 People by region", "sql": "SELECT region, COUNT(*) AS n FROM people GROUP BY region",
           "epsilon": 0.5},
          {"title": "平均收入 Mean income", "sql": "SELECT AVG(income) AS mean_income FROM people", "epsilon": 0.3}]


def _spent(world: World, listing_id: int) -> float:
    return float(ok(world.client.get(f"/api/v1/listings/{listing_id}/budget", headers=world.office))["epsilon_spent"])


def _publish(world: World, listing_id: int, tables: list[dict[str, Any]] = TABLES) -> Any:
    return world.client.post(f"/api/v1/listings/{listing_id}/open-statistics", headers=world.office, json={
        "title": "2026 人口统计 Population", "description": "按区域", "queries": tables})


def test_open_statistics_are_charged_once_to_the_global_budget_and_anyone_downloads_them(client: TestClient) -> None:
    world = World(client)
    listing_id = world.listing["id"]
    preview = ok(client.post(f"/api/v1/listings/{listing_id}/open-statistics/preview", headers=world.office,
                             json={"title": "x", "queries": TABLES}))
    assert preview["epsilon_total"] == pytest.approx(0.8) and preview["fits"] is True
    assert preview["epsilon_remaining_after"] == pytest.approx(preview["epsilon_remaining"] - 0.8)
    assert _spent(world, listing_id) == 0

    published = ok(_publish(world, listing_id), 201)
    assert published["status"] == "published" and published["epsilon_total"] == pytest.approx(0.8)
    assert _spent(world, listing_id) == pytest.approx(0.8)
    assert ok(client.get(f"/api/v1/catalog/{listing_id}"))["dataset_epsilon_remaining"] == pytest.approx(
        preview["epsilon_remaining"] - 0.8)

    # Reading and downloading, as often as anyone likes, never charges again, and needs no account.
    anonymous = TestClient(client.app)
    page = ok(anonymous.get("/api/v1/open-statistics", params={"listing_id": listing_id}))
    assert page["total"] == 1
    statistic = ok(anonymous.get(f"/api/v1/open-statistics/{published['id']}"))
    by_region, mean = statistic["tables"]
    assert by_region["columns"] == ["region", "n"] and len(by_region["rows"]) == 4
    assert by_region["accuracy"]["n"]["plus_minus"] > 0
    for _ in range(2):
        download = anonymous.get(by_region["csv_url"])
        assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    lines = [row for row in csv.reader(io.StringIO(download.content.decode("utf-8-sig")))
             if row and not row[0].startswith("#")]
    assert lines[0] == ["region", "n", "n ±"]
    assert [r[0] for r in lines[1:]] == [r[0] for r in by_region["rows"]]
    assert {float(r[2]) for r in lines[1:]} == {by_region["accuracy"]["n"]["plus_minus"]}
    assert _spent(world, listing_id) == pytest.approx(0.8)

    # The receipt verifies offline with the published key and proves the released values.
    key = ok(anonymous.get("/api/v1/receipts/public-key"))
    for table in (by_region, mean):
        shown = ok(anonymous.get(f"/api/v1/open-statistics/{published['id']}/tables/{table['id']}/receipt"))
        assert verify(key["public_key_pem"], shown["receipt"])
        values = {"columns": shown["columns"], "rows": shown["rows"]}
        assert hashlib.sha256(canonical(values)).hexdigest() == shown["receipt"]["result_sha256"]
        assert shown["receipt"]["epsilon"] == pytest.approx(table["epsilon"])
        forged = {**shown["receipt"], "epsilon": 0.0001}
        assert not verify(key["public_key_pem"], forged)
    assert f"receipt.signature,{by_region['receipt']['signature']}" in download.content.decode("utf-8-sig")


def test_the_odometer_tells_open_statistics_from_licensees_spending(client: TestClient) -> None:
    world = World(client)
    listing_id = world.listing["id"]
    ok(_publish(world, listing_id), 201)
    enterprise = world.enterprise()
    licence = world.active_licence(enterprise)
    ok(client.post("/api/v1/queries", headers=enterprise, json={
        "license_id": licence["id"], "sql": "SELECT COUNT(*) AS n FROM people", "epsilon": 0.5}), 201)
    odometer = ok(client.get(f"/api/v1/listings/{listing_id}/budget", headers=world.office))
    assert odometer["epsilon_spent"] == pytest.approx(1.3)
    assert odometer["open_statistics_epsilon"] == pytest.approx(0.8)
    assert [u["epsilon_spent"] for u in odometer["by_enterprise"]] == [pytest.approx(0.5)]


def test_open_statistics_are_refused_when_the_global_budget_cannot_cover_them(client: TestClient) -> None:
    world = World(client)
    listing = publish(world, dp_policy={"global_epsilon_cap": 2.0, "enterprise_epsilon_cap": 2.0},
                      epsilon_budget=1.0)
    three = [{**TABLES[0], "title": f"t{n}", "epsilon": 0.8} for n in range(3)]
    preview = ok(client.post(f"/api/v1/listings/{listing['id']}/open-statistics/preview", headers=world.office,
                             json={"title": "x", "queries": three}))
    assert preview["fits"] is False and preview["epsilon_remaining"] == pytest.approx(2.0)
    refused = _publish(world, listing["id"], three)
    assert refused.status_code == 409 and refused.json()["type"] == "budget-exhausted"
    assert "only ε=2 is left" in refused.json()["detail"] and refused.json()["detail_zh"]
    assert _spent(world, listing["id"]) == 0  # all or nothing: no table of the set was charged
    assert ok(client.get("/api/v1/open-statistics"))["total"] == 0
    ok(_publish(world, listing["id"], three[:2]), 201)
    assert _spent(world, listing["id"]) == pytest.approx(1.6)


def test_a_query_the_sandbox_would_refuse_refuses_the_whole_set_and_charges_nothing(client: TestClient) -> None:
    world = World(client)
    bad = [TABLES[0], {"title": "rows", "sql": "SELECT person_id FROM people", "epsilon": 0.5}]
    refused = _publish(world, world.listing["id"], bad)
    assert refused.status_code == 422 and refused.json()["type"] == "query-not-allowed"
    assert refused.json()["detail"].startswith("Table 2 (rows)") and "第 2 张表" in refused.json()["detail_zh"]
    above_cap = _publish(world, world.listing["id"], [{**TABLES[0], "epsilon": 5.0}])
    assert above_cap.status_code == 422
    assert _spent(world, world.listing["id"]) == 0


def test_only_the_data_office_publishes_open_statistics_and_it_is_audited(client: TestClient) -> None:
    from core.audit_log import AuditFilter, search

    world = World(client)
    body = {"title": "x", "queries": TABLES}
    path = f"/api/v1/listings/{world.listing['id']}/open-statistics"
    assert client.post(path, json=body).status_code == 401
    assert client.post(path, json=body, headers=world.enterprise()).status_code == 403
    assert client.post(path, json=body, headers=world.provider).status_code == 403
    published = ok(_publish(world, world.listing["id"]), 201)
    with unit_of_work() as session:
        events, _ = search(session, AuditFilter(action="open_statistics.published"), 10, 0)
    assert len(events) == 1 and events[0].subject_id == str(published["id"])
    assert events[0].data["epsilon_total"] == pytest.approx(0.8)


def test_a_table_that_ends_before_touching_the_data_gives_its_epsilon_back_to_the_dataset(
        client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from sandbox import jobs
    from sandbox.models import QueryRun
    from sandbox.service import settle_failure

    world = World(client)
    monkeypatch.setattr(jobs.InProcessDispatcher, "submit", lambda self, run_id: None)  # the jobs stay queued
    monkeypatch.setattr("sandbox.statistics_router.sync_limit", lambda: 0.5)  # publishing waits this long in all
    published = ok(_publish(world, world.listing["id"]), 201)
    assert published["status"] == "running" and _spent(world, world.listing["id"]) == pytest.approx(0.8)
    assert ok(client.get("/api/v1/open-statistics"))["total"] == 0  # nothing released: nothing public
    with unit_of_work() as session:
        runs = session.exec(select(QueryRun).order_by(QueryRun.id)).all()  # type: ignore[arg-type]
    assert settle_failure(runs[1].id or 0, runs[1].attempts, "cancelled", "cancelled", touched_data=False,
                          expect_status="queued")
    assert _spent(world, world.listing["id"]) == pytest.approx(0.5)
