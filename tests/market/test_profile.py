"""The dictionary is checked against a profile taken at upload: identifier-looking columns, values outside
bounds, keys that never occur. The profile is the provider's alone and keeps no identifier values; keys
seen in the data become public only when the provider confirms they are public knowledge."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import polars as pl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from core.auth import Role
from core.db import unit_of_work
from market.profile import is_id_card, is_mobile_phone
from tests.flow import World, ok, staff, upload_csv
from tests.market.steps import API, review

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _id_card(n: int) -> str:
    body = f"350102{1950 + n % 50}{n % 12 + 1:02d}{n % 28 + 1:02d}{n % 1000:03d}"
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, ID_WEIGHTS, strict=True)) % 11]


def _residents(rows: int = 200) -> pl.DataFrame:
    rng = np.random.default_rng(5)
    return pl.DataFrame({
        "id_no": [_id_card(n) for n in range(rows)],
        "phone": [f"13{n % 10}{n:08d}" for n in range(rows)],
        "district": rng.choice(["鼓楼区", "台江区", "仓山区"], rows).tolist(),
        "age": rng.integers(18, 95, rows),
    })


def _dictionary(**roles: dict[str, Any]) -> dict[str, Any]:
    base: dict[str, dict[str, Any]] = {
        "id_no": {"role": "identifier"}, "phone": {"role": "excluded"},
        "district": {"role": "dimension", "keys": ["鼓楼区", "台江区", "马尾区"]},
        "age": {"role": "measure", "bounds": [20, 80]}}
    return {"columns": [{"name": n, **(roles.get(n) or spec)} for n, spec in base.items()]}


def test_identity_numbers_and_mobile_numbers_are_recognized_by_their_rules() -> None:
    assert is_id_card("11010519491231002X") and is_id_card(_id_card(7))
    assert not is_id_card("110105194912310021")  # wrong check digit
    assert not is_id_card("110105194913310028")  # month 13
    assert is_mobile_phone("138 1234 5678") and is_mobile_phone("+8613812345678")
    assert not is_mobile_phone("12812345678") and not is_mobile_phone("1381234567")


def test_checks_flag_identifiers_out_of_bound_values_and_keys_that_never_occur(client: TestClient) -> None:
    provider = staff(client, "p@gov.test", Role.provider, "公安局")
    dataset = upload_csv(client, provider, "residents", _residents())
    ok(client.put(f"{API}/datasets/{dataset['id']}/dictionary", headers=provider,
                  json=_dictionary(phone={"role": "dimension"})))
    checks = ok(client.get(f"{API}/datasets/{dataset['id']}/checks", headers=provider))
    found = {(f["column"], f["code"]): f for f in checks["items"]}
    assert found[("phone", "identifier-exposed")]["severity"] == "error"
    assert "[18, 94]" in found[("age", "values-outside-bounds")]["message"]
    assert "马尾区" in found[("district", "keys-never-occur")]["message"]
    assert "仓山区" in found[("district", "values-not-in-keys")]["message"]
    assert ("id_no", "identifier-exposed") not in found  # it is declared an identifier: fine


def test_the_profile_keeps_no_identifier_values_and_only_its_provider_reads_it(client: TestClient) -> None:
    world = World(client)
    dataset = upload_csv(client, world.provider, "residents", _residents())
    profile = ok(client.get(f"{API}/datasets/{dataset['id']}/profile", headers=world.provider))
    columns = {c["name"]: c for c in profile["columns"]}
    assert "id_card" in columns["id_no"]["looks_like"] and "mobile_phone" in columns["phone"]["looks_like"]
    assert columns["id_no"]["values"] is None and columns["phone"]["min"] is None
    assert columns["district"]["values"] == ["仓山区", "台江区", "鼓楼区"]
    with unit_of_work() as session:
        stored = json.dumps([r[0] for r in session.execute(text("SELECT profile FROM dataset_versions"))],
                            ensure_ascii=False)
    assert _id_card(17) not in stored and "1370000017" not in stored
    stranger = staff(client, "other@gov.test", Role.provider, "税务局")
    assert client.get(f"{API}/datasets/{dataset['id']}/profile", headers=stranger).status_code == 404
    assert client.get(f"{API}/datasets/{dataset['id']}/profile", headers=world.office).status_code == 403
    assert client.get(f"{API}/datasets/{dataset['id']}/checks").status_code == 401


def test_keys_seen_in_the_data_become_public_only_after_the_provider_confirms(client: TestClient) -> None:
    provider = staff(client, "p@gov.test", Role.provider, "公安局")
    office = staff(client, "o@gov.test", Role.data_office)
    dataset = upload_csv(client, provider, "residents", _residents())
    ok(client.put(f"{API}/datasets/{dataset['id']}/dictionary", headers=provider,
                  json=_dictionary(district={"role": "dimension"})))
    hints = ok(client.get(f"{API}/datasets/{dataset['id']}/checks", headers=provider))["items"]
    assert [f["code"] for f in hints if f["column"] == "district"] == ["keys-suggested"]
    confirm = f"{API}/datasets/{dataset['id']}/dictionary/keys"
    unseen = client.post(confirm, headers=provider, json={"column": "district", "public_knowledge": True,
                                                          "keys": ["马尾区"]})
    assert unseen.status_code == 422
    assert client.post(confirm, headers=provider, json={"column": "id_no", "public_knowledge": True}).status_code \
        == 422
    listing = _publish(client, provider, office, dataset["id"])
    district = next(c for c in listing["dictionary"]["columns"] if c["name"] == "district")
    assert district["keys"] is None  # nothing confirmed yet: no key of the data is public
    confirmed = ok(client.post(confirm, headers=provider, json={"column": "district", "public_knowledge": True}))
    assert next(c for c in confirmed["columns"] if c["name"] == "district")["keys"] == ["仓山区", "台江区", "鼓楼区"]
    ok(client.post(f"{API}/listings/{listing['id']}/submit", headers=provider))
    ok(review(client, office, listing["id"], reason_code="meets-standard"))
    public = ok(client.get(f"{API}/catalog/{listing['id']}"))["dictionary"]
    assert next(c for c in public["columns"] if c["name"] == "district")["keys"] == ["仓山区", "台江区", "鼓楼区"]


def test_the_data_office_sees_which_checks_failed_but_not_the_values(client: TestClient) -> None:
    provider = staff(client, "p@gov.test", Role.provider, "公安局")
    office = staff(client, "o@gov.test", Role.data_office)
    dataset = upload_csv(client, provider, "residents", _residents())
    ok(client.put(f"{API}/datasets/{dataset['id']}/dictionary", headers=provider,
                  json=_dictionary(phone={"role": "dimension"})))
    listing = ok(client.post(f"{API}/listings", headers=provider, json=_listing(dataset["id"])), 201)
    ok(client.post(f"{API}/listings/{listing['id']}/submit", headers=provider))
    detail = ok(client.get(f"{API}/listings/{listing['id']}", headers=office))
    assert {"column": "phone", "code": "identifier-exposed", "severity": "error"} in detail["flags"]
    assert "仓山区" not in json.dumps(detail["flags"], ensure_ascii=False)


def _listing(dataset_id: int) -> dict[str, Any]:
    return {"dataset_id": dataset_id, "title": "居民年龄分布", "proposed_grade": "general",
            "offers": [{"name": "Research", "scenario": "public_welfare", "price_minor": 0, "term_days": 30,
                        "epsilon_budget": 1.0, "query_quota": 5}]}


def _publish(client: TestClient, provider: dict[str, str], office: dict[str, str], dataset_id: int) -> Any:
    listing = ok(client.post(f"{API}/listings", headers=provider, json=_listing(dataset_id)), 201)
    ok(client.post(f"{API}/listings/{listing['id']}/submit", headers=provider))
    ok(review(client, office, listing["id"], grade="general"))
    return ok(client.get(f"{API}/catalog/{listing['id']}"))


@pytest.mark.parametrize("value", [next(_id_card(n) for n in range(99) if _id_card(n).isdigit()), "13812345678"])
def test_identifier_patterns_in_number_columns_are_flagged_too(client: TestClient, value: str) -> None:
    provider = staff(client, "p@gov.test", Role.provider, "公安局")
    dataset = upload_csv(client, provider, "numbers", pl.DataFrame({"v": [int(value)] * 30, "n": range(30)}))
    assert dataset["columns"][0]["dtype"] == "int"
    profile = ok(client.get(f"{API}/datasets/{dataset['id']}/profile", headers=provider))
    assert profile["columns"][0]["looks_like"] and profile["columns"][0]["min"] is None
