"""Privacy budget caps: per enterprise and dataset across its licences, and global per dataset; all atomic."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from core.db import unit_of_work
from licensing.errors import BudgetExhausted
from licensing.models import EpsilonCap, License
from licensing.service import license_service
from tests.flow import World, ok
from tests.licensing.helpers import apply, pay_by_bank, publish

CODE_B = "91350100M0001020N7"


def _active(world: World, headers: dict[str, str], listing: dict[str, Any]) -> int:
    licence = apply(world.client, headers, listing)
    pay_by_bank(world, headers, licence["id"])
    return int(licence["id"])


def _try_reserve(license_id: int, epsilon: float) -> str:
    try:
        with unit_of_work() as session:
            license_service.reserve(session, license_id, epsilon)
    except BudgetExhausted as exc:
        return str(exc.extra.get("cap"))
    return "charged"


def _spent(license_id: int) -> float:
    with unit_of_work() as session:
        licence = session.get(License, license_id)
        assert licence is not None
        return licence.epsilon_spent


def _caps() -> dict[str, float]:
    with unit_of_work() as session:
        return {c.scope: c.spent for c in session.exec(select(EpsilonCap)).all()}


@pytest.fixture
def capped(client: TestClient) -> tuple[World, dict[str, str], dict[str, Any]]:
    """A listing whose enterprise cap (2.0) is below what two of its licences hold together (2 × 1.5)."""
    world = World(client)
    listing = publish(world, dp_policy={"enterprise_epsilon_cap": 2.0}, epsilon_budget=1.5)
    return world, world.enterprise(), listing


def test_fifty_concurrent_reservations_across_two_licences_never_exceed_the_enterprise_cap(
    capped: tuple[World, dict[str, str], dict[str, Any]],
) -> None:
    world, enterprise, listing = capped
    licences = [_active(world, enterprise, listing), _active(world, enterprise, listing)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(lambda n: _try_reserve(licences[n % 2], 0.1), range(50)))
    assert outcomes.count("charged") == 20 and set(outcomes) == {"charged", "enterprise"}
    assert sum(_spent(x) for x in licences) == pytest.approx(2.0)
    assert _caps()["enterprise"] == pytest.approx(2.0)


def test_the_sandbox_refuses_a_query_over_the_enterprise_cap_and_charges_nothing(
    capped: tuple[World, dict[str, str], dict[str, Any]],
) -> None:
    world, enterprise, listing = capped
    first, second = _active(world, enterprise, listing), _active(world, enterprise, listing)
    for n, (licence, epsilon) in enumerate([(first, 1.0), (first, 0.5), (second, 0.5)]):
        ok(world.client.post("/api/v1/queries", headers=enterprise, json={
            "license_id": licence, "sql": f"SELECT SUM(age) AS s FROM people WHERE age >= -{n}",
            "epsilon": epsilon}), 201)
    refused = world.client.post("/api/v1/queries", headers=enterprise, json={
        "license_id": second, "sql": "SELECT COUNT(*) AS n FROM people", "epsilon": 0.5})
    assert refused.status_code == 409 and refused.json()["type"] == "budget-exhausted"
    assert "across all its licences" in refused.json()["detail"] and refused.json()["epsilon_remaining"] == 0
    assert _spent(second) == 0.5 and _caps()["enterprise"] == 2.0


def test_the_global_cap_is_shared_by_every_licensee(client: TestClient) -> None:
    world = World(client)
    listing = publish(world, dp_policy={"global_epsilon_cap": 1.0, "enterprise_epsilon_cap": 1.0},
                      epsilon_budget=1.0)
    one = world.enterprise()
    two = world.enterprise("第二公司 Second Co", CODE_B, "second@co.test")
    a, b = _active(world, one, listing), _active(world, two, listing)
    assert [_try_reserve(a, 0.4), _try_reserve(b, 0.4), _try_reserve(b, 0.4), _try_reserve(a, 0.2)] == [
        "charged", "charged", "global", "charged"]
    assert _spent(a) == pytest.approx(0.6) and _spent(b) == pytest.approx(0.4)
    assert _caps()["global"] == pytest.approx(1.0)


def test_a_refund_gives_back_the_licence_the_enterprise_and_the_global_budget(
    capped: tuple[World, dict[str, str], dict[str, Any]],
) -> None:
    world, enterprise, listing = capped
    licence = _active(world, enterprise, listing)
    assert _try_reserve(licence, 0.7) == "charged"
    with unit_of_work() as session:
        license_service.refund(session, licence, 0.7)
    assert _spent(licence) == 0 and _caps() == {"enterprise": 0.0, "global": 0.0}
    with unit_of_work() as session:
        assert session.get(License, licence).queries_used == 0  # type: ignore[union-attr]


def test_a_licence_refusal_leaves_every_cap_untouched(client: TestClient) -> None:
    world = World(client)
    enterprise = world.enterprise()
    licence = world.active_licence(enterprise)  # budget 3.0, default enterprise cap 10 (general: 40 / 4)
    assert _try_reserve(licence["id"], 2.5) == "charged"
    assert _try_reserve(licence["id"], 1.0) == "licence"
    assert _caps()["enterprise"] == pytest.approx(2.5) and _spent(licence["id"]) == pytest.approx(2.5)
