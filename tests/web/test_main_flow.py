"""The whole path over HTTP: list, approve, register, license, pay, query with DP, book, audit."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from core.config import get_settings
from core.db import get_engine
from tests.flow import World, ok
from web.cli import app as cli


def _stored_bytes(data_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (data_dir / "store").rglob("*") if p.is_file())


def test_the_whole_path_keeps_every_promise(client: TestClient, data_dir: Path) -> None:
    world = World(client)
    frame = world.frame

    # 1. The stored file is ciphertext: none of the uploaded values appear in it.
    stored = _stored_bytes(data_dir)
    for value in ("note-17-zz", "P0000017", "north", f"{frame['income'][17]}"):
        assert value.encode() not in stored
    assert len(stored) > 1000

    # 2. Published, and in the public catalog (no sign-in needed).
    assert world.listing["status"] == "published"
    catalog = ok(client.get("/api/v1/catalog"))
    assert [item["id"] for item in catalog["items"]] == [world.listing["id"]]
    entry = ok(client.get(f"/api/v1/catalog/{world.listing['id']}"))
    assert entry["grade"] == "general" and entry["offers"][0]["id"] == world.offer_id

    # 3. Registration checks the credit code's check character.
    bad = client.post("/api/v1/organizations/register", json={
        "name": "Bad Co", "credit_code": "91350100M000100Y44", "admin_email": "x@bad.test",
        "admin_password": "long enough pw"})
    assert bad.status_code == 422 and bad.json()["type"] == "invalid-credit-code"
    assert "check character" in bad.json()["detail"]
    enterprise = world.enterprise()

    # 4. Apply, pay by bank transfer, finance confirms: active with its ε budget and term.
    licence = world.active_licence(enterprise)
    assert licence["status"] == "active" and licence["epsilon_budget"] == 3.0 and licence["expires_at"]

    # 5. DP counts: near the truth within ± most of the time, never the exact truth every time.
    truth, charged, hits, exact = frame.height, 0.0, 0, 0
    for n in range(20):
        result = ok(client.post("/api/v1/queries", json={
            # Twenty different measurements of the same rows (ages are 18–89): another alias alone would be
            # answered from the stored release, with the same noise, at no cost.
            "license_id": licence["id"], "sql": f"SELECT COUNT(*) AS n FROM people WHERE age >= -{n}",
            "epsilon": 0.1}, headers=enterprise), 201)
        value, pm = result["rows"][0][0], result["accuracy"]["n"]["plus_minus"]
        hits += abs(value - truth) <= pm
        exact += value == truth
        charged += result["epsilon_charged"]
        assert result["receipt"]["signature"]
    assert hits >= 13 and exact < 20  # 95% coverage: 13 or more of 20 fails with probability < 1e-6
    assert ok(client.get(f"/api/v1/licenses/{licence['id']}", headers=enterprise))["epsilon_spent"] == (
        pytest.approx(charged))

    # Grouped sums and means come back per public key, with their accuracy.
    grouped = ok(client.post("/api/v1/queries", json={
        "license_id": licence["id"], "epsilon": 0.5,
        "sql": "SELECT region, COUNT(*) AS n, SUM(income) AS total, AVG(age) AS mean_age FROM people "
               "WHERE age >= 30 GROUP BY region"}, headers=enterprise), 201)
    assert grouped["columns"] == ["region", "n", "total", "mean_age"]
    assert sorted(r[0] for r in grouped["rows"]) == sorted(["north", "south", "east", "west"])
    assert set(grouped["accuracy"]) >= {"n", "total"}
    charged += grouped["epsilon_charged"]

    # Refused queries charge nothing and say why.
    before = ok(client.get(f"/api/v1/licenses/{licence['id']}", headers=enterprise))["epsilon_spent"]
    for sql in ("SELECT * FROM people", "SELECT income FROM people", "SELECT COUNT(person_id) FROM people",
                "SELECT SUM(secret_note) FROM people"):
        refused = client.post("/api/v1/queries", json={"license_id": licence["id"], "sql": sql}, headers=enterprise)
        assert refused.status_code == 422, sql
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["type"] == "query-not-allowed" and refused.json()["detail"]
        assert refused.json()["detail_zh"].startswith("查询不被允许")
    # 2.5 of 3.0 spent: a query at 0.5 fits exactly, the next one does not.
    last = client.post("/api/v1/queries", json={"license_id": licence["id"], "epsilon": 0.5,
                                                "sql": "SELECT SUM(age) AS s FROM people"}, headers=enterprise)
    over = client.post("/api/v1/queries", json={"license_id": licence["id"], "epsilon": 0.5,
                                                 "sql": "SELECT SUM(age) AS s FROM people WHERE age > 0"},
                       headers=enterprise)
    assert last.status_code == 201 and over.status_code == 409
    assert over.json()["type"] == "budget-exhausted" and "left" in over.json()["detail"]
    assert "隐私预算仅剩" in over.json()["detail_zh"]  # the same sentence for Chinese clients
    after = ok(client.get(f"/api/v1/licenses/{licence['id']}", headers=enterprise))
    assert after["epsilon_spent"] == pytest.approx(before + 0.5) == pytest.approx(3.0)
    assert after["epsilon_spent"] == pytest.approx(charged + last.json()["epsilon_charged"])

    # 6. The payment is booked: balanced, revenue credited to the treasury account.
    balance = ok(client.get("/api/v1/ledger/trial-balance", headers=world.finance))
    assert balance["balanced"] is True
    revenue = next(a for a in balance["accounts"] if a["code"] == "4001")
    assert revenue["credit_minor"] == 50_000 and revenue["type"] == "revenue"

    # 7. Every step is audited and the chain verifies, by HTTP and by the CLI.
    verified = ok(client.get("/api/v1/audit/verify", headers=world.office))
    assert verified["ok"] is True and verified["length"] > 10
    assert CliRunner().invoke(cli, ["audit", "verify"]).exit_code == 0
    assert CliRunner().invoke(cli, ["ledger", "verify"]).exit_code == 0


def test_audit_verify_names_an_edited_event(client: TestClient) -> None:
    world = World(client)
    assert ok(client.get("/api/v1/audit/verify", headers=world.office))["ok"] is True
    _tamper("UPDATE audit_events SET data = '{\"title\": \"forged\"}' WHERE seq = 3")
    verified = ok(client.get("/api/v1/audit/verify", headers=world.office))
    assert verified["ok"] is False and verified["broken_at"] == 3 and "edited" in verified["reason"]
    result = CliRunner().invoke(cli, ["audit", "verify"])
    assert result.exit_code == 1
    assert "event 3" in result.output


def _tamper(statement: str) -> None:
    """Edit the audit log as someone with direct database access would, past the append-only trigger."""
    engine = get_engine()
    with engine.begin() as conn:
        if get_settings().is_sqlite:
            conn.execute(text("DROP TRIGGER audit_events_no_update"))
            conn.execute(text(statement))
        else:
            conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
            conn.execute(text(statement))
            conn.execute(text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only"))
