"""The authorization matrix, generated from the app's routes: every API operation × every role × own or
another organization. The rules below are the specification; an operation without one fails the suite, so
a new endpoint cannot ship without saying who may call it. Cross-tenant reads are 404, never 403: another
organization's records do not exist for you."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.auth import Role
from tests.figures import record
from tests.flow import World, ok, staff
from web.guards import api_routes

PUBLIC = "public"
SIGNED_IN = "signed_in"
ROLES = ("anonymous", "provider", "data_office", "enterprise", "finance", "admin")


@dataclass(frozen=True)
class Rule:
    who: frozenset[str] | str  # roles, PUBLIC or SIGNED_IN
    owner: str | None = None  # the organization kind whose record the path names: others read 404
    readers: frozenset[str] = frozenset()  # SIGNED_IN reads limited to these roles (others 404)


def roles(*names: str, owner: str | None = None) -> Rule:
    return Rule(frozenset(names), owner)


OFFICE, PROVIDER, ENTERPRISE, FINANCE = "data_office", "provider", "enterprise", "finance"
RULES: dict[str, Rule] = {
    "POST /api-keys": Rule(SIGNED_IN),
    "GET /me": Rule(SIGNED_IN),
    "POST /auth/token": Rule(PUBLIC),
    "GET /audit/verify": roles(OFFICE),
    "GET /catalog": Rule(PUBLIC),
    "GET /catalog.jsonld": Rule(PUBLIC),
    "GET /catalog/{listing_id}": Rule(PUBLIC),
    "GET /catalog/{listing_id}/preview": Rule(PUBLIC),
    "GET /checkout/return": Rule(PUBLIC),
    "GET /disclosures/{year}": Rule(PUBLIC),
    "GET /listings/reason-codes": Rule(PUBLIC),
    "POST /organizations/register": Rule(PUBLIC),
    "GET /receipts/public-key": Rule(PUBLIC),
    "GET /registrations": Rule(PUBLIC),
    "GET /registrations/{code}": Rule(PUBLIC),
    "POST /webhooks/stripe": Rule(PUBLIC),
    "POST /datasets": roles(PROVIDER),
    "GET /datasets": roles(PROVIDER),
    "GET /datasets/{dataset_id}": roles(PROVIDER, owner=PROVIDER),
    "GET /datasets/{dataset_id}/checks": roles(PROVIDER, owner=PROVIDER),
    "GET /datasets/{dataset_id}/profile": roles(PROVIDER, owner=PROVIDER),
    "PUT /datasets/{dataset_id}/dictionary": roles(PROVIDER, owner=PROVIDER),
    "POST /datasets/{dataset_id}/dictionary/keys": roles(PROVIDER, owner=PROVIDER),
    "POST /listings": roles(PROVIDER),
    "GET /listings": roles(OFFICE, PROVIDER),
    "GET /listings/{listing_id}": roles(OFFICE, PROVIDER, owner=PROVIDER),
    "POST /listings/{listing_id}/grade": roles(OFFICE),
    "POST /listings/{listing_id}/offers": roles(PROVIDER, owner=PROVIDER),
    "POST /listings/{listing_id}/review": roles(OFFICE),
    "POST /listings/{listing_id}/submit": roles(PROVIDER, owner=PROVIDER),
    "POST /listings/{listing_id}/transition": roles(OFFICE, PROVIDER, owner=PROVIDER),
    "POST /registrations/{code}/corrections": roles(OFFICE),
    "GET /usage/listings": roles(OFFICE, PROVIDER),
    "POST /licenses": roles(ENTERPRISE),
    "GET /licenses": roles(OFFICE, ENTERPRISE, FINANCE),
    "GET /licenses/{license_id}": roles(OFFICE, ENTERPRISE, FINANCE, owner=ENTERPRISE),
    "POST /licenses/{license_id}/checkout": roles(ENTERPRISE, owner=ENTERPRISE),
    "POST /licenses/{license_id}/renew": roles(ENTERPRISE, owner=ENTERPRISE),
    "POST /licenses/{license_id}/resume": roles(OFFICE),
    "POST /licenses/{license_id}/review": roles(OFFICE),
    "POST /licenses/{license_id}/revoke": roles(OFFICE),
    "POST /licenses/{license_id}/suspend": roles(OFFICE),
    "POST /queries": roles(ENTERPRISE),
    "GET /queries": roles(ENTERPRISE),
    "POST /queries/preview": roles(ENTERPRISE),
    "GET /queries/{query_id}": roles(ENTERPRISE, owner=ENTERPRISE),
    "POST /queries/{query_id}/cancel": roles(ENTERPRISE, owner=ENTERPRISE),
    "GET /payments": roles(FINANCE),
    "GET /payments/{payment_id}": Rule(SIGNED_IN, owner=ENTERPRISE, readers=frozenset({ENTERPRISE, FINANCE})),
    "POST /payments/{payment_id}/confirm": roles(FINANCE),
    "POST /payments/{payment_id}/refund": roles(FINANCE),
    "GET /ledger/entries": roles(FINANCE),
    "GET /ledger/trial-balance": roles(FINANCE),
    "POST /reconciliations": roles(FINANCE),
    "GET /reconciliations": roles(FINANCE),
    "POST /reconciliations/import": roles(FINANCE),
    "GET /reconciliations/{reconciliation_id}": roles(FINANCE),
    "GET /reports/revenue": roles(FINANCE),
    "GET /treasury": roles(FINANCE),
    "POST /treasury/remittances": roles(FINANCE),
    "GET /treasury/remittances": roles(FINANCE),
    "PATCH /listings/{listing_id}": roles(PROVIDER, owner=PROVIDER),
    "GET /registrations/export.json": Rule(PUBLIC),
    "GET /fees": Rule(PUBLIC),
    "POST /complaints": Rule(PUBLIC),
    "GET /complaints/track/{tracking_code}": Rule(PUBLIC),
    "GET /complaints": roles(OFFICE),
    "GET /complaints/{complaint_id}": roles(OFFICE),
    "POST /complaints/{complaint_id}/handle": roles(OFFICE),
    "POST /listings/{listing_id}/security-reviews": roles(OFFICE),
    "GET /listings/{listing_id}/security-reviews": roles(OFFICE),
    "GET /listings/{listing_id}/budget": roles(OFFICE),
    "GET /payments/mine": roles(ENTERPRISE),
    "GET /payments/{payment_id}/receipt.pdf": roles(ENTERPRISE),
    "POST /payments/bank-statement": roles(FINANCE),
    "GET /datasets/{dataset_id}/quality": roles(PROVIDER, OFFICE),
    "GET /queries/{query_id}/export": roles(ENTERPRISE),
    "POST /saved-queries": roles(ENTERPRISE),
    "GET /saved-queries": roles(ENTERPRISE),
    "GET /saved-queries/{saved_id}": roles(ENTERPRISE),
    "DELETE /saved-queries/{saved_id}": roles(ENTERPRISE),
    "POST /saved-queries/{saved_id}/run": roles(ENTERPRISE),
    "GET /query-history": roles(ENTERPRISE),
    "GET /metrics/effectiveness/{year}": Rule(PUBLIC),
    "GET /metrics/effectiveness": Rule(PUBLIC),
    "POST /licenses/{license_id}/rating": roles(ENTERPRISE),
    "POST /costs": roles(FINANCE),
    "GET /costs": roles(FINANCE),
    "POST /revenue-ceilings": roles(OFFICE),
    "GET /reports/revenue-ceiling": roles(OFFICE, FINANCE),
    "GET /api-keys": Rule(SIGNED_IN),
    "DELETE /api-keys/{key_id}": Rule(SIGNED_IN),
    "GET /notifications": Rule(SIGNED_IN),
    "POST /notifications/{notification_id}/read": Rule(SIGNED_IN),
    "POST /notifications/read-all": Rule(SIGNED_IN),
    "GET /notifications/preferences": Rule(SIGNED_IN),
    "PUT /notifications/preferences": Rule(SIGNED_IN),
    "GET /admin/users": roles("admin"),
    "POST /admin/users": roles("admin"),
    "POST /admin/users/{user_id}/disable": roles("admin"),
    "POST /admin/users/{user_id}/enable": roles("admin"),
    "POST /admin/users/{user_id}/reset-password": roles("admin"),
    "POST /me/password": Rule(SIGNED_IN),
    "GET /me/sessions": Rule(SIGNED_IN),
    "GET /me/two-factor": Rule(SIGNED_IN),
    "POST /me/two-factor/enrolment": Rule(SIGNED_IN),
    "POST /me/two-factor/enrolment/confirm": Rule(SIGNED_IN),
    "POST /me/two-factor/recovery-codes": Rule(SIGNED_IN),
    "POST /me/two-factor/disable": Rule(SIGNED_IN),
    "POST /admin/users/{user_id}/two-factor/reset": roles("admin"),
    "DELETE /me/sessions/{session_id}": Rule(SIGNED_IN),
    "GET /me/identities": Rule(SIGNED_IN),
    "DELETE /me/identities/{identity_id}": Rule(SIGNED_IN),
    "POST /auth/password-reset": Rule(PUBLIC),
    "POST /auth/password-reset/{token}": Rule(PUBLIC),
    # the organization's own enterprise admin; anyone else finds no such organization (404)
    "POST /organizations/{organization_id}/invitations": Rule(SIGNED_IN, readers=frozenset({ENTERPRISE})),
    "GET /organizations/{organization_id}/members": Rule(SIGNED_IN, owner=ENTERPRISE,
                                                         readers=frozenset({ENTERPRISE})),
    "POST /invitations/{token}/accept": Rule(PUBLIC),
    "PUT /organizations/{organization_id}/members/{user_id}": Rule(SIGNED_IN, readers=frozenset({ENTERPRISE})),
    # openstats branch: open statistics, registration certificates, the report's deadline
    "POST /listings/{listing_id}/open-statistics/preview": roles(OFFICE),
    "POST /listings/{listing_id}/open-statistics": roles(OFFICE),
    "GET /listings/{listing_id}/open-statistics": roles(OFFICE),
    "GET /open-statistics": Rule(PUBLIC),
    "GET /open-statistics/{statistic_id}": Rule(PUBLIC),
    "GET /open-statistics/{statistic_id}/tables/{table_id}/csv": Rule(PUBLIC),
    "GET /open-statistics/{statistic_id}/tables/{table_id}/receipt": Rule(PUBLIC),
    "GET /registrations/{code}/certificate.pdf": roles(OFFICE, PROVIDER),
    "GET /disclosures/due": roles(OFFICE),
    "POST /agreements": roles(OFFICE),
    "GET /agreements": Rule(PUBLIC),
    "GET /agreements/{agreement_id}": Rule(PUBLIC),
    "POST /agreements/{agreement_id}/document": roles(OFFICE),
    "GET /agreements/{agreement_id}/document": Rule(PUBLIC),
    "POST /agreements/{agreement_id}/revoke": roles(OFFICE),
    "GET /licenses/{license_id}/query-fees": roles(OFFICE, ENTERPRISE, FINANCE, owner=ENTERPRISE),
    # templates branch: query templates the data office approves per listing
    "GET /listings/{listing_id}/templates": Rule(PUBLIC),
    "POST /listings/{listing_id}/templates": roles(OFFICE, PROVIDER, owner=PROVIDER),
    "GET /listings/{listing_id}/templates/{template_id}": Rule(PUBLIC),
    "POST /listings/{listing_id}/templates/{template_id}/review": roles(OFFICE),
    "POST /listings/{listing_id}/templates/{template_id}/run": roles(ENTERPRISE),
    "POST /listings/{listing_id}/templates/{template_id}/preview": roles(ENTERPRISE),
    "PUT /listings/{listing_id}/templates-rule": roles(OFFICE),
    "GET /templates/pending": roles(OFFICE),
}


def operations(app: Any) -> list[str]:
    return sorted(f"{method} {path.removeprefix('/api/v1')}" for path, methods, _ in api_routes(app)
                  if path.startswith("/api/v1") for method in methods if method != "HEAD")


def test_every_api_operation_has_an_authorization_rule(client: TestClient) -> None:
    found = operations(client.app)
    assert [op for op in found if op not in RULES] == [], "add a rule to RULES for each new operation"
    assert [op for op in RULES if op not in found] == [], "a rule names an operation that no longer exists"


@dataclass
class Tenants:
    headers: dict[str, dict[str, str]]  # role → headers, own organization
    others: dict[str, dict[str, str]]  # provider / enterprise of a second organization
    ids: dict[str, str]


@pytest.fixture
def tenants(client: TestClient) -> Tenants:
    world = World(client)
    enterprise = world.enterprise()
    licence = world.active_licence(enterprise)
    query = ok(client.post("/api/v1/queries", headers=enterprise, json={
        "license_id": licence["id"], "sql": "SELECT COUNT(*) FROM people", "epsilon": 0.1}), 201)
    payments = ok(client.get("/api/v1/payments", headers=world.finance))["items"]
    admin = staff(client, "admin@gov.test", Role.admin)
    other_provider = staff(client, "other@gov.test", Role.provider, "另一个局 Other Bureau")
    other_enterprise = _second_enterprise(client)
    spare = staff(client, "spare@gov.test", Role.finance)  # a user the admin may disable without harm
    organization_id = ok(client.get("/api/v1/me", headers=enterprise))["organization"]["id"]
    user_id = ok(client.get("/api/v1/me", headers=spare))["id"]
    return Tenants(
        headers={"anonymous": {}, "provider": world.provider, "data_office": world.office, "enterprise": enterprise,
                 "finance": world.finance, "admin": admin},
        others={PROVIDER: other_provider, ENTERPRISE: other_enterprise},
        ids={"listing_id": str(world.listing["id"]), "dataset_id": str(world.dataset["id"]),
             "license_id": str(licence["id"]), "query_id": str(query["id"]), "payment_id": str(payments[0]["id"]),
             "reconciliation_id": "1", "year": str(datetime.now(UTC).year),
             "code": world.listing["registration_code"], "organization_id": str(organization_id),
             "user_id": str(user_id), "complaint_id": "1", "tracking_code": "1", "saved_id": "1",
             "notification_id": "1", "token": "1", "statistic_id": "1", "table_id": "1", "template_id": "1",
             "agreement_id": str(world.listing["agreement_id"]),
             # ids no one owns: ending a real session or key would sign a probing role out mid-matrix
             "key_id": "999999", "session_id": "999999", "identity_id": "999999"})


def _second_enterprise(client: TestClient) -> dict[str, str]:
    from tests.flow import PASSWORD, sign_in

    ok(client.post("/api/v1/organizations/register", json={
        "name": "别的公司 Other Co", "credit_code": "91350100M000200Y4T", "admin_email": "b@other.test",
        "admin_password": PASSWORD}), 201)
    return sign_in(client, "b@other.test")


def _call(client: TestClient, op: str, ids: dict[str, str], headers: dict[str, str]) -> Any:
    method, path = op.split(" ", 1)
    url = "/api/v1" + re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], path)
    body = {} if method in ("POST", "PUT") else None
    return client.request(method, url, headers=headers, json=body)


def _allowed(rule: Rule, role: str) -> bool:
    if rule.who == PUBLIC:
        return True
    if role == "anonymous":
        return False
    return rule.who == SIGNED_IN or role in rule.who


def test_the_matrix_every_operation_as_every_role(client: TestClient, tenants: Tenants) -> None:
    probes: list[str] = []
    wrong: list[str] = []
    for op in operations(client.app):
        rule = RULES[op]
        for role in ROLES:
            response = _call(client, op, tenants.ids, tenants.headers[role])
            probes.append(op)
            status = response.status_code
            if status >= 500:
                wrong.append(f"{op} as {role}: {status}")
            elif not _allowed(rule, role):
                expected = 401 if role == "anonymous" else 403
                if status != expected:
                    wrong.append(f"{op} as {role}: {status}, expected {expected}")
            elif status in (401, 403):
                wrong.append(f"{op} as {role}: {status}, but the role may call it: {response.text[:200]}")
            elif rule.readers and role not in rule.readers and op.startswith("GET") and status != 404:
                wrong.append(f"{op} as {role}: {status}, expected 404 (not a reader of this record)")
    assert wrong == []
    assert len(probes) == len(RULES) * len(ROLES)
    record("authorization matrix", operations=len(RULES), roles=len(ROLES), probes=len(probes), wrong=len(wrong),
           held="401 anonymous, 403 other roles, never 5xx")


def test_another_organizations_records_read_as_missing(client: TestClient, tenants: Tenants) -> None:
    checked = 0
    for op, rule in RULES.items():
        if rule.owner is None or not op.startswith("GET"):
            continue
        response = _call(client, op, tenants.ids, tenants.others[rule.owner])
        assert response.status_code == 404, f"{op} as another {rule.owner}: {response.status_code} {response.text}"
        own = _call(client, op, tenants.ids, tenants.headers[rule.owner])
        assert own.status_code == 200, f"{op} as its owner: {own.status_code} {own.text}"
        checked += 1
    assert checked >= 7
    record("cross-tenant reads", probes=checked * 2, held="404 for another organization, 200 for the owner")
