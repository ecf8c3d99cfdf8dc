"""Steps the market tests share: upload, describe, draft, submit and publish over HTTP."""

from __future__ import annotations

import copy
from typing import Any

import polars as pl
from fastapi.testclient import TestClient

from tests.flow import PEOPLE_DICTIONARY, listing_body, ok, people, security_review, upload_csv

API = "/api/v1"


def review(client: TestClient, who: dict[str, str], listing_id: int, decision: str = "approve",
           **fields: Any) -> Any:
    return client.post(f"{API}/listings/{listing_id}/review", headers=who, json={"decision": decision, **fields})


def transition(client: TestClient, who: dict[str, str], listing_id: int, action: str, reason_code: str,
               comment: str = "") -> Any:
    return client.post(f"{API}/listings/{listing_id}/transition", headers=who,
                       json={"action": action, "reason_code": reason_code, "comment": comment})


def draft(client: TestClient, provider: dict[str, str], name: str = "people", frame: pl.DataFrame | None = None,
          dictionary: dict[str, Any] | None = None, grade: str = "general", **fields: Any) -> dict[str, Any]:
    """Upload a dataset, write its dictionary and draft a listing over it; returns the listing."""
    dataset = upload_csv(client, provider, name, frame if frame is not None else people(300))
    ok(client.put(f"{API}/datasets/{dataset['id']}/dictionary", headers=provider,
                  json=dictionary or PEOPLE_DICTIONARY))
    body = {**listing_body(dataset["id"], grade), **fields}
    return dict(ok(client.post(f"{API}/listings", json=body, headers=provider), 201))


def publish(client: TestClient, provider: dict[str, str], offices: list[dict[str, str]], name: str = "people",
            grade: str = "general", **fields: Any) -> dict[str, Any]:
    """Draft, submit and approve (by each office in turn) a listing; returns the published listing."""
    listing = draft(client, provider, name, grade=grade, **fields)
    ok(client.post(f"{API}/listings/{listing['id']}/submit", headers=provider))
    if grade == "important":
        security_review(client, offices[0], listing["id"])
    for office in offices:
        listing = ok(review(client, office, listing["id"], grade=grade, reason_code="meets-standard"))
    assert listing["status"] == "published", listing
    return listing


def dictionary_with(**changes: dict[str, Any]) -> dict[str, Any]:
    """PEOPLE_DICTIONARY with some columns' entries updated."""
    dictionary = copy.deepcopy(PEOPLE_DICTIONARY)
    for column in dictionary["columns"]:
        column.update(changes.get(column["name"], {}))
    return dictionary
