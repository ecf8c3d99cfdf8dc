"""Steps of the main flow over HTTP, shared by tests: each returns what the next step needs."""

from __future__ import annotations

import io
from datetime import date, timedelta
from typing import Any

import numpy as np
import polars as pl
from fastapi.testclient import TestClient

from core.accounts import accounts
from core.auth import Role
from core.db import unit_of_work
from market.schemas import AgreementCreate
from market.service.agreements import agreements

PASSWORD = "correct horse battery"
CREDIT_CODE = "91350100M000100Y43"
REGIONS = ["north", "south", "east", "west"]


def staff(client: TestClient, email: str, role: Role, org: str | None = None) -> dict[str, str]:
    """Create a staff user the way `shuyu users create` does, sign in, return auth headers."""
    with unit_of_work() as session:
        accounts.create_staff(session, email, PASSWORD, role, org)
    if role is Role.provider and org:
        authorize(org)
    return sign_in(client, email)


OPERATOR = "数域运营有限公司 Shuyu Operations Co."


def authorize(department: str, days: int = 365) -> dict[str, Any]:
    """An active authorization agreement covering a provider department: listings are submitted only within one."""
    today = date.today()
    with unit_of_work() as session:
        return agreements.seed(session, AgreementCreate(
            title=f"{department} 公共数据授权运营协议", authorizing_body="某市人民政府 City Government",
            operator=OPERATOR, departments=[department], starts_on=today - timedelta(days=1),
            ends_on=today + timedelta(days=days))).model_dump(mode="json")


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def people(rows: int = 4000, seed: int = 1) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame({
        "person_id": [f"P{n:07d}" for n in range(rows)],
        "region": rng.choice(REGIONS, rows).tolist(),
        "age": rng.integers(18, 90, rows),
        "income": np.round(rng.uniform(0, 100_000, rows), 2),
        "secret_note": [f"note-{n}-zz" for n in range(rows)],
    })


PEOPLE_DICTIONARY: dict[str, Any] = {
    "privacy_unit": {"column": None, "max_contributions": 1},
    "columns": [
        {"name": "person_id", "role": "identifier", "description": "ID"},
        {"name": "region", "role": "dimension", "keys": REGIONS, "description": "region"},
        {"name": "age", "role": "measure", "bounds": [0, 120], "description": "age in years"},
        {"name": "income", "role": "measure", "bounds": [0, 100_000], "description": "yearly income"},
        {"name": "secret_note", "role": "excluded"},
    ],
}


def upload_csv(client: TestClient, headers: dict[str, str], name: str, frame: pl.DataFrame) -> dict[str, Any]:
    buffer = io.BytesIO()
    frame.write_csv(buffer)
    response = client.post("/api/v1/datasets", headers=headers, data={"name": name},
                           files={"file": (f"{name}.csv", buffer.getvalue(), "text/csv")})
    assert response.status_code == 201, response.text
    return dict(response.json())


def listing_body(dataset_id: int, grade: str = "general", price_minor: int = 50_000) -> dict[str, Any]:
    return {
        "dataset_id": dataset_id, "title": "人口收入统计 People and income", "description": "Synthetic people",
        "keywords": ["人口", "income"], "sector": "民政 Civil affairs", "proposed_grade": grade,
        "update_cycle": "yearly",
        "offers": [{"name": "Commercial", "scenario": "industry", "price_minor": price_minor, "currency": "CNY",
                    "term_days": 30, "epsilon_budget": 3.0, "query_quota": 100}],
        "dp_policy": {"max_epsilon_per_query": 1.0, "default_epsilon": 0.5, "min_group_size": 0},
    }


class World:
    """A platform with one published listing and the staff to act on it."""

    def __init__(self, client: TestClient, frame: pl.DataFrame | None = None, grade: str = "general",
                 dictionary: dict[str, Any] | None = None, dp_policy: dict[str, Any] | None = None) -> None:
        self.client = client
        self.frame = frame if frame is not None else people()
        self.provider = staff(client, "provider@gov.test", Role.provider, "统计局 Statistics Bureau")
        self.office = staff(client, "office@gov.test", Role.data_office)
        self.office2 = staff(client, "office2@gov.test", Role.data_office)
        self.finance = staff(client, "finance@gov.test", Role.finance)
        self.dataset = upload_csv(client, self.provider, "people", self.frame)
        ok(client.put(f"/api/v1/datasets/{self.dataset['id']}/dictionary", json=dictionary or PEOPLE_DICTIONARY,
                      headers=self.provider))
        body = listing_body(self.dataset["id"], grade)
        body["dp_policy"] |= dp_policy or {}
        self.listing = ok(client.post("/api/v1/listings", json=body, headers=self.provider), 201)
        ok(client.post(f"/api/v1/listings/{self.listing['id']}/submit", headers=self.provider))
        if grade == "important":
            security_review(client, self.office, self.listing["id"])
        review = {"decision": "approve", "grade": grade, "reason_code": "meets-standard"}
        for office in (self.office, self.office2)[: 2 if grade == "important" else 1]:
            self.listing = ok(client.post(f"/api/v1/listings/{self.listing['id']}/review", json=review,
                                          headers=office))
        self.offer_id = self.listing["offers"][0]["id"]

    def enterprise(self, name: str = "数据公司 Data Co", code: str = CREDIT_CODE,
                   email: str = "analyst@data.test") -> dict[str, str]:
        ok(self.client.post("/api/v1/organizations/register", json={
            "name": name, "credit_code": code, "admin_email": email, "admin_password": PASSWORD}), 201)
        return sign_in(self.client, email)

    def active_licence(self, headers: dict[str, str]) -> dict[str, Any]:
        licence = ok(self.client.post("/api/v1/licenses", json={
            "listing_id": self.listing["id"], "offer_id": self.offer_id, "purpose": "market research"},
            headers=headers), 201)
        if licence["status"] == "pending_approval":
            ok(self.client.post(f"/api/v1/licenses/{licence['id']}/review", json={"decision": "approve"},
                                headers=self.office))
        pay = ok(self.client.post(f"/api/v1/licenses/{licence['id']}/checkout", json={"method": "bank_transfer"},
                                  headers=headers))
        ok(self.client.post(f"/api/v1/payments/{pay['payment_id']}/confirm", json={
            "bank_reference": pay["bank_reference"], "amount_minor": pay["amount_minor"]}, headers=self.finance))
        return ok(self.client.get(f"/api/v1/licenses/{licence['id']}", headers=headers))


def security_review(client: TestClient, office: dict[str, str], listing_id: int, decision: str = "pass") -> Any:
    """The data security review that important data needs before the approval that publishes it."""
    return ok(client.post(f"/api/v1/listings/{listing_id}/security-reviews", headers=office, json={
        "risk_level": "medium", "findings": "个人信息已去标识化，仅以差分隐私聚合结果提供", "decision": decision}), 201)


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    return response.json()
