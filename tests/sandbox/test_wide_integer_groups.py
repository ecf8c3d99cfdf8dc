"""GROUP BY an integer measure whose bounds hold more than 1,000 integers (SmartNoise's `GROUP BY income`).

Listing half a million public keys would make almost every group pure noise, so such a column is grouped
like a dimension whose keys are not public: only where the listing allows unknown keys (general data with
a δ), and only the groups above OpenDP's noisy threshold come back. The privacy map must be exactly the one
OpenDP gives a dimension without public keys: same noise scale, same threshold, same (ε, δ)."""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from fastapi.testclient import TestClient

from sandbox.plan import Compiled, compile_query, release
from sandbox.spec import ColumnInfo, Policy
from sandbox.sql import QueryNotAllowed, parse
from tests.flow import PEOPLE_DICTIONARY, World, ok
from tests.sandbox import PEOPLE, people_frame

K = 3
TABLE = replace(PEOPLE, columns=(*PEOPLE.columns, ColumnInfo("salary", "measure", "int", bounds=(0, 500_000))),
                privacy_unit="pid", max_contributions=K)
OPEN = Policy(allow_unknown_keys=True, delta=1e-7)


def compiled(sql: str, policy: Policy = OPEN, epsilon: float = 1.0) -> Compiled:
    return compile_query(parse(sql, TABLE, policy), TABLE, policy, epsilon)


def test_refused_where_keys_must_be_public() -> None:
    with pytest.raises(QueryNotAllowed) as info:
        compiled("SELECT salary, COUNT(*) AS n FROM people GROUP BY salary", Policy())
    assert "500001 groups" in info.value.reason and "more than 1000" in info.value.reason


def test_the_privacy_map_is_opendps_for_keys_that_are_not_public() -> None:
    wide = compiled("SELECT salary, COUNT(*) AS n, SUM(age) AS s FROM people GROUP BY salary")
    city = compiled("SELECT city, COUNT(*) AS n, SUM(age) AS s FROM people GROUP BY city")
    assert wide.measurement.map(wide.d_in) == city.measurement.map(city.d_in)
    assert (wide.epsilon_cost, wide.delta_cost) == (city.epsilon_cost, city.delta_cost)
    assert 0 < wide.delta_cost <= OPEN.delta and wide.epsilon_cost <= 1.0
    assert wide.scale == city.scale and wide.threshold == city.threshold is not None
    assert wide.stat_scale and list(wide.stat_scale.values()) == list(city.stat_scale.values())


def test_frequent_values_come_back_and_rare_ones_do_not(tmp_path: Path) -> None:
    frame = people_frame().with_columns(  # 2 common salaries over many persons; one person's own salary
        salary=pl.when(pl.col("pid") == 7).then(123_457).when(pl.col("age") < 50).then(30_000).otherwise(60_000))
    path = tmp_path / "p.parquet"
    frame.write_parquet(path)
    columns, rows, _ = release(compiled("SELECT salary, COUNT(*) AS n FROM people GROUP BY salary"),
                               pl.scan_parquet(path))
    assert columns == ["salary", "n"]
    released = {row[0] for row in rows}
    assert released == {30_000, 60_000}  # one person's value stays below the threshold (fails with p < δ)


WIDE_AGE = {**copy.deepcopy(PEOPLE_DICTIONARY), "row_bound": 5_000}
for _column in WIDE_AGE["columns"]:
    if _column["name"] == "age":
        _column["bounds"] = [0, 5_000]


SQL = "SELECT age, COUNT(*) AS n FROM people GROUP BY age"


def _ask(client: TestClient, policy: dict[str, float]) -> tuple[Any, dict[str, str], int]:
    world = World(client, dictionary=WIDE_AGE, dp_policy=policy)
    headers = world.enterprise()
    licence = world.active_licence(headers)["id"]
    response = client.post("/api/v1/queries", headers=headers,
                           json={"license_id": licence, "epsilon": 1.0, "sql": SQL})
    return response, headers, licence


def test_through_the_api_delta_is_charged(client: TestClient) -> None:
    response, headers, licence = _ask(client, {"unknown_keys_delta": 1e-7})
    body = ok(response, 201)
    assert body["columns"] == ["age", "n"] and all(0 <= row[0] <= 120 for row in body["rows"])
    assert 0 < ok(client.get(f"/api/v1/licenses/{licence}", headers=headers))["delta_spent"] <= 1e-7 * (1 + 1e-9)


def test_through_the_api_refused_without_a_delta(client: TestClient) -> None:
    response, _, _ = _ask(client, {})
    assert response.status_code == 422 and "5001 groups" in response.json()["detail"]


def test_huge_bounds_are_counted_never_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    # Listing every integer in [0, 1e12] before deciding the column is wide would take terabytes.
    import builtins

    from sandbox import plan, spec, sql

    def small_range(*args: int) -> range:
        made = builtins.range(*args)
        if len(made) > 1_000_000:
            raise AssertionError(f"listed {len(made)} keys")
        return made
    for module in (spec, plan, sql):
        monkeypatch.setattr(module, "range", small_range, raising=False)
    huge = replace(TABLE, columns=(*TABLE.columns, ColumnInfo("wealth", "measure", "int", bounds=(0, 1e12))))
    query = "SELECT wealth, COUNT(*) AS n FROM people GROUP BY wealth"
    c = compile_query(parse(query, huge, OPEN), huge, OPEN, 1.0)
    assert c.threshold is not None  # grouped like a dimension without public keys
    with pytest.raises(QueryNotAllowed, match="more than 1000"):
        parse(query, huge, Policy())
