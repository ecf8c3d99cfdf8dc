"""Free offers are for public governance and public welfare: the data office reviews each free licence's
eligibility (purpose and evidence) before it starts, and a refusal names its reason."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.flow import World, ok
from tests.web.test_pages import browser_sign_in, csrf_of

API = "/api/v1"
PURPOSE = "区县公交线网优化的公益研究 public research on bus network planning"
EVIDENCE = "市交通委课题任务书 JT-2026-017"


@pytest.fixture(params=["public_welfare", "public_governance"])
def free(client: TestClient, request: pytest.FixtureRequest) -> dict[str, Any]:
    world = World(client)
    offer = ok(client.post(f"{API}/listings/{world.listing['id']}/offers", headers=world.provider, json={
        "name": "公益研究 Research", "scenario": request.param, "price_minor": 0, "term_days": 30,
        "epsilon_budget": 1.0, "query_quota": 10}))["offers"][-1]
    return {"world": world, "offer": offer, "enterprise": world.enterprise()}


def test_a_governance_or_welfare_offer_is_never_priced(client: TestClient) -> None:
    world = World(client)
    for scenario in ("public_governance", "public_welfare"):
        refused = client.post(f"{API}/listings/{world.listing['id']}/offers", headers=world.provider, json={
            "name": "治理 Governance", "scenario": scenario, "price_minor": 100, "term_days": 30,
            "epsilon_budget": 1.0, "query_quota": 10})
        assert refused.status_code == 422 and "必须免费" in refused.json()["detail_zh"]
    governance = ok(client.get(f"{API}/catalog", params={"scenario": "public_governance"}))
    assert governance["total"] == 0  # the world's listing has no governance offer


def _apply(client: TestClient, free: dict[str, Any], **body: Any) -> Any:
    return client.post(f"{API}/licenses", headers=free["enterprise"], json={
        "listing_id": free["world"].listing["id"], "offer_id": free["offer"]["id"], **body})


@pytest.mark.parametrize("body", [{"purpose": "x", "evidence": EVIDENCE}, {"purpose": PURPOSE},
                                  {"purpose": PURPOSE, "evidence": "   "}])
def test_a_free_licence_needs_a_real_purpose_and_evidence(client: TestClient, free: dict[str, Any],
                                                          body: dict[str, Any]) -> None:
    refused = _apply(client, free, **body)
    assert refused.status_code == 422 and refused.json()["type"] == "eligibility-evidence-missing"
    assert "公益" in refused.json()["detail_zh"]


def test_a_free_licence_starts_only_after_the_office_finds_it_eligible(client: TestClient,
                                                                       free: dict[str, Any]) -> None:
    licence = ok(_apply(client, free, purpose=PURPOSE, evidence=EVIDENCE), 201)
    assert licence["status"] == "pending_approval" and licence["evidence"] == EVIDENCE
    query = {"license_id": licence["id"], "sql": "SELECT COUNT(*) AS n FROM people", "epsilon": 0.1}
    assert client.post(f"{API}/queries", headers=free["enterprise"], json=query).status_code == 403
    office = free["world"].office
    approved = ok(client.post(f"{API}/licenses/{licence['id']}/review", headers=office, json={"decision": "approve"}))
    assert approved["status"] == "active"
    ok(client.post(f"{API}/queries", headers=free["enterprise"], json=query), 201)


def test_a_refused_eligibility_names_its_reason(client: TestClient, free: dict[str, Any]) -> None:
    licence = ok(_apply(client, free, purpose=PURPOSE, evidence=EVIDENCE), 201)
    office = free["world"].office
    unnamed = client.post(f"{API}/licenses/{licence['id']}/review", headers=office, json={"decision": "reject"})
    assert unnamed.status_code == 422 and "commercial-use" in unnamed.json()["detail"]
    wrong = client.post(f"{API}/licenses/{licence['id']}/review", headers=office,
                        json={"decision": "reject", "reason_code": "eligible-public-interest"})
    assert wrong.status_code == 422
    refused = ok(client.post(f"{API}/licenses/{licence['id']}/review", headers=office,
                             json={"decision": "reject", "reason_code": "commercial-use"}))
    assert refused["status"] == "rejected"


def test_the_office_sees_the_evidence_and_refuses_with_a_reason_on_its_page(client: TestClient,
                                                                           free: dict[str, Any]) -> None:
    licence = ok(_apply(client, free, purpose=PURPOSE, evidence=EVIDENCE), 201)
    browser_sign_in(client, "office@gov.test")
    home = client.get("/office", headers={"accept-language": "zh-CN"})
    assert EVIDENCE in home.text and "实际为商业用途" in home.text
    done = client.post(f"/office/licences/{licence['id']}/review", follow_redirects=False, data={
        "decision": "reject", "reason_code": "evidence-insufficient", "csrf": csrf_of(home.text)})
    assert done.status_code == 303
    assert ok(client.get(f"{API}/licenses/{licence['id']}", headers=free["world"].office))["status"] == "rejected"
