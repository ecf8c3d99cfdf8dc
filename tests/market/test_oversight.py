"""Complaints and objections (投诉与异议): anyone files, the data office decides once, the filer reads the reply
with a tracking code; the public fee schedule; the three rights on every product."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rdflib import RDFS, Graph, Namespace

from core import audit
from core.auth import Role
from core.db import unit_of_work
from tests.flow import World, ok, people, security_review, staff, upload_csv
from tests.market.steps import API, dictionary_with, draft, publish, review
from tests.web.test_pages import browser_sign_in, csrf_of

DCT = Namespace("http://purl.org/dc/terms/")
FOAF = Namespace("http://xmlns.com/foaf/0.1/")
TEXT = "该数据产品的描述与实际字段不符，请核查。The description does not match the columns."


@pytest.fixture
def shop(client: TestClient) -> dict[str, Any]:
    provider = staff(client, "p@gov.test", Role.provider, "交通运输局 Transport Bureau")
    office = staff(client, "o@gov.test", Role.data_office)
    listing = publish(client, provider, [office], "bus")
    hidden = draft(client, provider, "hidden")
    return {"provider": provider, "office": office, "listing": listing, "draft": hidden}


def _actions() -> list[str]:
    with unit_of_work() as session:
        return [event.action for event in audit.recent(session, 500, 0)[0]]


def _file(client: TestClient, **body: Any) -> Any:
    return client.post(f"{API}/complaints", json={"text": TEXT, "contact": "138 0000 0000", **body})


def test_anyone_files_a_complaint_and_reads_the_reply_with_the_tracking_code(client: TestClient,
                                                                            shop: dict[str, Any]) -> None:
    filed = ok(_file(client, listing_id=shop["listing"]["id"]), 201)
    assert filed["kind"] == "complaint" and filed["status"] == "open"
    tracked = ok(client.get(f"{API}/complaints/track/{filed['tracking_code']}"))
    assert tracked["status"] == "open" and "contact" not in tracked

    office = shop["office"]
    page = ok(client.get(f"{API}/complaints", headers=office))
    assert page["open"] == 1 and page["items"][0]["contact"] == "138 0000 0000"
    assert page["items"][0]["listing_title"] == shop["listing"]["title"]
    handled = ok(client.post(f"{API}/complaints/{filed['id']}/handle", headers=office, json={
        "decision": "upheld", "reason_code": "complaint-upheld", "reply": "已要求供数单位更正描述。"}))
    assert handled["status"] == "handled" and handled["decision"] == "upheld"
    tracked = ok(client.get(f"{API}/complaints/track/{filed['tracking_code']}"))
    assert tracked["reply"] == "已要求供数单位更正描述。" and tracked["reason_code"] == "complaint-upheld"
    assert {"complaint.filed", "complaint.handled"} <= set(_actions())


def test_an_objection_names_a_registration_code(client: TestClient, shop: dict[str, Any]) -> None:
    code = shop["listing"]["registration_code"]
    assert code
    filed = ok(_file(client, registration_code=code.lower()), 201)
    assert filed["kind"] == "objection"
    item = ok(client.get(f"{API}/complaints/{filed['id']}", headers=shop["office"]))
    assert item["registration_code"] == code and item["listing_id"] == shop["listing"]["id"]


@pytest.mark.parametrize("body", [{}, {"listing_id": 1, "registration_code": "X"}])
def test_a_complaint_names_exactly_one_subject(client: TestClient, shop: dict[str, Any],
                                               body: dict[str, Any]) -> None:
    response = _file(client, **body)
    assert response.status_code == 422 and response.json()["detail_zh"]


def test_drafts_and_unknown_registrations_cannot_be_complained_about(client: TestClient,
                                                                     shop: dict[str, Any]) -> None:
    assert _file(client, listing_id=shop["draft"]["id"]).status_code == 404
    assert _file(client, registration_code="NOPE-0000").status_code == 404
    assert client.get(f"{API}/complaints/track/not-a-code").status_code == 404


def test_only_the_data_office_lists_and_handles_complaints(client: TestClient, shop: dict[str, Any]) -> None:
    filed = ok(_file(client, listing_id=shop["listing"]["id"]), 201)
    assert client.get(f"{API}/complaints").status_code == 401
    assert client.get(f"{API}/complaints", headers=shop["provider"]).status_code == 403
    decision = {"decision": "dismissed", "reason_code": "complaint-unfounded", "reply": "经核查不成立。"}
    assert client.post(f"{API}/complaints/{filed['id']}/handle", headers=shop["provider"],
                       json=decision).status_code == 403


def test_the_reason_code_must_fit_the_decision(client: TestClient, shop: dict[str, Any]) -> None:
    filed = ok(_file(client, listing_id=shop["listing"]["id"]), 201)
    wrong = client.post(f"{API}/complaints/{filed['id']}/handle", headers=shop["office"],
                        json={"decision": "dismissed", "reason_code": "complaint-upheld", "reply": "不成立"})
    assert wrong.status_code == 422 and "complaint-unfounded" in wrong.json()["detail"]


def test_concurrent_decisions_on_one_complaint_record_one(client: TestClient, shop: dict[str, Any]) -> None:
    filed = ok(_file(client, listing_id=shop["listing"]["id"]), 201)
    decision = {"decision": "dismissed", "reason_code": "complaint-duplicate", "reply": "重复投诉。"}
    statuses: list[int] = []

    def decide() -> None:
        statuses.append(client.post(f"{API}/complaints/{filed['id']}/handle", headers=shop["office"],
                                    json=decision).status_code)

    threads = [threading.Thread(target=decide) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] + [409] * 7
    assert _actions().count("complaint.handled") == 1


def test_the_fee_schedule_lists_every_offer_on_sale_and_nothing_else(client: TestClient,
                                                                     shop: dict[str, Any]) -> None:
    fees = ok(client.get(f"{API}/fees"))
    listed = {line["listing_id"] for line in fees["items"]}
    assert listed == {shop["listing"]["id"]}
    assert fees["total"] == len(shop["listing"]["offers"]) == len(fees["items"])
    line = fees["items"][0]
    offer = shop["listing"]["offers"][0]
    assert (line["price_minor"], line["term_days"], line["scenario"]) == (
        offer["price_minor"], offer["term_days"], offer["scenario"])
    assert line["provider"] == "交通运输局 Transport Bureau"


def test_every_product_names_its_three_rights(client: TestClient, shop: dict[str, Any]) -> None:
    entry = ok(client.get(f"{API}/catalog/{shop['listing']['id']}"))
    assert entry["rights"]["use"] == "交通运输局 Transport Bureau"
    assert "国家" in entry["rights"]["ownership"] and "财政" in entry["rights"]["revenue"]


def test_the_annual_disclosure_counts_complaints_and_names_the_rights(client: TestClient,
                                                                     shop: dict[str, Any]) -> None:
    filed = ok(_file(client, listing_id=shop["listing"]["id"]), 201)
    ok(_file(client, registration_code=shop["listing"]["registration_code"]), 201)
    ok(client.post(f"{API}/complaints/{filed['id']}/handle", headers=shop["office"], json={
        "decision": "dismissed", "reason_code": "complaint-unfounded", "reply": "经核查不成立。"}))
    year = ok(client.get(f"{API}/catalog/{shop['listing']['id']}"))["published_at"][:4]
    disclosure = ok(client.get(f"{API}/disclosures/{year}"))
    assert disclosure["complaints"] == {"complaints_received": 1, "objections_received": 1, "handled": 1,
                                        "upheld": 0}
    assert disclosure["resources"][0]["rights"]["use"] == "交通运输局 Transport Bureau"


def test_the_pages_let_a_citizen_complain_and_the_office_answer(client: TestClient, shop: dict[str, Any]) -> None:
    listing_id = shop["listing"]["id"]
    page = client.get(f"/complaints/new?listing_id={listing_id}", headers={"accept-language": "zh-CN"})
    assert page.status_code == 200 and shop["listing"]["title"] in page.text and "投诉与异议" in page.text
    csrf = csrf_of(page.text)
    short = client.post("/complaints", data={"listing_id": str(listing_id), "text": "太短", "csrf": csrf},
                        headers={"accept-language": "zh-CN"})
    assert short.status_code == 422 and "太短" in short.text  # what was typed is kept
    filed = client.post("/complaints", data={"listing_id": str(listing_id), "text": TEXT, "csrf": csrf},
                        follow_redirects=False)
    assert filed.status_code == 303
    status = client.get(filed.headers["location"], headers={"accept-language": "zh-CN"})
    assert "待答复" in status.text and "查询码" in status.text
    fees = client.get("/fees", headers={"accept-language": "zh-CN"})
    assert "收费公示" in fees.text and shop["listing"]["title"] in fees.text
    browser_sign_in(client, "o@gov.test")
    desk = client.get("/office/complaints", headers={"accept-language": "zh-CN"})
    assert desk.status_code == 200 and TEXT in desk.text and "1 件待答复" in desk.text
    complaint_id = ok(client.get(f"{API}/complaints", headers=shop["office"]))["items"][0]["id"]
    wrong = client.post(f"/office/complaints/{complaint_id}", headers={"accept-language": "zh-CN"}, data={
        "decision": "upheld", "reason_code": "complaint-duplicate", "reply": "重复", "csrf": csrf_of(desk.text)})
    assert wrong.status_code == 422
    answered = client.post(f"/office/complaints/{complaint_id}", follow_redirects=False, data={
        "decision": "upheld", "reason_code": "complaint-upheld", "reply": "已更正描述。", "csrf": csrf_of(desk.text)})
    assert answered.status_code == 303
    assert "已更正描述。" in client.get(filed.headers["location"]).text


def test_the_json_ld_catalog_states_the_rights_holder(client: TestClient, shop: dict[str, Any]) -> None:
    graph = Graph().parse(data=client.get(f"{API}/catalog.jsonld").text, format="json-ld")
    holders = {str(name) for _, _, holder in graph.triples((None, DCT.rightsHolder, None))
               for name in graph.objects(holder, FOAF.name)}
    assert holders == {"交通运输局 Transport Bureau"}
    statements = [str(label) for _, _, rights in graph.triples((None, DCT.rights, None))
                  for label in graph.objects(rights, RDFS.label)]
    assert len(statements) == 1 and "收益权" in statements[0]


def test_a_new_version_of_important_data_needs_its_own_security_review(client: TestClient) -> None:
    world = World(client, grade="important")
    listing_id = world.listing["id"]
    upload_csv(client, world.provider, "people", people(300, seed=7))
    ok(client.put(f"{API}/datasets/{world.dataset['id']}/dictionary", headers=world.provider,
                  json=dictionary_with(income={"bounds": [0, 50_000]})))
    ok(client.post(f"{API}/listings/{listing_id}/submit", headers=world.provider))
    ok(review(client, world.office, listing_id, reason_code="meets-standard"))
    blocked = review(client, world.office2, listing_id, reason_code="meets-standard")
    assert blocked.status_code == 409 and blocked.json()["type"] == "security-review-required"
    added = security_review(client, world.office2, listing_id)
    assert added["dataset_version"] == 2
    assert ok(review(client, world.office2, listing_id, reason_code="meets-standard"))["dataset_version"] == 2
    reviews = ok(client.get(f"{API}/listings/{listing_id}/security-reviews", headers=world.office))
    assert [r["dataset_version"] for r in reviews["items"]] == [2, 1]
    assert client.get(f"{API}/listings/{listing_id}/security-reviews", headers=world.provider).status_code == 403


def test_the_review_page_records_a_security_review(client: TestClient) -> None:
    provider = staff(client, "p@gov.test", Role.provider, "卫健委 Health Commission")
    staff(client, "o@gov.test", Role.data_office)
    listing = draft(client, provider, grade="important")
    ok(client.post(f"{API}/listings/{listing['id']}/submit", headers=provider))
    browser_sign_in(client, "o@gov.test")
    page = client.get(f"/office/listings/{listing['id']}", headers={"accept-language": "zh-CN"})
    assert f'hx-get="/office/listings/{listing["id"]}/security-reviews"' in page.text
    panel = client.get(f"/office/listings/{listing['id']}/security-reviews",
                       headers={"hx-request": "true", "accept-language": "zh-CN"})
    assert "尚未进行数据安全审查" in panel.text and "<html" not in panel.text
    token = csrf_of(page.text)
    undecided = client.post(f"/office/listings/{listing['id']}/security-reviews",
                            data={"risk_level": "high", "findings": "含健康信息", "csrf": token})
    assert undecided.status_code == 422
    done = client.post(f"/office/listings/{listing['id']}/security-reviews", follow_redirects=False,
                       data={"risk_level": "high", "findings": "含健康信息，已按重要数据管控", "decision": "pass",
                             "csrf": token})
    assert done.status_code == 303
    panel = client.get(f"/office/listings/{listing['id']}/security-reviews", headers={"accept-language": "zh-CN"})
    assert "含健康信息，已按重要数据管控" in panel.text and "通过" in panel.text
