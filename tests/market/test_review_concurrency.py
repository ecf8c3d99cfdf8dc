"""Concurrent reviews: one data-office user's simultaneous approvals of one listing record one decision."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient
from sqlmodel import select

from core.auth import Role
from core.db import unit_of_work
from market.models import ListingReview
from tests.figures import record
from tests.flow import ok, staff
from tests.market.steps import API, draft, review


def test_twenty_concurrent_approvals_by_one_user_record_one_decision(client: TestClient) -> None:
    provider = staff(client, "p@gov.test", Role.provider, "统计局")
    office = staff(client, "o@gov.test", Role.data_office)
    listing = draft(client, provider, grade="important")  # two approvals needed: the first leaves it open
    ok(client.post(f"{API}/listings/{listing['id']}/submit", headers=provider))

    def approve(_: int) -> int:
        return int(review(client, office, listing["id"], grade="important", reason_code="meets-standard")
                   .status_code)

    with ThreadPoolExecutor(20) as pool:
        statuses = sorted(pool.map(approve, range(20)))
    assert statuses == [200] + [409] * 19
    with unit_of_work() as session:
        rows = session.exec(select(ListingReview).where(ListingReview.listing_id == listing["id"])).all()
    assert len(rows) == 1
    record("20 concurrent approvals by one data-office user", requests=20, accepted=statuses.count(200),
           refused_409=statuses.count(409), review_rows=len(rows), held="one decision recorded")
    assert ok(client.get(f"{API}/listings/{listing['id']}", headers=provider))["status"] == "submitted"
