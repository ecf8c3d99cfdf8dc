"""No 500s from bad input: ids past the database's integer range are 404 (path) or 422 (query) on every
route that takes one, SQL nested past the limit is a 422 that says so, and timestamps carry their zone."""

from __future__ import annotations

import re
from typing import Any

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from core.auth import Role
from tests.flow import World, ok, staff
from web.guards import _int_params, api_routes

BIG = str(2**63)
HUGE = "99999999999999999999"


def _routes(client: TestClient) -> list[tuple[str, frozenset[str], APIRoute]]:
    return api_routes(client.app)


def test_every_integer_path_parameter_past_the_range_is_a_404(client: TestClient) -> None:
    headers = staff(client, "o@gov.test", Role.data_office)
    probed = 0
    for full, methods, route in _routes(client):
        params = _int_params(route.dependant)
        if not params.path:
            continue
        path = full
        for name in params.path:
            path = path.replace("{" + name + "}", BIG)
        path = re.sub(r"\{[^}]+\}", "x", path)
        for method in methods - {"HEAD"}:
            response = client.request(method, path, headers=headers)
            assert response.status_code == 404, f"{method} {path}: {response.status_code} {response.text}"
            probed += 1
    assert probed >= 20


def test_every_integer_query_parameter_past_the_range_is_a_422(client: TestClient) -> None:
    headers = staff(client, "o@gov.test", Role.data_office)
    probed = 0
    for full, methods, route in _routes(client):
        params = _int_params(route.dependant)
        if params.path or not params.query or "GET" not in methods:
            continue
        for name in params.query:
            response = client.get(full, params={name: HUGE}, headers=headers)
            assert response.status_code == 422, f"GET {full}?{name}: {response.text}"
            if full.startswith("/api/"):  # pages answer with an error page
                assert name in response.json()["detail"] and response.json()["detail_zh"]
            probed += 1
    assert probed >= 3


def test_pages_answer_an_out_of_range_id_with_a_404_page(client: TestClient) -> None:
    response = client.get(f"/catalog/{BIG}")
    assert response.status_code == 404


def _timestamps(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [t for v in value.values() for t in _timestamps(v)]
    if isinstance(value, list):
        return [t for v in value for t in _timestamps(v)]
    if isinstance(value, str) and re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", value):
        return [value]
    return []


def test_every_timestamp_in_responses_carries_its_zone(client: TestClient) -> None:
    flow = World(client)
    enterprise = flow.enterprise()
    licence = flow.active_licence(enterprise)
    bodies = [licence, ok(client.get(f"/api/v1/listings/{flow.listing['id']}", headers=flow.office)),
              ok(client.get("/api/v1/licenses", headers=enterprise)),
              ok(client.get(f"/api/v1/catalog/{flow.listing['id']}")),
              ok(client.get("/api/v1/datasets", headers=flow.provider))]
    stamps = [t for body in bodies for t in _timestamps(body)]
    assert len(stamps) >= 5
    naive = [t for t in stamps if not re.search(r"(Z|[+-]\d{2}:\d{2})$", t)]
    assert naive == []


def test_deeply_nested_sql_is_a_422_that_says_so(client: TestClient) -> None:
    flow = World(client)
    enterprise = flow.enterprise()
    licence = flow.active_licence(enterprise)
    for where in ("(" * 50 + "age > 1" + ")" * 50, "NOT " * 900 + "age > 1"):
        response = client.post("/api/v1/queries", headers=enterprise, json={
            "license_id": licence["id"], "sql": f"SELECT COUNT(*) FROM people WHERE {where}", "epsilon": 0.1})
        assert response.status_code == 422, response.text
        assert "nested too deeply" in response.json()["detail"] and response.json()["detail_zh"]
