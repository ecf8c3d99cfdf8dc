"""The public catalog: ranked search in Chinese and English (two-character words too), filters, sorting,
pages, synthetic previews made from the dictionary alone, and DCAT-AP JSON-LD."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from rdflib import RDF, Graph, Literal, Namespace, URIRef

from core.auth import Role
from core.config import get_settings
from tests.flow import PEOPLE_DICTIONARY, REGIONS, ok, people, staff
from tests.market.steps import API, draft, publish, transition

DCAT = Namespace("http://www.w3.org/ns/dcat#")
DCT = Namespace("http://purl.org/dc/terms/")
FOAF = Namespace("http://xmlns.com/foaf/0.1/")
FREE = [{"name": "公益 Research", "scenario": "public_welfare", "price_minor": 0, "currency": "CNY", "term_days": 30,
         "epsilon_budget": 1.0, "query_quota": 10}]


def _offer(price: int) -> list[dict[str, Any]]:
    return [{"name": "商业 Commercial", "scenario": "industry", "price_minor": price, "currency": "CNY",
             "term_days": 30, "epsilon_budget": 1.0, "query_quota": 10}]


@pytest.fixture
def shelf(client: TestClient) -> dict[str, Any]:
    """Three published listings from two providers, one draft and one suspended listing."""
    transport = staff(client, "t@gov.test", Role.provider, "交通运输局 Transport Bureau")
    stats = staff(client, "s@gov.test", Role.provider, "统计局 Statistics Bureau")
    office = staff(client, "o@gov.test", Role.data_office)
    described = {**PEOPLE_DICTIONARY, "columns": [
        {**c, "description": "乘客年龄 age of the passenger"} if c["name"] == "age" else c
        for c in PEOPLE_DICTIONARY["columns"]]}
    bus = publish(client, transport, [office], "bus", title="公交准点率月报 Bus punctuality",
                  description="各线路公交到站准点情况", keywords=["公交", "transport"], sector="交通运输",
                  offers=_offer(30_000), dictionary=described)
    people_ = publish(client, stats, [office], "census", title="人口收入统计 Income statistics",
                      description="按区域统计的收入，含出行方式", keywords=["人口", "income"], sector="民政",
                      offers=FREE)
    trips = publish(client, transport, [office], "trips", title="市民出行调查 Travel survey",
                    description="Trips by mode and district", keywords=["出行"], sector="交通运输",
                    offers=_offer(90_000))
    draft(client, stats, "hidden", title="公交草稿 draft bus data")
    gone = publish(client, stats, [office], "gone", title="公交停运 Suspended bus data")
    ok(transition(client, office, gone["id"], "suspend", "complaint"))
    return {"bus": bus["id"], "people": people_["id"], "trips": trips["id"], "office": office}


def _ids(client: TestClient, **params: Any) -> list[int]:
    page = ok(client.get(f"{API}/catalog", params=params))
    assert page["total"] >= len(page["items"])
    return [item["id"] for item in page["items"]]


def test_a_two_character_chinese_word_finds_the_title_containing_it(client: TestClient,
                                                                    shelf: dict[str, Any]) -> None:
    assert _ids(client, q="准点") == [shelf["bus"]]
    assert _ids(client, q="准点率") == [shelf["bus"]]
    assert _ids(client, q="收入") == [shelf["people"]]
    assert _ids(client, q="点") == [shelf["bus"]]
    assert _ids(client, q="准点 收入") == []  # every term must match
    assert _ids(client, q="草稿") == [] and _ids(client, q="停运") == []  # drafts and suspended stay out


def test_english_search_matches_stems_prefixes_providers_and_column_descriptions(client: TestClient,
                                                                               shelf: dict[str, Any]) -> None:
    assert _ids(client, q="punctual") == [shelf["bus"]]
    assert _ids(client, q="TRIP") == [shelf["trips"]]
    assert _ids(client, q="surveys") == [shelf["trips"]]
    assert _ids(client, q="passenger") == [shelf["bus"]]  # a column's description
    assert _ids(client, q="乘客年龄") == [shelf["bus"]]
    assert sorted(_ids(client, q="交通运输局")) == sorted([shelf["bus"], shelf["trips"]])  # the provider


def test_a_match_in_the_title_ranks_above_one_in_the_description(client: TestClient, shelf: dict[str, Any]) -> None:
    assert _ids(client, q="出行") == [shelf["trips"], shelf["people"]]


def test_filters_sort_and_pages(client: TestClient, shelf: dict[str, Any]) -> None:
    assert sorted(_ids(client, sector="交通运输")) == sorted([shelf["bus"], shelf["trips"]])
    assert _ids(client, scenario="public_welfare") == [shelf["people"]]
    assert _ids(client, provider="统计局 Statistics Bureau") == [shelf["people"]]
    assert _ids(client, max_price_minor=50_000, scenario="industry") == [shelf["bus"]]
    assert _ids(client, min_price_minor=50_000) == [shelf["trips"]]
    assert _ids(client, sort="price_asc") == [shelf["people"], shelf["bus"], shelf["trips"]]
    assert _ids(client, sort="price_desc") == [shelf["trips"], shelf["bus"], shelf["people"]]
    assert _ids(client, grade="important") == []
    page = ok(client.get(f"{API}/catalog", params={"sort": "price_asc", "limit": 2, "offset": 1}))
    assert page["total"] == 3 and [i["id"] for i in page["items"]] == [shelf["bus"], shelf["trips"]]
    assert client.get(f"{API}/catalog", params={"sort": "random"}).status_code == 422


def test_the_preview_is_synthetic_and_made_from_the_public_dictionary_only(client: TestClient) -> None:
    provider = staff(client, "p@gov.test", Role.provider, "统计局")
    office = staff(client, "o@gov.test", Role.data_office)
    listing = publish(client, provider, [office])
    preview = ok(client.get(f"{API}/catalog/{listing['id']}/preview", params={"rows": 50}))
    assert preview["synthetic"] is True and "合成数据" in preview["notice"] and "Synthetic" in preview["notice"]
    names = [c["name"] for c in preview["columns"]]
    assert names == ["person_id", "region", "age", "income"]  # excluded columns are not shown
    data = people(300)
    real_ids = set(data["person_id"].to_list())
    for person, region, age, income in preview["rows"]:
        assert person not in real_ids and region in REGIONS
        assert 0 <= age <= 120 and isinstance(age, int) and 0 <= income <= 100_000
    assert len(preview["rows"]) == 50
    again = ok(client.get(f"{API}/catalog/{listing['id']}/preview", params={"rows": 50}))
    assert again["rows"] == preview["rows"]  # stable for a listing version
    assert client.get(f"{API}/catalog/{listing['id'] + 99}/preview").status_code == 404


@pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")
def test_the_json_ld_catalog_parses_and_names_every_published_listing(client: TestClient,
                                                                      shelf: dict[str, Any]) -> None:
    response = client.get(f"{API}/catalog.jsonld")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/ld+json")
    graph = Graph().parse(data=response.text, format="json-ld")
    base = get_settings().base_url.rstrip("/")
    datasets = set(graph.subjects(RDF.type, DCAT.Dataset))
    expected = {URIRef(f"{base}/api/v1/catalog/{shelf[k]}") for k in ("bus", "people", "trips")}
    assert datasets == expected
    bus = URIRef(f"{base}/api/v1/catalog/{shelf['bus']}")
    assert graph.value(bus, DCT.title) == Literal("公交准点率月报 Bus punctuality")
    assert graph.value(graph.value(bus, DCT.publisher), FOAF.name) == Literal("交通运输局 Transport Bureau")
    assert (bus, DCT.accrualPeriodicity,
            URIRef("http://publications.europa.eu/resource/authority/frequency/ANNUAL")) in graph
    assert str(graph.value(bus, DCT.identifier)).startswith("SYDJ-")
    distribution = graph.value(bus, DCAT.distribution)
    service = graph.value(distribution, DCAT.accessService)
    assert graph.value(service, DCAT.endpointURL) == URIRef(f"{base}/api/v1/queries")
    assert graph.value(graph.value(bus, DCT.accessRights), URIRef("http://www.w3.org/2000/01/rdf-schema#label"))
