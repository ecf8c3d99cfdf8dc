"""Grouping by keys that are not public: only on general data whose policy sets a δ, and δ is budgeted."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.flow import PEOPLE_DICTIONARY, World, ok

# A public row bound near the data's size keeps each query's δ (at most 1/(10·n)) and the enterprise's δ cap
# (a quarter of 1/n) above the licence's own δ budget, which is what these tests exercise.
SECRET_REGIONS = {**copy.deepcopy(PEOPLE_DICTIONARY), "row_bound": 5_000}
for _column in SECRET_REGIONS["columns"]:
    if _column["name"] == "region":
        _column.pop("keys")


def _licensed(client: TestClient, policy: dict[str, float]) -> tuple[dict[str, str], int]:
    world = World(client, dictionary=SECRET_REGIONS, dp_policy=policy)
    headers = world.enterprise()
    return headers, world.active_licence(headers)["id"]


def _group(client: TestClient, headers: dict[str, str], licence: int, variant: int) -> Any:
    # Each variant is its own measurement (another alias alone would be answered from the stored one).
    sql = f"SELECT region, COUNT(*) AS n FROM people WHERE age >= {variant} GROUP BY region"
    return client.post("/api/v1/queries", headers=headers, json={"license_id": licence, "epsilon": 0.5, "sql": sql})


def test_without_a_delta_non_public_keys_are_refused(client: TestClient) -> None:
    headers, licence = _licensed(client, {})
    refused = _group(client, headers, licence, 0)
    assert refused.status_code == 422 and "public" in refused.json()["detail"]


def test_delta_is_charged_and_capped_per_licence(client: TestClient) -> None:
    budget = 2.5e-7
    headers, licence = _licensed(client, {"unknown_keys_delta": 1e-7, "delta_budget": budget})
    first = ok(_group(client, headers, licence, 0), 201)
    assert {row[0] for row in first["rows"]} <= {"north", "south", "east", "west"}
    cost = ok(client.get(f"/api/v1/licenses/{licence}", headers=headers))["delta_spent"]
    assert 0 < cost <= 1e-7 * (1 + 1e-9)
    fits = int(budget // cost)
    for n in range(1, fits):
        ok(_group(client, headers, licence, n), 201)
    before = ok(client.get(f"/api/v1/licenses/{licence}", headers=headers))
    refused = _group(client, headers, licence, 99)
    assert refused.status_code == 409 and refused.json()["cap"] == "delta"
    after = ok(client.get(f"/api/v1/licenses/{licence}", headers=headers))
    assert after["delta_spent"] == pytest.approx(before["delta_spent"]) == pytest.approx(fits * cost)
    assert after["epsilon_spent"] == pytest.approx(before["epsilon_spent"])  # the refused query cost nothing
    ok(client.post("/api/v1/queries", headers=headers, json={  # queries with public keys spend no δ
        "license_id": licence, "epsilon": 0.1, "sql": "SELECT COUNT(*) AS n FROM people"}), 201)
