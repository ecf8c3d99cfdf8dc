"""A listing's life after review: suspension, paused ordering, retirement and grade changes, each with an
actor, role, reason code and comment, and each enforced where it matters (catalog, licences, sandbox)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import select

from core.auth import Role
from core.db import unit_of_work
from core.models import AuditEvent
from market.reasons import REASONS
from tests.flow import World, ok, security_review, staff
from tests.market.steps import API, draft, review, transition


def _query(client: TestClient, headers: dict[str, str], licence_id: int, epsilon: float = 0.2) -> object:
    return client.post(f"{API}/queries", headers=headers, json={
        "license_id": licence_id, "sql": f"SELECT COUNT(*) AS n FROM people WHERE age > {int(epsilon * 100)}",
        "epsilon": epsilon})


def test_every_transition_records_actor_role_reason_code_and_comment(client: TestClient) -> None:
    world = World(client)
    listing_id = world.listing["id"]
    ok(transition(client, world.office, listing_id, "suspend", "security-incident", "key leak being checked"))
    detail = ok(client.get(f"{API}/listings/{listing_id}", headers=world.office))
    steps = [(h["action"], h["from_status"], h["to_status"], h["actor_role"], h["reason_code"])
             for h in detail["history"]]
    assert steps == [("submit", "draft", "submitted", "provider", "initial-submission"),
                     ("publish", "submitted", "published", "data_office", "meets-standard"),
                     ("suspend", "published", "suspended", "data_office", "security-incident")]
    assert detail["history"][-1]["comment"] == "key leak being checked"
    assert detail["history"][-1]["actor_user_id"] is not None
    with unit_of_work() as session:
        audited = session.exec(select(AuditEvent).where(AuditEvent.action == "listing.suspend")).one()
    assert audited.data["reason_code"] == "security-incident" and audited.actor_role == "data_office"


def test_unknown_or_unfitting_reason_codes_are_refused_with_the_list(client: TestClient) -> None:
    world = World(client)
    listing_id = world.listing["id"]
    unknown = transition(client, world.office, listing_id, "suspend", "because-i-said-so")
    assert unknown.status_code == 422 and unknown.json()["type"] == "unknown-reason-code"
    assert "security-incident" in unknown.json()["detail"]
    unfitting = transition(client, world.office, listing_id, "suspend", "meets-standard")
    assert unfitting.status_code == 422 and unfitting.json()["type"] == "unknown-reason-code"
    codes = ok(client.get(f"{API}/listings/reason-codes", params={"action": "reject"}))
    assert "not-public-data" in [c["code"] for c in codes["items"]] and codes["total"] == len(codes["items"])
    assert all("reject" in c["actions"] and c["zh"] for c in codes["items"])


def test_a_review_decision_other_than_approval_must_name_its_reason(client: TestClient) -> None:
    provider = staff(client, "p@gov.test", Role.provider, "统计局")
    office = staff(client, "o@gov.test", Role.data_office)
    listing = draft(client, provider)
    ok(client.post(f"{API}/listings/{listing['id']}/submit", headers=provider))
    silent = review(client, office, listing["id"], "request_changes")
    assert silent.status_code == 422 and "dictionary-incomplete" in silent.json()["detail"]
    sent_back = ok(review(client, office, listing["id"], "request_changes", reason_code="dictionary-incomplete"))
    assert sent_back["status"] == "changes_requested"
    resubmitted = ok(client.post(f"{API}/listings/{listing['id']}/submit", headers=provider))
    assert resubmitted["status"] == "submitted"
    approved = ok(review(client, office, listing["id"], grade="general"))  # an approval defaults its code
    history = ok(client.get(f"{API}/listings/{listing['id']}", headers=provider))["history"]
    assert approved["status"] == "published"
    assert [h["reason_code"] for h in history] == ["initial-submission", "dictionary-incomplete", "resubmission",
                                                   "meets-standard"]


def test_suspension_hides_the_listing_and_stops_queries_until_resumed(client: TestClient) -> None:
    world = World(client)
    enterprise = world.enterprise()
    licence = world.active_licence(enterprise)
    listing_id = world.listing["id"]
    ok(transition(client, world.office, listing_id, "suspend", "complaint"))
    assert ok(client.get(f"{API}/catalog"))["total"] == 0
    assert client.get(f"{API}/catalog/{listing_id}").status_code == 404
    blocked = _query(client, enterprise, licence["id"])
    assert blocked.status_code == 409 and blocked.json()["type"] == "listing-unavailable"  # type: ignore[attr-defined]
    ok(transition(client, world.office, listing_id, "resume", "issue-resolved"))
    assert _query(client, enterprise, licence["id"]).status_code == 201  # type: ignore[attr-defined]


def test_paused_ordering_keeps_the_listing_visible_but_refuses_new_licences(client: TestClient) -> None:
    world = World(client)
    enterprise = world.enterprise()
    listing_id = world.listing["id"]
    paused = ok(transition(client, world.provider, listing_id, "pause_ordering", "pending-update"))
    assert paused["status"] == "ordering_paused"
    assert [i["id"] for i in ok(client.get(f"{API}/catalog"))["items"]] == [listing_id]
    refused = client.post(f"{API}/licenses", headers=enterprise,
                          json={"listing_id": listing_id, "offer_id": world.offer_id, "purpose": "research"})
    assert refused.status_code == 409 and refused.json()["type"] == "ordering-paused"
    assert ok(transition(client, world.provider, listing_id, "resume_ordering", "update-complete"))["status"] == \
        "published"
    ok(transition(client, world.office, listing_id, "pause_ordering", "legal-review"))
    provider_resume = transition(client, world.provider, listing_id, "resume_ordering", "issue-resolved")
    assert provider_resume.status_code == 403  # the office paused it: only the office lifts it
    ok(transition(client, world.office, listing_id, "resume_ordering", "issue-resolved"))


def test_only_the_data_office_suspends_and_only_the_owner_acts_on_a_listing(client: TestClient) -> None:
    world = World(client)
    listing_id = world.listing["id"]
    assert transition(client, world.provider, listing_id, "suspend", "complaint").status_code == 403
    stranger = staff(client, "other@gov.test", Role.provider, "税务局")
    assert transition(client, stranger, listing_id, "pause_ordering", "provider-request").status_code == 404
    assert transition(client, world.office, listing_id, "resume", "issue-resolved").status_code == 409


def test_retirement_is_final_and_cancels_the_registration(client: TestClient) -> None:
    world = World(client)
    listing_id = world.listing["id"]
    retired = ok(transition(client, world.office, listing_id, "retire", "authorization-ended"))
    assert retired["status"] == "retired" and retired["retired_at"]
    registration = ok(client.get(f"{API}/registrations/{retired['registration_code']}"))
    assert registration["status"] == "cancelled" and registration["events"][-1]["kind"] == "cancellation"
    assert transition(client, world.office, listing_id, "resume", "issue-resolved").status_code == 409
    assert client.post(f"{API}/listings/{listing_id}/submit", headers=world.provider).status_code == 409


def test_raising_a_grade_tightens_the_dp_policy_of_existing_licences_at_once(client: TestClient) -> None:
    world = World(client)
    enterprise = world.enterprise()
    licence = world.active_licence(enterprise)
    assert _query(client, enterprise, licence["id"], 0.8).status_code == 201  # type: ignore[attr-defined]
    raised = ok(client.post(f"{API}/listings/{world.listing['id']}/grade", headers=world.office,
                            json={"grade": "important", "reason_code": "aggregation-risk"}))
    assert raised["grade"] == "important" and raised["status"] == "published"
    assert raised["dp_policy"]["max_epsilon_per_query"] <= 0.5 and raised["dp_policy"]["min_group_size"] >= 10
    # The licence now waits for the data office (tests/licensing/test_grade_raise.py); once approved,
    # the tightened policy applies to it.
    ok(client.post(f"{API}/licenses/{licence['id']}/review", headers=world.office2, json={"decision": "approve"}))
    refused = _query(client, enterprise, licence["id"], 0.7)
    assert refused.status_code == 422 and refused.json()["type"] == "epsilon-not-allowed"  # type: ignore[attr-defined]
    events = ok(client.get(f"{API}/registrations/{raised['registration_code']}"))["events"]
    assert events[-1]["kind"] == "change" and events[-1]["summary"]["grade"] == {"from": "general",
                                                                                 "to": "important"}


def test_lowering_a_grade_needs_a_fresh_review_by_other_data_office_users(client: TestClient) -> None:
    world = World(client, grade="important")
    office3 = staff(client, "office3@gov.test", Role.data_office)
    listing_id = world.listing["id"]
    pending = ok(client.post(f"{API}/listings/{listing_id}/grade", headers=world.office,
                             json={"grade": "general", "reason_code": "reassessment"}))
    assert pending["grade"] == "important" and pending["revision"]["kind"] == "grade"
    own = review(client, world.office, listing_id, reason_code="meets-standard")
    assert own.status_code == 409 and own.json()["type"] == "self-review"
    first = ok(review(client, world.office2, listing_id, reason_code="meets-standard"))
    assert first["grade"] == "important"  # important data: two approvals, as for publishing it
    lowered = ok(review(client, office3, listing_id, reason_code="meets-standard"))
    assert lowered["grade"] == "general" and lowered["revision"] is None and lowered["status"] == "published"


def test_raising_to_core_takes_the_listing_out_of_service_for_good(client: TestClient) -> None:
    world = World(client)
    core = ok(client.post(f"{API}/listings/{world.listing['id']}/grade", headers=world.office,
                          json={"grade": "core", "reason_code": "core-data"}))
    assert core["status"] == "suspended" and core["grade"] == "core"
    again = transition(client, world.office, world.listing["id"], "resume", "issue-resolved")
    assert again.status_code == 409 and again.json()["type"] == "core-grade-not-publishable"


def test_the_data_office_sets_sector_ceiling_and_permitted_scenarios_on_review(client: TestClient) -> None:
    provider = staff(client, "p@gov.test", Role.provider, "统计局")
    office = staff(client, "o@gov.test", Role.data_office)
    listing = draft(client, provider)
    ok(client.post(f"{API}/listings/{listing['id']}/offers", headers=provider, json={
        "name": "Open research", "scenario": "public_welfare", "price_minor": 0, "term_days": 30,
        "epsilon_budget": 1.0, "query_quota": 10}))
    ok(client.post(f"{API}/listings/{listing['id']}/submit", headers=provider))
    too_cheap = review(client, office, listing["id"], grade="general", ceiling_price_minor=10_000)
    assert too_cheap.status_code == 422 and too_cheap.json()["type"] == "offer-above-ceiling"
    published = ok(review(client, office, listing["id"], grade="general", ceiling_price_minor=80_000,
                          sector="统计 Statistics", scenarios=["public_welfare"]))
    assert published["sector"] == "统计 Statistics" and published["ceiling_price_minor"] == 80_000
    assert [(o["scenario"], o["active"]) for o in published["offers"]] == [("industry", False),
                                                                           ("public_welfare", True)]
    above = client.post(f"{API}/listings/{listing['id']}/offers", headers=provider, json={
        "name": "Later", "scenario": "industry", "price_minor": 90_000, "term_days": 30, "epsilon_budget": 1.0,
        "query_quota": 10})
    assert above.status_code == 422


def test_two_approvers_who_disagree_publish_the_higher_grade(client: TestClient) -> None:
    provider = staff(client, "p@gov.test", Role.provider, "统计局")
    first, second = staff(client, "o1@gov.test", Role.data_office), staff(client, "o2@gov.test", Role.data_office)
    listing = draft(client, provider, grade="important")
    ok(client.post(f"{API}/listings/{listing['id']}/submit", headers=provider))
    security_review(client, first, listing["id"])
    ok(review(client, first, listing["id"], grade="important"))
    published = ok(review(client, second, listing["id"], grade="general"))
    assert published["status"] == "published" and published["grade"] == "important"


@pytest.mark.parametrize("table", ["listing_transitions", "registration_events"])
def test_lifecycle_records_cannot_be_rewritten(client: TestClient, table: str) -> None:
    world = World(client)
    del world
    with pytest.raises(Exception, match="append-only"), unit_of_work() as session:
        session.execute(text(f"UPDATE {table} SET reason_code = 'forged'"))


def test_every_reason_code_is_documented_with_the_actions_it_fits() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "data-office.md").read_text()
    missing = [r.code for r in REASONS if f"| `{r.code}` | {', '.join(sorted(r.actions))} |" not in doc]
    assert missing == []
