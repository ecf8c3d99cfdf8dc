"""The demo gives a newcomer something to browse: four departments' listings (one important listing awaiting its
second approval, one free public-welfare offer), bus trips with the card holder as the privacy unit; seeding
twice changes nothing."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import select

from core.db import unit_of_work
from market.models import Listing
from market.service import listings
from web import demo


def test_the_demo_seeds_four_departments_with_a_person_as_the_unit_once(client: TestClient) -> None:
    first = list(demo.seed())
    assert any("awaiting the second" in line for line in first)
    again = list(demo.seed())
    assert "demo data is already seeded" in again and not any(line.startswith("published") for line in again)
    with unit_of_work() as session:
        rows = session.exec(select(Listing)).all()
        assert len(rows) == 4 and len({r.provider_org_id for r in rows}) == 4
        pending = [r for r in rows if r.status == "submitted"]
        assert [(r.proposed_grade, r.approvals) for r in pending] == [("important", 1)]
        published = [r for r in rows if r.status == "published"]
        assert len(published) == 3
        entries = [listings.catalog_entry(session, r.id or 0) for r in published]
    free_only = [e for e in entries if all(o.scenario == "public_welfare" and o.price_minor == 0 for o in e.offers)]
    assert free_only, "one listing offers its data free for public welfare"
    bus = next(e for e in entries if e.dataset_name == "bus_trips")
    assert bus.privacy_unit is not None and (bus.privacy_unit.column, bus.privacy_unit.max_contributions) == \
        ("card_id", 5)
    assert bus.privacy_unit.description_zh == "一名持卡人（card_id）最多 5 条出行记录"
    catalog = client.get("/api/v1/catalog").json()
    assert catalog["total"] == 3 and "clinic_visits" not in {i["dataset_name"] for i in catalog["items"]}
