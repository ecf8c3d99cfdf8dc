"""Refunds end where the data begins: failures before the plan touched it are refunded, later ones charged."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from core.config import get_settings
from core.db import unit_of_work
from core.models import AuditEvent
from tests.flow import World, ok

SQL = "SELECT region, COUNT(*) AS n FROM people GROUP BY region"


@pytest.fixture
def licensed(client: TestClient) -> tuple[dict[str, str], int]:
    world = World(client)
    headers = world.enterprise()
    return headers, world.active_licence(headers)["id"]


def _ask(client: TestClient, headers: dict[str, str], licence: int) -> Any:
    return client.post("/api/v1/queries", headers=headers, json={"license_id": licence, "sql": SQL, "epsilon": 0.1})


def _spent(client: TestClient, headers: dict[str, str], licence: int) -> float:
    return float(ok(client.get(f"/api/v1/licenses/{licence}", headers=headers))["epsilon_spent"])


def _audited(action: str) -> int:
    with unit_of_work() as session:
        return len(session.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


@pytest.fixture
def failing_pool(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[None]:
    import sandbox.jobs
    from sandbox.worker import SandboxPool

    monkeypatch.setenv("SHUYU_TEST_ENGINE_FAILURE", request.param)
    pool = SandboxPool(get_settings(), engine_module="tests.sandbox.failing_engine")
    # Long enough to compile and decrypt on a busy machine: the "sleep" worker overruns it only after
    # it has started reading the data (a time-out before that would be refunded, as it should be).
    pool.timeout = 15.0
    monkeypatch.setattr(sandbox.jobs, "get_pool", lambda _settings: pool)
    yield
    pool.close()


@pytest.mark.parametrize("failing_pool", ["sleep", "memory", "exit", "error"], indirect=True)
def test_a_failure_after_the_plan_touched_the_data_keeps_its_charge(
        client: TestClient, licensed: tuple[dict[str, str], int], failing_pool: None) -> None:
    headers, licence = licensed
    failed = _ask(client, headers, licence)
    problem = failed.json()
    assert failed.status_code == 503 and problem["type"] == "query-failed-charged"
    assert "was charged" in problem["detail"] and "nothing was released" in problem["detail"]
    assert "已扣除" in problem["detail_zh"] and "未发布任何结果" in problem["detail_zh"]
    assert "rows" not in problem
    assert _spent(client, headers, licence) == pytest.approx(0.1)
    history = ok(client.get("/api/v1/queries", headers=headers))["items"]
    assert [(q["status"], q["epsilon_charged"]) for q in history] == [("failed", pytest.approx(0.1))]
    assert "charged" in history[0]["error"]
    assert (_audited("query.failed"), _audited("query.refunded")) == (1, 0)
    # Asking again is a new attempt, charged again: a failure is never a free bit, however often asked.
    assert _ask(client, headers, licence).status_code == 503
    assert _spent(client, headers, licence) == pytest.approx(0.2)


class _UnsealablePool:
    """The real pool, handed a sealed data key that cannot be opened: decryption fails before any scan."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    def call(self, op: str, payload: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        broken = {**payload, "sealed_key": base64.b64encode(bytes(92)).decode()}
        return dict(self.pool.call(op, broken, timeout))


def test_a_key_failure_before_the_data_was_read_is_refunded(
        client: TestClient, licensed: tuple[dict[str, str], int], monkeypatch: pytest.MonkeyPatch) -> None:
    import sandbox.jobs
    from sandbox.worker import get_pool

    headers, licence = licensed
    monkeypatch.setattr(sandbox.jobs, "get_pool", lambda _settings: _UnsealablePool(get_pool(get_settings())))
    failed = _ask(client, headers, licence)
    assert failed.status_code == 503 and failed.json()["type"] == "query-failed"
    assert "nothing was charged" in failed.json()["detail"] and "未扣除" in failed.json()["detail_zh"]
    assert _spent(client, headers, licence) == 0
    assert (_audited("query.failed"), _audited("query.refunded")) == (0, 1)
    history = ok(client.get("/api/v1/queries", headers=headers))["items"]
    assert [(q["status"], q["epsilon_charged"]) for q in history] == [("refunded", 0)]
