"""The budget: charged before release, never overspent under concurrency, refunded on failure, no re-asking."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from core.db import unit_of_work
from core.models import AuditEvent
from tests.flow import World, ok


@pytest.fixture
def licensed(client: TestClient) -> tuple[TestClient, dict[str, str], dict[str, Any]]:
    world = World(client)
    enterprise = world.enterprise()
    return client, enterprise, world.active_licence(enterprise)


def _ask(client: TestClient, headers: dict[str, str], licence_id: int, sql: str, epsilon: float = 0.1) -> Any:
    return client.post("/api/v1/queries", json={"license_id": licence_id, "sql": sql, "epsilon": epsilon},
                       headers=headers)


def test_fifty_concurrent_queries_never_overspend(licensed: tuple[TestClient, dict[str, str], dict[str, Any]]) -> None:
    client, headers, licence = licensed  # budget 3.0: room for 30 queries at ε = 0.1
    with ThreadPoolExecutor(max_workers=16) as pool:
        responses = list(pool.map(lambda n: _ask(client, headers, licence["id"],
                                                 f"SELECT COUNT(*) AS c FROM people WHERE age >= {n}"),
                                   range(50)))  # fifty different measurements (another alias would be the same)
    codes = sorted(r.status_code for r in responses)
    assert set(codes) <= {201, 409}
    assert codes.count(201) == 30
    assert all(r.json()["type"] == "budget-exhausted" for r in responses if r.status_code == 409)
    after = ok(client.get(f"/api/v1/licenses/{licence['id']}", headers=headers))
    assert after["epsilon_spent"] == pytest.approx(3.0) and after["queries_used"] == 30


def test_the_same_query_asked_again_costs_nothing(licensed: tuple[TestClient, dict[str, str], dict[str, Any]]) -> None:
    client, headers, licence = licensed
    first = ok(_ask(client, headers, licence["id"], "SELECT COUNT(*) AS n FROM people"), 201)
    again = ok(_ask(client, headers, licence["id"], "select   count(*) as N from PEOPLE"), 201)
    assert again["cached"] is True and again["epsilon_charged"] == 0
    assert again["rows"] == first["rows"] and again["receipt"] == first["receipt"]
    assert ok(client.get(f"/api/v1/licenses/{licence['id']}", headers=headers))["epsilon_spent"] == pytest.approx(0.1)


def test_preview_prices_without_charging(licensed: tuple[TestClient, dict[str, str], dict[str, Any]]) -> None:
    client, headers, licence = licensed
    preview = ok(client.post("/api/v1/queries/preview", headers=headers, json={
        "license_id": licence["id"], "sql": "SELECT SUM(income) AS s FROM people", "epsilon": 0.5}))
    assert preview["epsilon_cost"] == pytest.approx(0.5) and preview["epsilon_remaining_after"] == pytest.approx(2.5)
    assert preview["accuracy"]["s"]["plus_minus"] > 0
    assert ok(client.get(f"/api/v1/licenses/{licence['id']}", headers=headers))["epsilon_spent"] == 0


def test_epsilon_above_the_listing_cap_is_refused(licensed: tuple[TestClient, dict[str, str], dict[str, Any]]) -> None:
    client, headers, licence = licensed
    response = _ask(client, headers, licence["id"], "SELECT COUNT(*) FROM people", epsilon=5.0)
    assert response.status_code == 422 and response.json()["type"] == "epsilon-not-allowed"


class _CrashingPool:
    """The real pool, but the first query's worker is made to die mid-request."""

    def __init__(self, pool: Any, op: str) -> None:
        self.pool, self.op, self.used = pool, op, False

    def call(self, op: str, payload: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        if op == "run" and not self.used:
            self.used = True
            if self.op == "sleep":
                return dict(self.pool.call("sleep", {"seconds": 30}, timeout=0.5))
            return dict(self.pool.call(self.op, payload))
        return dict(self.pool.call(op, payload, timeout))


@pytest.mark.parametrize("failure", ["crash", "sleep"])  # a dying worker, and one past its time limit
def test_a_failed_worker_refunds_audits_and_the_pool_recovers(
    licensed: tuple[TestClient, dict[str, str], dict[str, Any]], monkeypatch: pytest.MonkeyPatch, failure: str,
) -> None:
    import sandbox.jobs
    from core.config import get_settings
    from sandbox.worker import get_pool

    client, headers, licence = licensed
    crashing = _CrashingPool(get_pool(get_settings()), failure)
    monkeypatch.setattr(sandbox.jobs, "get_pool", lambda _settings: crashing)
    failed = _ask(client, headers, licence["id"], "SELECT COUNT(*) AS n FROM people")
    assert failed.status_code == 503 and failed.json()["type"] == "query-failed"
    assert "nothing was charged" in failed.json()["detail"]
    assert ok(client.get(f"/api/v1/licenses/{licence['id']}", headers=headers))["epsilon_spent"] == 0
    with unit_of_work() as session:
        refunds = session.exec(select(AuditEvent).where(AuditEvent.action == "query.refunded")).all()
    assert len(refunds) == 1
    again = ok(_ask(client, headers, licence["id"], "SELECT COUNT(*) AS n FROM people"), 201)
    assert again["cached"] is False and again["epsilon_charged"] == pytest.approx(0.1)


def test_workers_run_under_the_configured_memory_limit_on_the_streaming_engine(sandbox_keys: None) -> None:
    from core.config import get_settings
    from sandbox.worker import get_pool

    settings = get_settings()
    ping = get_pool(settings).call("ping", {})
    assert ping["memory_limit"] == settings.query_memory_mb * 1024 * 1024
    assert settings.sandbox_streaming and ping["streaming"] is True  # data bigger than memory: on by default


def test_a_node_can_run_its_plans_on_the_in_memory_engine_instead(sandbox_keys: None) -> None:
    from core.config import get_settings
    from sandbox.worker import SandboxPool

    pool = SandboxPool(get_settings().model_copy(update={"sandbox_streaming": False, "sandbox_workers": 1}))
    try:
        assert pool.call("ping", {})["streaming"] is False
    finally:
        pool.close()


def test_re_uploading_identical_data_does_not_reopen_re_asking(client: TestClient) -> None:
    from tests.flow import upload_csv

    world = World(client)
    headers = world.enterprise()
    licence = world.active_licence(headers)
    first = ok(_ask(client, headers, licence["id"], "SELECT COUNT(*) AS n FROM people"), 201)
    second_version = upload_csv(client, world.provider, "people", world.frame)
    assert second_version["version"] == 2 and second_version["sha256"] == world.dataset["sha256"]
    again = ok(_ask(client, headers, licence["id"], "SELECT COUNT(*) AS n FROM people"), 201)
    assert again["cached"] is True and again["rows"] == first["rows"]
