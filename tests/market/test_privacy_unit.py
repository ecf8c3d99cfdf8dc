"""The privacy unit is a person wherever people have several rows; the row bound is public; the catalog says
what ε protects in words; keys from the data need a minimum count or a recorded statement; bounds copied from
the data's extremes are flagged. Rows per person are the provider's (and the reviewer's) alone."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import polars as pl
import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, select

from core.auth import Role
from core.db import unit_of_work
from core.models import AuditEvent
from market.errors import ListingUnavailable
from market.service import listings
from sandbox.plan import compile_query
from sandbox.service import policy_of, table_info
from sandbox.sql import parse
from tests.flow import PEOPLE_DICTIONARY, ok, people, staff, upload_csv
from tests.market.steps import API, review

DISTRICTS = ["鼓楼区", "台江区", "仓山区"]


def trips(rows: int = 600, cards: int = 120, seed: int = 3) -> pl.DataFrame:
    """Bus trips: several rows per card; one district (马尾区) seen in only three trips of one card."""
    rng = np.random.default_rng(seed)
    frame = pl.DataFrame({
        "card_id": [f"C{n:05d}" for n in rng.integers(0, cards, rows)],
        "district": rng.choice(DISTRICTS, rows).tolist(),
        "fare": np.round(rng.uniform(1, 4, rows), 1),
    })
    rare = pl.DataFrame({"card_id": ["C99999"] * 3, "district": ["马尾区"] * 3, "fare": [2.0, 2.0, 2.0]})
    return pl.concat([frame, rare])


def trips_dictionary(unit: str | None = "card_id", k: int = 5, **extra: Any) -> dict[str, Any]:
    return {"privacy_unit": {"column": unit, "max_contributions": k, "label_zh": "持卡人", "label_en": "card holder"},
            "row_label_zh": "出行记录", "row_label_en": "trip", **extra,
            "columns": [{"name": "card_id", "role": "identifier"},
                        {"name": "district", "role": "dimension", "keys": DISTRICTS},
                        {"name": "fare", "role": "measure", "bounds": [0, 10]}]}


def _put(client: TestClient, who: dict[str, str], dataset_id: int, dictionary: dict[str, Any]) -> Any:
    return client.put(f"{API}/datasets/{dataset_id}/dictionary", headers=who, json=dictionary)


def _publish(client: TestClient, provider: dict[str, str], office: dict[str, str], dataset_id: int) -> dict[str, Any]:
    listing = ok(client.post(f"{API}/listings", headers=provider, json={
        "dataset_id": dataset_id, "title": "公交出行", "proposed_grade": "general",
        "offers": [{"name": "Research", "scenario": "public_welfare", "price_minor": 0, "term_days": 30,
                    "epsilon_budget": 1.0, "query_quota": 5}]}), 201)
    ok(client.post(f"{API}/listings/{listing['id']}/submit", headers=provider))
    return dict(ok(review(client, office, listing["id"], grade="general", reason_code="meets-standard")))


def test_a_row_unit_is_refused_when_an_identifier_repeats(client: TestClient) -> None:
    provider = staff(client, "p@gov.test", Role.provider, "交通运输局")
    dataset = upload_csv(client, provider, "trips", trips())
    refused = _put(client, provider, dataset["id"], trips_dictionary(unit=None, k=1))
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["type"] == "privacy-unit-required" and problem["column"] == "card_id"
    assert "隐私单位" in problem["detail_zh"]
    assert ok(_put(client, provider, dataset["id"], trips_dictionary()))["privacy_unit"]["column"] == "card_id"
    # Every person has exactly one row: a row may be the unit.
    unique = upload_csv(client, provider, "people", people(300))
    assert ok(_put(client, provider, unique["id"], PEOPLE_DICTIONARY))["privacy_unit"]["column"] is None


def test_a_new_version_with_repeated_identifiers_is_an_error_under_a_row_unit(client: TestClient) -> None:
    provider = staff(client, "p@gov.test", Role.provider, "统计局")
    dataset = upload_csv(client, provider, "people", people(300))
    ok(_put(client, provider, dataset["id"], PEOPLE_DICTIONARY))
    doubled = pl.concat([people(300), people(300)])
    upload = upload_csv(client, provider, "people", doubled)
    codes = {(f["column"], f["code"], f["severity"]) for f in upload["findings"]}
    assert ("person_id", "privacy-unit-required", "error") in codes


def test_rows_per_person_are_measured_at_upload_and_shown_to_the_provider_only(client: TestClient) -> None:
    provider = staff(client, "p@gov.test", Role.provider, "交通运输局")
    office = staff(client, "o@gov.test", Role.data_office)
    frame = trips()
    dataset = upload_csv(client, provider, "trips", frame)
    ok(_put(client, provider, dataset["id"], trips_dictionary()))
    counts = frame["card_id"].value_counts(name="n")["n"]
    profile = ok(client.get(f"{API}/datasets/{dataset['id']}/profile", headers=provider))
    card = next(p for p in profile["per_person"] if p["column"] == "card_id")
    assert (card["persons"], card["rows"], card["max"]) == (counts.len(), frame.height, counts.max())
    assert card["p50"] == int(counts.quantile(0.5, "higher"))  # type: ignore[arg-type]
    at5 = next(s for s in card["keep"] if s["k"] == 5)
    assert at5["persons"] == (counts <= 5).sum() / counts.len()
    assert abs(at5["rows"] - counts.clip(upper_bound=5).sum() / frame.height) < 1e-12
    assert card["keep"][-1]["rows"] == 1.0  # the last k keeps everyone
    listing = _publish(client, provider, office, dataset["id"])
    detail = ok(client.get(f"{API}/listings/{listing['id']}", headers=office))
    assert detail["person_rows"]["column"] == "card_id" and detail["person_rows"]["max"] == card["max"]
    public = client.get(f"{API}/catalog/{listing['id']}").json()
    assert "person_rows" not in public and "per_person" not in json.dumps(public)
    for page in (f"/listings/{listing['id']}", "/"):
        html = client.get(page).text
        assert "p95" not in html and "per_person" not in html
    assert client.get(f"{API}/datasets/{dataset['id']}/profile", headers=office).status_code in (403, 404)


def _bound(client: TestClient, provider: dict[str, str], office: dict[str, str], name: str, rows: int,
           dictionary: dict[str, Any]) -> tuple[int, dict[str, float | None]]:
    dataset = upload_csv(client, provider, name, people(rows))
    ok(_put(client, provider, dataset["id"], dictionary))
    listing = _publish(client, provider, office, dataset["id"])
    with unit_of_work() as session:
        target = listings.query_target(session, listing["id"])
    table, policy = table_info(target), policy_of(target)
    spec = parse(f"SELECT COUNT(*) AS n, SUM(income) AS total FROM {name}", table, policy)
    return target.row_bound, compile_query(spec, table, policy, 0.5).accuracy


def test_the_row_bound_is_declared_never_counted(client: TestClient) -> None:
    provider = staff(client, "p@gov.test", Role.provider, "统计局")
    office = staff(client, "o@gov.test", Role.data_office)
    declared = {**PEOPLE_DICTIONARY, "row_bound": 50_000}
    small, small_acc = _bound(client, provider, office, "small", 300, declared)
    large, large_acc = _bound(client, provider, office, "large", 3000, declared)
    assert small == large == 50_000
    assert small_acc == large_acc  # no ± depends on the true count
    default, _ = _bound(client, provider, office, "plain", 300, PEOPLE_DICTIONARY)
    assert default == 10_000_000
    entry = ok(client.get(f"{API}/catalog/{_latest_listing(client, office)}"))
    assert entry["privacy_unit"]["row_bound"] == 10_000_000
    dataset = upload_csv(client, provider, "tight", people(300))
    too_small = _put(client, provider, dataset["id"], {**PEOPLE_DICTIONARY, "row_bound": 299})
    assert too_small.status_code == 422 and too_small.json()["type"] == "invalid-dictionary"
    assert "行数上限" in too_small.json()["detail_zh"]
    assert _put(client, provider, dataset["id"], {**PEOPLE_DICTIONARY, "row_bound": 0}).status_code == 422


def _latest_listing(client: TestClient, office: dict[str, str]) -> int:
    return max(item["id"] for item in ok(client.get(f"{API}/listings", headers=office))["items"])


def test_the_catalog_says_what_epsilon_protects_in_words(client: TestClient) -> None:
    provider = staff(client, "p@gov.test", Role.provider, "交通运输局")
    office = staff(client, "o@gov.test", Role.data_office)
    dataset = upload_csv(client, provider, "trips", trips())
    ok(_put(client, provider, dataset["id"], trips_dictionary(row_bound=1_000_000)))
    listing = _publish(client, provider, office, dataset["id"])
    unit = ok(client.get(f"{API}/catalog/{listing['id']}"))["privacy_unit"]
    assert unit == {"column": "card_id", "max_contributions": 5, "row_bound": 1_000_000,
                    "description_zh": "一名持卡人（card_id）最多 5 条出行记录",
                    "description_en": "one card holder (card_id), up to 5 trips"}
    page = client.get(f"/listings/{listing['id']}", headers={"Accept-Language": "zh-CN"}).text
    assert "一名持卡人（card_id）最多 5 条出行记录" in page
    people_set = upload_csv(client, provider, "people", people(300))
    ok(_put(client, provider, people_set["id"], PEOPLE_DICTIONARY))
    row_unit = ok(client.get(f"{API}/catalog/{_publish(client, provider, office, people_set['id'])['id']}"))
    assert (row_unit["privacy_unit"]["description_zh"], row_unit["privacy_unit"]["description_en"]) == \
        ("每一条记录", "each row")


def test_keys_from_the_data_need_a_minimum_count_or_a_recorded_statement(client: TestClient) -> None:
    provider = staff(client, "p@gov.test", Role.provider, "交通运输局")
    dataset = upload_csv(client, provider, "trips", trips())
    dictionary = trips_dictionary()
    dictionary["columns"][1].pop("keys")
    ok(_put(client, provider, dataset["id"], dictionary))
    confirm = f"{API}/datasets/{dataset['id']}/dictionary/keys"
    rare = client.post(confirm, headers=provider, json={"column": "district", "public_knowledge": False,
                                                        "keys": ["鼓楼区", "马尾区"]})
    assert rare.status_code == 422 and rare.json()["type"] == "keys-not-confirmed"
    assert "马尾区" in rare.json()["detail_zh"]
    frequent = ok(client.post(confirm, headers=provider, json={"column": "district", "public_knowledge": False}))
    district = next(c for c in frequent["columns"] if c["name"] == "district")
    assert sorted(district["keys"]) == sorted(DISTRICTS) and district["keys_public_knowledge"] is False
    stated = ok(client.post(confirm, headers=provider, json={"column": "district", "public_knowledge": True}))
    district = next(c for c in stated["columns"] if c["name"] == "district")
    assert "马尾区" in district["keys"] and district["keys_public_knowledge"] is True
    with unit_of_work() as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "dataset.keys_confirmed")
                              .order_by(col(AuditEvent.seq))).all()
    statements = [e.data["public_knowledge_statement"] for e in events]
    assert statements == [False, True]


def test_bounds_equal_to_the_observed_extremes_warn_provider_and_reviewer(client: TestClient) -> None:
    provider = staff(client, "p@gov.test", Role.provider, "交通运输局")
    office = staff(client, "o@gov.test", Role.data_office)
    frame = trips()
    dataset = upload_csv(client, provider, "trips", frame)
    dictionary = trips_dictionary()
    dictionary["columns"][2]["bounds"] = [float(frame["fare"].min()), 10]  # type: ignore[arg-type]
    ok(_put(client, provider, dataset["id"], dictionary))
    checks = ok(client.get(f"{API}/datasets/{dataset['id']}/checks", headers=provider))["items"]
    warning = next(f for f in checks if f["code"] == "bounds-reveal-extremes")
    assert warning["column"] == "fare" and warning["severity"] == "warning" and "放宽" in warning["message_zh"]
    listing = ok(client.post(f"{API}/listings", headers=provider, json={
        "dataset_id": dataset["id"], "title": "公交出行", "proposed_grade": "general",
        "offers": [{"name": "Research", "scenario": "public_welfare", "price_minor": 0, "term_days": 30,
                    "epsilon_budget": 1.0, "query_quota": 5}]}), 201)
    ok(client.post(f"{API}/listings/{listing['id']}/submit", headers=provider))
    flags = ok(client.get(f"{API}/listings/{listing['id']}", headers=office))["flags"]
    assert {"column": "fare", "code": "bounds-reveal-extremes", "severity": "warning"} in flags
    ok(_put(client, provider, dataset["id"], trips_dictionary()))  # [0, 10]: public limits, no warning
    checks = ok(client.get(f"{API}/datasets/{dataset['id']}/checks", headers=provider))["items"]
    assert "bounds-reveal-extremes" not in {f["code"] for f in checks}


def test_a_new_version_moves_only_within_the_row_bound_and_its_registration_carries_no_hash(
        client: TestClient) -> None:
    provider = staff(client, "p@gov.test", Role.provider, "统计局")
    office = staff(client, "o@gov.test", Role.data_office)
    dataset = upload_csv(client, provider, "people", people(300))
    ok(_put(client, provider, dataset["id"], {**PEOPLE_DICTIONARY, "row_bound": 400}))
    listing = _publish(client, provider, office, dataset["id"])
    second = upload_csv(client, provider, "people", people(350, seed=2))
    assert second["listings_moved"] == [listing["id"]]
    code = listing["registration_code"] or ok(client.get(f"{API}/catalog/{listing['id']}"))["registration_code"]
    record = json.dumps(ok(client.get(f"{API}/registrations/{code}")))
    assert second["sha256"] not in record and "sha256" not in record
    third = upload_csv(client, provider, "people", people(500, seed=3))
    assert third["listings_moved"] == []
    assert ("row-bound-too-small", "error") in {(f["code"], f["severity"]) for f in third["findings"]}
    assert "行数上限" in next(f["message_zh"] for f in third["findings"] if f["code"] == "row-bound-too-small")


def test_rows_per_person_are_counted_whatever_the_columns_are_called() -> None:
    from market.contributions import profile as person_profile
    from market.profile import column_profile

    frame = pl.DataFrame({"rows": ["a", "a", "b"] * 10 + [f"x{i}" for i in range(30)],
                          "key": ["k1", "k2"] * 30, "p0": list(range(60))})
    columns = [column_profile(frame[c], "string" if c != "p0" else "int") for c in frame.columns]
    measured = person_profile(frame, columns)
    assert measured["per_person"]["rows"]["max"] == 20 and measured["per_person"]["rows"]["persons"] == 32
    assert measured["key_counts"]["key"]["rows"] == [30, 30]
    assert measured["key_counts"]["key"]["persons"]["rows"] == [17, 17]  # a, b and 15 of the x values each


def test_a_listing_whose_data_outgrew_the_public_bound_runs_no_query(client: TestClient,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A listing approved before bounds were declared (here: a default lowered under it) is refused, not run
    under a false bound, and the refusal does not say the count."""
    provider = staff(client, "p@gov.test", Role.provider, "统计局")
    office = staff(client, "o@gov.test", Role.data_office)
    dataset = upload_csv(client, provider, "people", people(300))
    ok(_put(client, provider, dataset["id"], PEOPLE_DICTIONARY))
    listing = _publish(client, provider, office, dataset["id"])
    monkeypatch.setattr("market.unit.DEFAULT_ROW_BOUND", 256)
    with unit_of_work() as session, pytest.raises(ListingUnavailable) as refused:
        listings.query_target(session, listing["id"])
    assert "300" not in refused.value.detail and "数据字典" in (refused.value.detail_zh or "")


def test_a_version_that_brings_repeated_identifiers_cannot_be_submitted_under_a_row_unit(
        client: TestClient) -> None:
    provider = staff(client, "p@gov.test", Role.provider, "统计局")
    dataset = upload_csv(client, provider, "people", people(300))
    ok(_put(client, provider, dataset["id"], PEOPLE_DICTIONARY))
    listing = ok(client.post(f"{API}/listings", headers=provider, json={
        "dataset_id": dataset["id"], "title": "人口", "proposed_grade": "general",
        "offers": [{"name": "Research", "scenario": "public_welfare", "price_minor": 0, "term_days": 30,
                    "epsilon_budget": 1.0, "query_quota": 5}]}), 201)
    upload_csv(client, provider, "people", pl.concat([people(300), people(300)]))
    refused = client.post(f"{API}/listings/{listing['id']}/submit", headers=provider)
    assert refused.status_code == 422 and refused.json()["type"] == "privacy-unit-required"
    ok(_put(client, provider, dataset["id"], {**PEOPLE_DICTIONARY, "privacy_unit": {
        "column": "person_id", "max_contributions": 2}}))
    assert ok(client.post(f"{API}/listings/{listing['id']}/submit", headers=provider))["status"] == "submitted"
