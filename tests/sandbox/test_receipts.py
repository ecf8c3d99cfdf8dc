"""Receipts prove a released result offline; stored results are only their owner's."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.flow import World, ok
from web.cli import app as cli


def _verify_as_documented(public_key_pem: str, result: dict[str, Any]) -> bool:
    """The few lines from docs/sandbox.md, kept here verbatim so the docs cannot rot."""
    receipt = result["receipt"]
    canonical = lambda v: json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()  # noqa: E731
    body = {k: v for k, v in receipt.items() if k != "signature"}
    try:
        load_pem_public_key(public_key_pem.encode()).verify(  # type: ignore[union-attr]
            base64.b64decode(receipt["signature"]), canonical(body))
    except InvalidSignature:
        return False
    values = {"columns": result["columns"], "rows": result["rows"]}
    return hashlib.sha256(canonical(values)).hexdigest() == receipt["result_sha256"]


def _result(client: TestClient) -> tuple[World, dict[str, str], dict[str, Any]]:
    world = World(client)
    enterprise = world.enterprise()
    licence = world.active_licence(enterprise)
    result = ok(client.post("/api/v1/queries", headers=enterprise, json={
        "license_id": licence["id"], "sql": "SELECT region, COUNT(*) AS n FROM people GROUP BY region"}), 201)
    return world, enterprise, result


def test_a_receipt_verifies_offline_and_a_tampered_one_does_not(client: TestClient, tmp_path: Path) -> None:
    _, _, result = _result(client)
    key = ok(client.get("/api/v1/receipts/public-key"))
    assert key["key_id"] == result["receipt"]["key_id"]
    assert _verify_as_documented(key["public_key_pem"], result)
    forged = json.loads(json.dumps(result))
    forged["rows"][0][1] += 1
    assert not _verify_as_documented(key["public_key_pem"], forged)

    pem = tmp_path / "key.pem"
    pem.write_text(key["public_key_pem"])
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(result))
    bad.write_text(json.dumps(forged))
    assert CliRunner().invoke(cli, ["receipts", "verify", str(good), "--public-key", str(pem)]).exit_code == 0
    refused = CliRunner().invoke(cli, ["receipts", "verify", str(bad), "--public-key", str(pem)])
    assert refused.exit_code == 1 and "do not match" in refused.output
    forged["receipt"]["epsilon"] = 0.0001
    bad.write_text(json.dumps(forged))
    refused = CliRunner().invoke(cli, ["receipts", "verify", str(bad), "--public-key", str(pem)])
    assert refused.exit_code == 1 and "INVALID" in refused.output


def test_stored_results_and_history_are_only_the_owners(client: TestClient) -> None:
    world, enterprise, result = _result(client)
    again = ok(client.get(f"/api/v1/queries/{result['id']}", headers=enterprise))
    assert again["rows"] == result["rows"] and again["receipt"] == result["receipt"]
    history = ok(client.get("/api/v1/queries", headers=enterprise))
    assert history["total"] == 1 and history["items"][0]["sql"].startswith("SELECT region")
    other = world.enterprise(name="Other Co", code="91110000600037341L", email="other@data.test")
    assert client.get(f"/api/v1/queries/{result['id']}", headers=other).status_code == 404
    assert ok(client.get("/api/v1/queries", headers=other))["total"] == 0
    assert client.get(f"/api/v1/licenses/{result['license_id']}", headers=other).status_code == 404


def test_a_receipt_names_the_dataset_version_opaquely_and_states_the_privacy_unit(client: TestClient) -> None:
    world, enterprise, result = _result(client)
    receipt = result["receipt"]
    assert "dataset_sha256" not in receipt and receipt["dataset_version"].startswith("dv1-")
    assert receipt["privacy_unit"] == {"column": None, "max_contributions": 1}
    assert receipt["derived_from"] is None
    data_sha256 = world.dataset["sha256"]  # the provider's own view of the plaintext's hash
    released = json.dumps(result) + json.dumps(ok(client.get("/api/v1/queries", headers=enterprise)))
    assert data_sha256 not in released and data_sha256[:16] not in released
    catalog = ok(client.get(f"/api/v1/catalog/{world.listing['id']}"))
    assert data_sha256 not in json.dumps(catalog)


def test_a_receipt_issued_before_v2_still_verifies(client: TestClient, tmp_path: Path) -> None:
    from core.config import get_settings
    from core.db import unit_of_work
    from core.receipts import sign, signing_key
    from sandbox.models import QueryRun
    from sandbox.schemas import QueryResult

    _, enterprise, result = _result(client)
    old = {k: result["receipt"][k] for k in ("query_id", "query_sha256", "result_sha256", "epsilon", "issued_at")}
    legacy = sign(signing_key(get_settings()), {**old, "dataset_sha256": "ab" * 32})
    with unit_of_work() as session:  # a receipt stored as the platform signed it before v2
        run = session.get(QueryRun, result["id"])
        assert run is not None
        run.receipt = legacy
        session.add(run)
    stored = ok(client.get(f"/api/v1/queries/{result['id']}", headers=enterprise))
    assert stored["receipt"] == legacy
    key = ok(client.get("/api/v1/receipts/public-key"))
    assert _verify_as_documented(key["public_key_pem"], stored)
    # The page's receipt.json is this model dumped: the old shape must come out field for field.
    assert QueryResult.model_validate(stored).model_dump(mode="json")["receipt"] == legacy
    document = tmp_path / "old.json"
    document.write_text(json.dumps(stored))
    pem = tmp_path / "key.pem"
    pem.write_text(key["public_key_pem"])
    assert CliRunner().invoke(cli, ["receipts", "verify", str(document), "--public-key", str(pem)]).exit_code == 0
