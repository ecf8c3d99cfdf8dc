"""Backups round-trip: `shuyu backup` then `shuyu restore` into a fresh database brings back a platform
that answers a stored query's receipt, passes `audit verify` and `ledger verify`, and can run new queries
on the restored encrypted store. The backup file holds no plaintext. A signed audit checkpoint kept
outside the database detects a rewrite of the whole audit table."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlmodel import col, select
from typer.testing import CliRunner

from core.audit import GENESIS, event_hash
from core.auth import Role
from core.config import get_settings
from core.db import dispose_engines, null_pool_engine, unit_of_work
from core.models import AuditEvent, AuditHead
from tests.conftest import ON_POSTGRES
from tests.figures import record
from tests.flow import World, ok, staff
from web.cli import app as cli

runner = CliRunner()


@pytest.fixture
def fresh_database(db: str, tmp_path: Path) -> Iterator[str]:
    """An empty database (no schema yet) for the restore; SHUYU_DATABASE_URL is switched to it by `use`."""
    if ON_POSTGRES:
        url = make_url(db)
        name = f"{url.database}_restore"
        admin = null_pool_engine(url.set(database="postgres").render_as_string(hide_password=False))
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield url.set(database=name).render_as_string(hide_password=False)
        dispose_engines()
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        yield f"sqlite:///{tmp_path / 'restored.db'}"


def _use(url: str) -> None:
    dispose_engines()
    os.environ["SHUYU_DATABASE_URL"] = url
    get_settings.cache_clear()


def test_a_backup_restores_into_a_fresh_database_with_receipts_audit_and_ledger_intact(
        client: TestClient, db: str, fresh_database: str, tmp_path: Path) -> None:
    world = World(client)
    enterprise = world.enterprise()
    licence = world.active_licence(enterprise)
    query = ok(client.post("/api/v1/queries", headers=enterprise, json={
        "license_id": licence["id"], "sql": "SELECT COUNT(*) FROM people", "epsilon": 0.1}), 201)
    out = tmp_path / "shuyu.backup"
    made = runner.invoke(cli, ["backup", "--out", str(out)])
    assert made.exit_code == 0, made.output
    sealed = out.read_bytes()
    assert b"analyst@data.test" not in sealed and b"people" not in sealed  # sealed, not just archived

    store = get_settings().store_dir
    for path in store.rglob("*"):
        if path.is_file():
            path.unlink()  # the restore must bring the encrypted store back
    _use(fresh_database)
    restored = runner.invoke(cli, ["restore", str(out)])
    assert restored.exit_code == 0, restored.output

    again = ok(client.get(f"/api/v1/queries/{query['id']}", headers=enterprise))  # tokens came back too
    assert again["receipt"] == query["receipt"] and again["rows"] == query["rows"]
    assert runner.invoke(cli, ["audit", "verify"]).exit_code == 0
    assert runner.invoke(cli, ["ledger", "verify"]).exit_code == 0
    fresh = ok(client.post("/api/v1/queries", headers=enterprise, json={
        "license_id": licence["id"], "sql": "SELECT AVG(age) FROM people", "epsilon": 0.1}), 201)
    assert fresh["id"] > query["id"]  # ids continue after the restored ones
    twice = runner.invoke(cli, ["restore", str(out)])
    assert twice.exit_code == 1 and "not empty" in twice.output
    record("backup and restore", backup_bytes=len(sealed), restore=restored.output.strip().split(";")[0],
           held="stored receipt answered; audit and ledger verify; a new query runs on the restored store")
    _use(db)


def test_a_backup_needs_the_master_key_it_was_made_with(client: TestClient, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    staff(client, "o@gov.test", Role.data_office)
    out = tmp_path / "shuyu.backup"
    assert runner.invoke(cli, ["backup", "--out", str(out)]).exit_code == 0
    monkeypatch.setenv("SHUYU_MASTER_KEY", "A" * 43 + "=")
    get_settings.cache_clear()
    refused = runner.invoke(cli, ["restore", str(out)])
    assert refused.exit_code == 1 and "master key" in refused.output
    monkeypatch.undo()
    get_settings.cache_clear()


def _rewrite_whole_chain() -> None:
    """What an attacker with the database would do: change an event and re-hash every link after it."""
    with unit_of_work() as session:
        if ON_POSTGRES:
            session.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
        else:
            names = session.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                         "AND tbl_name = 'audit_events'")).scalars().all()
            for name in names:
                session.execute(text(f"DROP TRIGGER {name}"))
        prev = GENESIS
        for event in session.exec(select(AuditEvent).order_by(col(AuditEvent.seq))).all():
            if event.seq == 1:
                event.data = {**event.data, "email": "someone-else@gov.test"}
            event.prev_hash = prev
            event.hash = event_hash(event)
            prev = event.hash
            session.add(event)
        session.flush()
        head = session.get(AuditHead, 1)
        assert head is not None
        head.head_hash = prev
        session.add(head)


def test_a_signed_checkpoint_detects_a_rewrite_of_the_whole_audit_table(client: TestClient, tmp_path: Path) -> None:
    staff(client, "o@gov.test", Role.data_office)
    staff(client, "f@gov.test", Role.finance)
    checkpoint = tmp_path / "audit-checkpoint.json"
    assert runner.invoke(cli, ["audit", "checkpoint", "--out", str(checkpoint)]).exit_code == 0
    assert runner.invoke(cli, ["audit", "verify", "--checkpoint", str(checkpoint)]).exit_code == 0
    _rewrite_whole_chain()
    assert runner.invoke(cli, ["audit", "verify"]).exit_code == 0  # the rewrite is self-consistent...
    caught = runner.invoke(cli, ["audit", "verify", "--checkpoint", str(checkpoint)])
    assert caught.exit_code == 1 and "rewritten" in caught.output  # ...but not through the anchored head
    forged = json.loads(checkpoint.read_text())
    forged["length"] -= 1
    checkpoint.write_text(json.dumps(forged))
    refused = runner.invoke(cli, ["audit", "verify", "--checkpoint", str(checkpoint)])
    assert refused.exit_code == 1 and "signature" in refused.output
