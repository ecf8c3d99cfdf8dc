"""Saved queries and history: an enterprise saves queries by name, searches them and its history by text,
reruns one through the normal path (a stored answer costs nothing), and never sees another's."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.flow import World, ok
from tests.web.test_pages import browser_sign_in, csrf_of

API = "/api/v1"
BY_REGION = "SELECT region, COUNT(*) AS n FROM people GROUP BY region"


@pytest.fixture
def analyst(client: TestClient) -> tuple[World, dict[str, str], dict[str, Any]]:
    world = World(client)
    headers = world.enterprise()
    return world, headers, world.active_licence(headers)


def _save(client: TestClient, headers: dict[str, str], licence: dict[str, Any], name: str, sql: str,
          epsilon: float | None = 0.5) -> Any:
    return client.post(f"{API}/saved-queries", headers=headers,
                       json={"name": name, "license_id": licence["id"], "sql": sql, "epsilon": epsilon})


def test_saved_queries_are_searched_by_name_and_sql(client: TestClient, analyst: Any) -> None:
    world, headers, licence = analyst
    ok(_save(client, headers, licence, "按区域人数 people by region", BY_REGION), 201)
    ok(_save(client, headers, licence, "mean income", "SELECT AVG(income) AS mean_income FROM people"), 201)
    ok(_save(client, headers, licence, "50% club", "SELECT COUNT(*) AS n FROM people WHERE age > 50"), 201)
    names = lambda q: [s["name"] for s in ok(client.get(f"{API}/saved-queries", headers=headers,  # noqa: E731
                                                        params={"q": q}))["items"]]
    assert names("") == ["50% club", "mean income", "按区域人数 people by region"]
    assert names("区域") == ["按区域人数 people by region"]
    assert names("INCOME") == ["mean income"]
    assert names("group by") == ["按区域人数 people by region"]
    assert names("%") == ["50% club"]  # a LIKE wildcard is searched as itself

    taken = _save(client, headers, licence, "mean income", "SELECT COUNT(*) AS n FROM people")
    assert taken.status_code == 409 and taken.json()["type"] == "saved-query-name-taken" and taken.json()["detail_zh"]
    other = world.enterprise("别家公司 Other Co", "91110108MA01ABCDEN", "other@data.test")
    assert ok(client.get(f"{API}/saved-queries", headers=other))["total"] == 0
    assert _save(client, other, licence, "theirs", BY_REGION).status_code == 404


def test_a_saved_query_reruns_through_the_normal_path(client: TestClient, analyst: Any) -> None:
    world, headers, licence = analyst
    saved = ok(_save(client, headers, licence, "by region", BY_REGION), 201)
    first = ok(client.post(f"{API}/saved-queries/{saved['id']}/run", headers=headers), 201)
    assert first["epsilon_charged"] == pytest.approx(0.5) and first["cached"] is False
    again = ok(client.post(f"{API}/saved-queries/{saved['id']}/run", headers=headers, json={}), 201)
    assert again["cached"] is True and again["epsilon_charged"] == 0 and again["rows"] == first["rows"]
    assert ok(client.get(f"{API}/licenses/{licence['id']}", headers=headers))["epsilon_spent"] == pytest.approx(0.5)
    louder = ok(client.post(f"{API}/saved-queries/{saved['id']}/run", headers=headers, json={"epsilon": 1.0}), 201)
    assert louder["epsilon_charged"] == pytest.approx(1.0)

    other = world.enterprise("别家公司 Other Co", "91110108MA01ABCDEN", "other@data.test")
    assert client.post(f"{API}/saved-queries/{saved['id']}/run", headers=other).status_code == 404
    assert client.delete(f"{API}/saved-queries/{saved['id']}", headers=other).status_code == 404
    assert client.delete(f"{API}/saved-queries/{saved['id']}", headers=headers).status_code == 204
    assert client.get(f"{API}/saved-queries/{saved['id']}", headers=headers).status_code == 404


def test_the_history_is_searched_by_sql_text(client: TestClient, analyst: Any) -> None:
    _, headers, licence = analyst
    for sql in (BY_REGION, "SELECT AVG(income) AS mean_income FROM people"):
        ok(client.post(f"{API}/queries", headers=headers,
                       json={"license_id": licence["id"], "sql": sql, "epsilon": 0.5}), 201)
    found = ok(client.get(f"{API}/query-history", headers=headers, params={"q": "avg(income"}))
    assert found["total"] == 1 and "AVG(income)" in found["items"][0]["sql"]
    assert ok(client.get(f"{API}/query-history", headers=headers))["total"] == 2


def test_the_console_saves_lists_and_reruns_queries(client: TestClient, analyst: Any) -> None:
    _, _, licence = analyst
    browser_sign_in(client, "analyst@data.test")
    console = client.get(f"/enterprise/licences/{licence['id']}/console")
    saved = client.post(f"/enterprise/licences/{licence['id']}/saved", follow_redirects=False, data={
        "csrf": csrf_of(console.text), "name": "人数 by region", "sql": BY_REGION, "epsilon": "0.5"})
    assert saved.status_code == 303 and saved.headers["location"].startswith("/enterprise/saved")
    page = client.get("/enterprise/saved", params={"q": "region"})
    assert page.status_code == 200 and "人数 by region" in page.text
    assert "人数 by region" not in client.get("/enterprise/saved", params={"q": "income"}).text
    rerun = re.search(r'action="(/enterprise/saved/\d+/run)"', page.text)
    assert rerun, page.text
    ran = client.post(rerun.group(1), data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert ran.status_code == 303 and ran.headers["location"].startswith("/enterprise/queries/")
    result = client.get(ran.headers["location"])
    assert result.status_code == 200 and 'id="export-csv"' in result.text
    history = client.get("/enterprise/saved", params={"hq": "group by region"})
    assert "GROUP BY region" in history.text
