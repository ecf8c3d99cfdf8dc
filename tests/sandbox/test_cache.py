"""Stored answers: one charge per DP measurement, nothing stale after a bound or policy change."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.config import get_settings
from core.db import unit_of_work
from core.receipts import public_pem, signing_key, verify
from market.models import Listing
from sandbox.cache import answer_key, measurement_key
from sandbox.plan import compile_query
from sandbox.spec import Policy, TableInfo
from sandbox.sql import parse
from tests.flow import World, ok
from tests.sandbox import PEOPLE

DICTIONARY: dict[str, Any] = {"columns": [{"name": "age", "bounds": [0, 100]}]}
POLICY: dict[str, Any] = {"max_epsilon_per_query": 1.0}


def keys(sql: str, *, table: TableInfo = PEOPLE, policy: Policy | None = None, epsilon: float = 0.5,
         dictionary: dict[str, Any] = DICTIONARY, dp_policy: dict[str, Any] = POLICY) -> tuple[str, str]:
    policy = policy or Policy()
    spec = parse(sql, table, policy)
    compiled = compile_query(spec, table, policy, epsilon)
    measurement = measurement_key(compiled, table, epsilon, content_digest="d" * 64, dictionary=dictionary,
                                  grade="general", dp_policy=dp_policy)
    return measurement, answer_key(measurement, spec)


BASE = "SELECT region, COUNT(*) AS n FROM people WHERE age >= 18 AND age <= 65 AND active GROUP BY region"


@pytest.mark.parametrize("variant", [
    "SELECT region, COUNT(1) AS n FROM people WHERE age >= 18 AND age <= 65 AND active GROUP BY region",
    "SELECT region, COUNT(*) AS n FROM people WHERE age BETWEEN 18 AND 65 AND active GROUP BY region",
    "SELECT region, COUNT(*) AS n FROM people WHERE active AND age <= 65 AND age >= 18 GROUP BY region",
    "SELECT region, COUNT(*) AS n FROM people WHERE (active AND 65 >= age) AND 18 <= age GROUP BY region",
    "select REGION, count(*) as n from PEOPLE where age>=18 and age<=65 and active = true group by region",
    BASE.replace("SELECT region, COUNT(*) AS n", "SELECT COUNT(*) AS n, region"),  # group columns come first
])
def test_equivalent_rewrites_share_one_answer(variant: str) -> None:
    assert keys(variant) == keys(BASE)


@pytest.mark.parametrize("variant", [
    "SELECT region, COUNT(*) AS trips FROM people WHERE age BETWEEN 18 AND 65 AND active GROUP BY region",
    BASE + " ORDER BY n DESC",
    BASE + " ORDER BY n DESC LIMIT 2",
    BASE + " HAVING n > 10",
])
def test_post_processing_shares_the_measurement_but_not_the_answer(variant: str) -> None:
    measurement, answer = keys(variant)
    assert measurement == keys(BASE)[0] and answer != keys(BASE)[1]


def test_an_average_is_measured_by_the_sum_and_count_it_divides() -> None:
    avg = keys("SELECT region, AVG(income) AS a FROM people GROUP BY region")
    parts = keys("SELECT region, COUNT(income) AS c, SUM(income) AS s FROM people GROUP BY region")
    assert avg[0] == parts[0] and avg[1] != parts[1]


@pytest.mark.parametrize("variant", [
    BASE.replace("age >= 18", "age > 18"),
    BASE.replace("AND active", "AND NOT active"),
    BASE.replace("AND active", "OR active"),
    BASE.replace("COUNT(*) AS n", "COUNT(*) AS n, SUM(age) AS s"),
    BASE.replace("COUNT(*)", "COUNT(income)"),
    "SELECT region, active, COUNT(*) AS n FROM people WHERE age >= 18 AND age <= 65 GROUP BY region, active",
])
def test_a_different_measurement_gets_a_different_key(variant: str) -> None:
    assert keys(variant)[0] != keys(BASE)[0]


def test_epsilon_bounds_keys_unit_and_policy_are_part_of_the_key() -> None:
    sql = "SELECT region, SUM(age) AS s FROM people GROUP BY region"
    base = keys(sql)[0]
    narrower = replace(PEOPLE, columns=tuple(replace(c, bounds=(0, 90)) if c.name == "age" else c
                                             for c in PEOPLE.columns))
    per_person = replace(PEOPLE, privacy_unit="pid", max_contributions=3)
    changed = {
        "epsilon": keys(sql, epsilon=0.4)[0],
        "bounds": keys(sql, table=narrower, dictionary={"columns": [{"name": "age", "bounds": [0, 90]}]})[0],
        "unit": keys(sql, table=per_person)[0],
        "min group size": keys(sql, policy=Policy(min_group_size=5))[0],
        "dictionary text": keys(sql, dictionary={**DICTIONARY, "note": "re-described"})[0],
        "dp policy": keys(sql, dp_policy={"max_epsilon_per_query": 2.0})[0],
    }
    assert all(key != base for key in changed.values()), changed
    assert len(set(changed.values())) == len(changed)


# through the API


@pytest.fixture
def world(client: TestClient) -> tuple[World, dict[str, str], dict[str, Any]]:
    world = World(client)
    headers = world.enterprise()
    return world, headers, world.active_licence(headers)


def _ask(client: TestClient, headers: dict[str, str], licence: int, sql: str) -> Any:
    return ok(client.post("/api/v1/queries", headers=headers,
                          json={"license_id": licence, "sql": sql, "epsilon": 0.2}), 201)


def _spent(client: TestClient, headers: dict[str, str], licence: int) -> float:
    return float(ok(client.get(f"/api/v1/licenses/{licence}", headers=headers))["epsilon_spent"])


def test_ordering_limiting_filtering_and_renaming_a_release_cost_nothing(
        world: tuple[World, dict[str, str], dict[str, Any]], client: TestClient) -> None:
    _, headers, licence = world
    first = _ask(client, headers, licence["id"], "SELECT region, COUNT(*) AS n FROM people GROUP BY region")
    counts = {row[0]: row[1] for row in first["rows"]}
    preview = ok(client.post("/api/v1/queries/preview", headers=headers, json={
        "license_id": licence["id"], "epsilon": 0.2,
        "sql": "SELECT region, COUNT(*) AS trips FROM people GROUP BY region ORDER BY trips DESC"}))
    assert preview["cached"] is True and preview["epsilon_cost"] == 0
    top = _ask(client, headers, licence["id"], "SELECT COUNT(1) AS trips, region FROM people GROUP BY region "
                                               "HAVING trips > 0 ORDER BY trips DESC LIMIT 2")
    assert top["cached"] is True and top["epsilon_charged"] == 0
    assert top["columns"] == ["region", "trips"]
    expected = sorted(((r, n) for r, n in counts.items() if n > 0), key=lambda rn: -rn[1])[:2]
    assert [tuple(row) for row in top["rows"]] == expected  # the same noisy values, post-processed
    assert _spent(client, headers, licence["id"]) == pytest.approx(0.2)
    receipt = top["receipt"]
    assert receipt["derived_from"] == first["id"] and receipt["epsilon"] == pytest.approx(0.2)
    assert verify(public_pem(signing_key(get_settings())), receipt)
    again = _ask(client, headers, licence["id"], "SELECT COUNT(1) AS trips, region FROM people GROUP BY region "
                                                 "HAVING trips > 0 ORDER BY trips DESC LIMIT 2")
    assert again["id"] == top["id"] and again["receipt"] == receipt  # stored once, returned as stored
    history = ok(client.get("/api/v1/queries", headers=headers))
    assert [item["epsilon_charged"] for item in history["items"]] == [0, pytest.approx(0.2)]


def test_an_average_reuses_the_sum_and_count_already_paid_for(
        world: tuple[World, dict[str, str], dict[str, Any]], client: TestClient) -> None:
    _, headers, licence = world
    parts = _ask(client, headers, licence["id"], "SELECT SUM(age) AS s, COUNT(age) AS c FROM people")
    mean = _ask(client, headers, licence["id"], "SELECT AVG(age) AS a FROM people")
    assert mean["cached"] is True and _spent(client, headers, licence["id"]) == pytest.approx(0.2)
    total, count = parts["rows"][0]
    assert mean["rows"][0][0] == pytest.approx(min(120, max(0, total / count)))


@pytest.mark.parametrize("change", ["bounds", "policy"])
def test_after_a_bound_or_policy_change_the_old_answer_is_not_returned(
        world: tuple[World, dict[str, str], dict[str, Any]], client: TestClient, change: str) -> None:
    w, headers, licence = world
    sql = "SELECT region, SUM(age) AS s FROM people GROUP BY region"
    first = _ask(client, headers, licence["id"], sql)
    assert _ask(client, headers, licence["id"], sql)["cached"] is True
    with unit_of_work() as session:  # what an approved revision of the listing does
        listing = session.get(Listing, w.listing["id"])
        assert listing is not None
        if change == "bounds":
            dictionary = copy.deepcopy(listing.dictionary)
            for column in dictionary["columns"]:
                if column["name"] == "age":
                    column["bounds"] = [0, 100]
            listing.dictionary = dictionary
        else:
            listing.dp_policy = {**listing.dp_policy, "min_group_size": 5}
        session.add(listing)
    fresh = _ask(client, headers, licence["id"], sql)
    assert fresh["cached"] is False and fresh["epsilon_charged"] == pytest.approx(0.2)
    assert fresh["id"] != first["id"]
    assert _spent(client, headers, licence["id"]) == pytest.approx(0.4)
