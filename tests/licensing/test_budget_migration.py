"""Existing budgets migrate to exact integers and existing policies to finite caps (revision 0007_policy)."""

from __future__ import annotations

from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import select

from core.db import dispose_engines, null_pool_engine, unit_of_work
from licensing.models import EpsilonCap, License
from licensing.service import license_service
from migrations import alembic_config, upgrade
from tests.flow import World, ok


def test_float_budgets_become_exact_units_and_unbounded_policies_finite_caps(client: TestClient, db: str) -> None:
    world = World(client)
    licence = world.active_licence(world.enterprise())
    with unit_of_work() as session:
        license_service.reserve(session, licence["id"], 0.3)
    dispose_engines()
    command.downgrade(alembic_config(db), "0006")
    engine = null_pool_engine(db)
    with engine.begin() as conn:  # what float sums and the old defaults left behind
        conn.execute(text("UPDATE licenses SET epsilon_budget = 2.0, epsilon_spent = 2.0000000000000004, "
                          "delta_spent = 3e-7"))
        conn.execute(text("UPDATE epsilon_caps SET spent = 0.30000000000000004"))
        policy = '{"max_epsilon_per_query": 1.0, "enterprise_epsilon_cap": 20.0, "global_epsilon_cap": null}'
        conn.execute(text("UPDATE listings SET dp_policy = :p"), {"p": policy})
    engine.dispose()
    upgrade(db)
    with unit_of_work() as session:
        stored = session.get(License, licence["id"])
        assert stored is not None
        assert (stored.epsilon_budget_micro, stored.epsilon_spent_micro, stored.delta_spent_atto) == (
            2_000_000, 2_000_000, 3 * 10**11)
        assert {c.spent_micro for c in session.exec(select(EpsilonCap)).all()} == {300_000}
    entry = ok(client.get(f"/api/v1/catalog/{world.listing['id']}"))
    assert (entry["dp_policy"]["global_epsilon_cap"], entry["dp_policy"]["enterprise_epsilon_cap"]) == (40.0, 10.0)
    assert entry["dataset_epsilon_remaining"] == 39.7  # the spending carried over to the same data's budget
