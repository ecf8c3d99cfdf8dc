"""Query jobs over HTTP: background queries, cancelling, a bounded queue, and the sweeper's rules."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.db import unit_of_work
from core.models import utcnow
from sandbox import jobs
from sandbox.models import QueryRun
from tests.flow import World, ok

SQL = "SELECT COUNT(*) AS n FROM people"


@pytest.fixture
def licensed(client: TestClient) -> tuple[TestClient, dict[str, str], dict[str, Any]]:
    world = World(client)
    enterprise = world.enterprise()
    return client, enterprise, world.active_licence(enterprise)


@pytest.fixture
def no_sandbox_node(licensed: tuple[TestClient, dict[str, str], dict[str, Any]]) -> Iterator[None]:
    """Queue mode with no `shuyu worker` running: jobs stay queued until something ends them."""
    from core.config import get_settings

    os.environ.update({"SHUYU_SANDBOX_MODE": "queue", "SHUYU_SANDBOX_QUEUE_SIZE": "2"})
    get_settings.cache_clear()
    jobs.reset_dispatcher()
    if not get_settings().is_sqlite:
        from sandbox.node import ensure_queue_schema

        ensure_queue_schema(get_settings())  # the API defers into procrastinate's table
    yield
    for name in ("SHUYU_SANDBOX_MODE", "SHUYU_SANDBOX_QUEUE_SIZE"):
        os.environ.pop(name)
    get_settings.cache_clear()
    jobs.reset_dispatcher()


def _later(client: TestClient, headers: dict[str, str], licence_id: int, sql: str = SQL) -> Any:
    return client.post("/api/v1/queries", headers=headers, json={"license_id": licence_id, "sql": sql,
                                                                 "epsilon": 0.1, "async": True})


def _licence(client: TestClient, headers: dict[str, str], licence_id: int) -> dict[str, Any]:
    return dict(ok(client.get(f"/api/v1/licenses/{licence_id}", headers=headers)))


def test_an_async_query_answers_202_and_its_location_gives_the_result(
        licensed: tuple[TestClient, dict[str, str], dict[str, Any]]) -> None:
    client, headers, licence = licensed
    accepted = _later(client, headers, licence["id"])
    assert accepted.status_code == 202 and accepted.json()["status"] in ("queued", "running", "succeeded")
    location = accepted.headers["Location"]
    deadline = time.monotonic() + 120
    shown = ok(client.get(location, headers=headers))
    while shown["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.1)
        shown = ok(client.get(location, headers=headers))
    assert shown["status"] == "succeeded" and shown["columns"] == ["n"] and shown["receipt"]["signature"]
    assert _licence(client, headers, licence["id"])["queries_used"] == 1


def test_an_async_query_that_ends_before_its_answer_is_written_still_gets_202(
        licensed: tuple[TestClient, dict[str, str], dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    from sandbox import jobs
    from sandbox.service import queries

    def after_the_job_ended(who: Any, run_id: int, status: str | None) -> None:
        assert status is None and jobs.wait(run_id, 120) == "succeeded"  # the sandbox is faster than the API

    monkeypatch.setattr(queries, "outcome", after_the_job_ended)
    client, headers, licence = licensed
    accepted = _later(client, headers, licence["id"])
    assert accepted.status_code == 202 and accepted.json()["status"] == "succeeded"
    assert ok(client.get(accepted.headers["Location"], headers=headers))["rows"]


def test_several_jobs_are_waited_for_within_one_time_limit_in_all(monkeypatch: pytest.MonkeyPatch) -> None:
    from sandbox import jobs

    clock, given = [0.0], []

    def never_ends(run_id: int, timeout: float) -> None:  # a job still queued: the wait uses all it is given
        given.append(timeout)
        clock[0] += timeout

    monkeypatch.setattr(jobs.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(jobs, "wait", never_ends)
    jobs.wait_all([1, 2, 3], 10.0)
    assert given == [10.0, 0.0, 0.0] and clock[0] == 10.0


def test_a_query_cancelled_before_it_runs_is_refunded(
        licensed: tuple[TestClient, dict[str, str], dict[str, Any]], no_sandbox_node: None) -> None:
    client, headers, licence = licensed
    queued = ok(_later(client, headers, licence["id"]), 202)
    assert queued["status"] == "queued" and _licence(client, headers, licence["id"])["queries_used"] == 1
    cancelled = ok(client.post(f"/api/v1/queries/{queued['id']}/cancel", headers=headers))
    assert cancelled["status"] == "refunded"
    after = _licence(client, headers, licence["id"])
    assert after["queries_used"] == 0 and after["epsilon_spent"] == 0
    again = ok(client.post(f"/api/v1/queries/{queued['id']}/cancel", headers=headers))
    assert again["status"] == "refunded" and _licence(client, headers, licence["id"])["queries_used"] == 0


def test_a_query_the_sandbox_has_started_cannot_be_cancelled(
        licensed: tuple[TestClient, dict[str, str], dict[str, Any]], no_sandbox_node: None) -> None:
    client, headers, licence = licensed
    queued = ok(_later(client, headers, licence["id"]), 202)
    assert jobs.claim(queued["id"], "worker:test") is not None
    refused = client.post(f"/api/v1/queries/{queued['id']}/cancel", headers=headers)
    assert refused.status_code == 409 and refused.json()["type"] == "query-running" and refused.json()["detail_zh"]
    assert ok(client.get(f"/api/v1/queries/{queued['id']}", headers=headers))["status"] == "running"


def test_beyond_the_queue_the_api_answers_503_with_retry_after_and_charges_nothing(
        licensed: tuple[TestClient, dict[str, str], dict[str, Any]], no_sandbox_node: None) -> None:
    client, headers, licence = licensed
    for n in range(2):  # different measurements (an alias alone would be answered from the first)
        ok(_later(client, headers, licence["id"], f"SELECT COUNT(*) AS c{n} FROM people WHERE age > {20 + n}"), 202)
    refused = _later(client, headers, licence["id"], "SELECT COUNT(*) AS c9 FROM people WHERE age > 29")
    assert refused.status_code == 503 and int(refused.headers["Retry-After"]) > 0
    assert refused.json()["type"] == "sandbox-busy" and refused.json()["detail_zh"]
    assert _licence(client, headers, licence["id"])["queries_used"] == 2


def _stale(run_id: int, attempts: int) -> None:
    """What a node that died mid-query leaves behind: a running job whose lease has run out."""
    with unit_of_work() as session:
        run = session.get(QueryRun, run_id)
        assert run is not None
        run.status, run.attempts, run.worker = "running", attempts, "worker:gone"
        run.lease_until = utcnow() - timedelta(seconds=1)
        session.add(run)


def test_a_dead_nodes_job_goes_back_to_the_queue_then_ends_failed_after_its_attempts(
        licensed: tuple[TestClient, dict[str, str], dict[str, Any]], no_sandbox_node: None) -> None:
    client, headers, licence = licensed
    queued = ok(_later(client, headers, licence["id"]), 202)
    _stale(queued["id"], attempts=1)
    assert jobs.sweep() == 1
    shown = ok(client.get(f"/api/v1/queries/{queued['id']}", headers=headers))
    assert shown["status"] == "queued" and _licence(client, headers, licence["id"])["queries_used"] == 1
    _stale(queued["id"], attempts=jobs.MAX_ATTEMPTS)
    # Asking the same SQL again sweeps first: never a 409 query-in-progress for a job nobody runs.
    fresh = ok(_later(client, headers, licence["id"]), 202)
    assert fresh["id"] != queued["id"]
    # It was running when its node died: it may have touched the data, so its ε stays spent.
    ended = ok(client.get(f"/api/v1/queries/{queued['id']}", headers=headers))
    assert ended["status"] == "failed" and ended["epsilon_charged"] == pytest.approx(0.1)
    history = ok(client.get("/api/v1/queries", headers=headers))["items"]
    assert [item["status"] for item in history] == ["failed"]  # the live one is not history yet
    assert "charged" in history[0]["error"]
    assert _licence(client, headers, licence["id"])["queries_used"] == 2


def test_a_job_no_node_ever_took_is_refunded(
        licensed: tuple[TestClient, dict[str, str], dict[str, Any]], no_sandbox_node: None) -> None:
    client, headers, licence = licensed
    queued = ok(_later(client, headers, licence["id"]), 202)
    with unit_of_work() as session:  # the wait window passed with no sandbox node taking the job
        run = session.get(QueryRun, queued["id"])
        assert run is not None and run.status == "queued" and run.worker is None
        run.lease_until = utcnow() - timedelta(seconds=1)
        session.add(run)
    assert jobs.sweep() == 1
    ended = ok(client.get(f"/api/v1/queries/{queued['id']}", headers=headers))
    assert ended["status"] == "refunded" and ended["epsilon_charged"] == 0
    assert _licence(client, headers, licence["id"])["queries_used"] == 0


def test_a_late_result_from_a_node_presumed_dead_is_never_stored_twice(
        licensed: tuple[TestClient, dict[str, str], dict[str, Any]], no_sandbox_node: None) -> None:
    from sandbox.service import store_release

    client, headers, licence = licensed
    queued = ok(_later(client, headers, licence["id"]), 202)
    first = jobs.claim(queued["id"], "worker:slow")
    assert first is not None
    _stale(queued["id"], attempts=first.attempt)
    jobs.sweep()
    second = jobs.claim(queued["id"], "worker:other")
    assert second is not None and second.attempt == first.attempt + 1
    from core.config import get_settings
    from sandbox.worker import get_pool

    released = get_pool(get_settings()).call("run", first.job["payload"])  # what the slow node computed
    assert store_release(first.run_id, first.attempt, released) is False
    assert store_release(second.run_id, second.attempt, released) is True
    assert store_release(second.run_id, second.attempt, released) is False
    assert ok(client.get(f"/api/v1/queries/{queued['id']}", headers=headers))["status"] == "succeeded"


def test_the_console_shows_a_waiting_query_and_cancels_it(
        licensed: tuple[TestClient, dict[str, str], dict[str, Any]], no_sandbox_node: None) -> None:
    from tests.web.test_pages import browser_sign_in, csrf_of

    client, headers, licence = licensed
    queued = ok(_later(client, headers, licence["id"]), 202)
    browser_sign_in(client, "analyst@data.test")
    page = client.get(f"/enterprise/queries/{queued['id']}", headers={"Accept-Language": "en"})
    assert page.status_code == 200 and "Waiting for a sandbox" in page.text
    assert f'hx-get="/enterprise/queries/{queued["id"]}/progress"' in page.text and 'id="cancel-query"' in page.text
    assert client.get(f"/enterprise/queries/{queued['id']}/progress").status_code == 200
    done = client.post(f"/enterprise/queries/{queued['id']}/cancel", data={"csrf": csrf_of(page.text)},
                       follow_redirects=False)
    assert done.status_code == 303
    after = client.get(f"/enterprise/queries/{queued['id']}", headers={"Accept-Language": "zh-CN"})
    assert "未产生结果即结束，其 ε 已退还" in after.text and 'id="cancel-query"' not in after.text
    assert client.get(f"/enterprise/queries/{queued['id']}/progress").status_code == 286  # htmx stops polling
    assert _licence(client, headers, licence["id"])["queries_used"] == 0
