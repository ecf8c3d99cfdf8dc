"""API nodes and sandbox nodes as separate processes: keys where data is computed, jobs that survive kill -9."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select

from core.db import unit_of_work
from licensing.models import License
from sandbox.models import QueryRun
from tests.flow import World, ok
from tests.sandbox.nodes import Cluster, cluster, kill

SQL = "SELECT region, COUNT(*) AS n FROM people GROUP BY region"


def _poll(client: httpx.Client, headers: dict[str, str], location: str, until: tuple[str, ...],
          seconds: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        shown: dict[str, Any] = ok(client.get(location, headers=headers))
        if shown["status"] in until or time.monotonic() > deadline:
            return shown
        time.sleep(0.1)


def _status(run_id: int) -> str:
    with unit_of_work() as session:
        run = session.get(QueryRun, run_id)
        assert run is not None
        return run.status


def _books_agree(nodes: Cluster, license_id: int) -> None:
    """Every job has ended; the licence counts exactly the queries that were released, at their cost."""
    with unit_of_work() as session:
        runs = session.exec(select(QueryRun).where(QueryRun.license_id == license_id)).all()
        licence = session.get(License, license_id)
    assert licence is not None
    assert all(run.status in ("succeeded", "refunded", "failed") for run in runs), [r.status for r in runs]
    charged = [run for run in runs if run.status != "refunded"]
    assert licence.queries_used == len(charged)
    assert licence.epsilon_spent == pytest.approx(sum(run.epsilon_charged for run in charged))
    for command in (("ledger", "verify"), ("audit", "verify")):
        checked = nodes.cli(*command)
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_an_api_node_without_the_private_key_uploads_and_answers_through_a_sandbox_node(
        db: str, tmp_path: Path) -> None:
    with cluster(db, tmp_path) as nodes:
        _, url = nodes.start_api()
        nodes.start_worker()
        with httpx.Client(base_url=url, timeout=120) as client:
            world = World(client)  # type: ignore[arg-type]  # the flow speaks HTTP; any client will do
            headers = world.enterprise()
            licence = world.active_licence(headers)
            answer = ok(client.post("/api/v1/queries", json={"license_id": licence["id"], "sql": SQL},
                                    headers=headers), 201)
            assert answer["status"] == "succeeded" and {row[0] for row in answer["rows"]} <= {
                "north", "south", "east", "west"}
            queued = client.post("/api/v1/queries", headers=headers, json={
                "license_id": licence["id"], "sql": "SELECT AVG(age) AS a FROM people", "async": True})
            assert queued.status_code == 202 and queued.headers["Location"] == f"/api/v1/queries/{queued.json()['id']}"
            done = _poll(client, headers, queued.headers["Location"], ("succeeded", "refunded", "failed"))
            assert done["status"] == "succeeded" and done["receipt"]["signature"]
        # The API's machine never held the private key: not in its data dir, not in its environment.
        assert not any(b"PRIVATE KEY" in p.read_bytes() and "receipt" not in p.name
                       for p in nodes.shared.rglob("*") if p.is_file())
        assert "SHUYU_SANDBOX_KEY_FILE" not in nodes.api_env() and "SHUYU_MASTER_KEY" not in nodes.api_env()
        _books_agree(nodes, licence["id"])


def _stop_mid_query(nodes: Cluster, client: httpx.Client, headers: dict[str, str], license_id: int) -> int:
    """Freeze the sandbox node while it runs a query, then kill -9 it: a query that is truly mid-flight."""
    for attempt in range(8):
        queued = ok(client.post("/api/v1/queries", headers=headers, json={
            "license_id": license_id, "sql": f"SELECT SUM(income) AS s FROM people WHERE age > {20 + attempt}",
            "async": True}), 202)
        deadline = time.monotonic() + 60
        while _status(queued["id"]) == "queued" and time.monotonic() < deadline:
            time.sleep(0.005)
        worker = nodes.processes[-1]
        worker.send_signal(signal.SIGSTOP)
        if _status(queued["id"]) == "running":
            kill(worker)
            return int(queued["id"])
        worker.send_signal(signal.SIGCONT)  # it had already finished: try again with another query
    raise AssertionError("never caught the sandbox node mid-query")


def test_killing_a_sandbox_node_or_an_api_node_mid_query_ends_every_job_once(db: str, tmp_path: Path) -> None:
    with cluster(db, tmp_path, lease_seconds=6.0, timeout_seconds=40.0) as nodes:
        api, url = nodes.start_api()
        nodes.start_worker()
        with httpx.Client(base_url=url, timeout=120) as client:
            world = World(client)  # type: ignore[arg-type]
            headers = world.enterprise()
            licence = world.active_licence(headers)
            stranded = _stop_mid_query(nodes, client, headers, licence["id"])
            nodes.start_worker()  # another sandbox node finds the dead node's job and runs it again
            rerun = _poll(client, headers, f"/api/v1/queries/{stranded}", ("succeeded", "refunded", "failed"))
            with unit_of_work() as session:
                run = session.get(QueryRun, stranded)
            assert run is not None and rerun["status"] == "succeeded", (run.error, nodes.log_text())
            assert run.attempts == 2

            # An API node killed while a caller waits: the job still ends, and its answer is kept for the caller.
            waiting: dict[str, Any] = {}

            def ask() -> None:
                try:
                    waiting["response"] = client.post("/api/v1/queries", headers=headers, json={
                        "license_id": licence["id"], "sql": SQL})
                except httpx.HTTPError as exc:
                    waiting["error"] = exc

            caller = threading.Thread(target=ask)
            caller.start()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with unit_of_work() as session:
                    live = session.exec(select(QueryRun).where(QueryRun.sql == SQL)).first()
                if live is not None:
                    break
                time.sleep(0.005)
            kill(api)
            caller.join(30)
            assert "error" in waiting or waiting["response"].status_code >= 500
        _, url = nodes.start_api()
        with httpx.Client(base_url=url, timeout=120) as client:
            assert live is not None
            kept = _poll(client, headers, f"/api/v1/queries/{live.id}", ("succeeded", "refunded", "failed"))
            assert kept["status"] == "succeeded"
            again = ok(client.post("/api/v1/queries", json={"license_id": licence["id"], "sql": SQL},
                                   headers=headers), 201)
            assert again["cached"] is True and again["id"] == live.id
            if db.startswith("postgresql"):
                assert _orphans_finished(), "a dead node's procrastinate job stayed `doing`"
        _books_agree(nodes, licence["id"])


def _orphans_finished(seconds: float = 60) -> bool:
    """The node that was killed left its procrastinate job `doing`; a live node's sweeper finishes it."""
    from sqlalchemy import text

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with unit_of_work() as session:
            if not session.execute(text("SELECT 1 FROM procrastinate_jobs WHERE status = 'doing'")).first():
                return True
        time.sleep(0.5)
    return False


def test_rotating_the_sandbox_key_reseals_every_dataset_without_touching_the_data(
        client: Any, data_dir: Path, db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    import sandbox.jobs
    from core.config import Settings
    from sandbox.worker import SandboxPool
    from tests.sandbox.nodes import CLI, ROOT

    world = World(client)
    headers = world.enterprise()
    licence = world.active_licence(headers)
    blobs = {p: p.read_bytes() for p in (data_dir / "store").rglob("*.bin")}
    env = {**os.environ, "SHUYU_DATABASE_URL": db}
    for args in (("keys", "generate", "--out", str(tmp_path / "new")),
                 ("keys", "rotate", "--new-public", str(tmp_path / "new" / "sandbox.pub"))):
        done = subprocess.run([*CLI, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    assert {p: p.read_bytes() for p in blobs} == blobs  # the ciphertexts are the same bytes
    new_pool = SandboxPool(Settings(data_dir=data_dir, sandbox_key_file=tmp_path / "new" / "sandbox.key"))
    try:
        monkeypatch.setattr(sandbox.jobs, "get_pool", lambda _settings: new_pool)
        ok(client.post("/api/v1/queries", json={"license_id": licence["id"], "sql": SQL}, headers=headers), 201)
    finally:
        new_pool.close()
    monkeypatch.undo()  # the old key opens nothing any more: the query fails and is refunded
    refused = client.post("/api/v1/queries", headers=headers, json={
        "license_id": licence["id"], "sql": "SELECT COUNT(*) AS other FROM people"})
    assert refused.status_code == 503 and refused.json()["type"] == "query-failed"
