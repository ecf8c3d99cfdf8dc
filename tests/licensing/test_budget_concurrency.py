"""A thousand concurrent budget charges against one licence never overspend it, and every charge that was
accepted is counted (no lost update): the budget's "never overspend" holds under contention, on SQLite and
on PostgreSQL, through the licensing service's public reserve()."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient

from core.db import unit_of_work
from core.errors import DomainError
from licensing.service.licenses import license_service
from tests.figures import record
from tests.flow import World, ok

CHARGES = int(os.environ.get("SHUYU_BURST_CHARGES", "1000"))
EPSILON = 0.1


def test_a_thousand_concurrent_charges_never_overspend_one_licence(client: TestClient) -> None:
    world = World(client)
    enterprise = world.enterprise()
    licence = world.active_licence(enterprise)
    budget = float(licence["epsilon_budget"])

    def charge(_: int) -> str:
        try:
            with unit_of_work() as session:
                license_service.reserve(session, licence["id"], EPSILON)
            return "charged"
        except DomainError as exc:
            return exc.type

    with ThreadPoolExecutor(32) as pool:
        outcomes = list(pool.map(charge, range(CHARGES)))
    charged = outcomes.count("charged")
    after = ok(client.get(f"/api/v1/licenses/{licence['id']}", headers=enterprise))
    spent = float(after["epsilon_spent"])
    assert spent <= budget + 1e-9
    assert abs(spent - charged * EPSILON) < 1e-6  # every accepted charge is in the books, none twice
    assert charged == round(budget / EPSILON)  # and the budget was used up, not refused early
    assert set(outcomes) - {"charged"} <= {"budget-exhausted", "quota-exhausted"}
    record("1,000 concurrent budget charges on one licence", charges=len(outcomes), accepted=charged,
           epsilon_each=EPSILON, budget=budget, spent=spent, refused=len(outcomes) - charged,
           held="spent <= budget; spent = accepted x epsilon; budget used up")
