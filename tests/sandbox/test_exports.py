"""Exports: a released result leaves as CSV (UTF-8 with BOM, a `# key,value` receipt block, spreadsheets and
pandas read it) or Excel (values and receipt sheets), each value beside its ±, and only to its owner."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import fastexcel
import pandas as pd
import polars as pl
import pytest
from fastapi.testclient import TestClient

from core.receipts import verify
from tests.flow import World, ok

API = "/api/v1"
SQL = "SELECT region, COUNT(*) AS n, AVG(income) AS mean_income FROM people GROUP BY region"


@pytest.fixture
def released(client: TestClient) -> tuple[World, dict[str, str], dict[str, Any]]:
    world = World(client)
    analyst = world.enterprise()
    licence = world.active_licence(analyst)
    result = ok(client.post(f"{API}/queries", headers=analyst,
                            json={"license_id": licence["id"], "sql": SQL, "epsilon": 1.0}), 201)
    return world, analyst, result


def _public_key(client: TestClient) -> str:
    return str(ok(client.get(f"{API}/receipts/public-key"))["public_key_pem"])


def test_a_result_names_the_dataset_version_it_ran_on(client: TestClient, released: Any) -> None:
    _, _, result = released
    assert result["dataset"]["dataset"] == "people" and result["dataset"]["version"] == 1


def test_csv_export_opens_in_pandas_with_plus_minus_columns_and_a_verifiable_receipt(
        client: TestClient, released: Any) -> None:
    _, analyst, result = released
    response = client.get(f"{API}/queries/{result['id']}/export?format=csv", headers=analyst)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    content = response.content
    assert content.startswith(b"\xef\xbb\xbf")  # a BOM: Excel in China reads it as UTF-8
    frame = pd.read_csv(io.BytesIO(content), comment="#", encoding="utf-8-sig")
    assert list(frame.columns) == ["region", "n", "n ±", "mean_income", "mean_income ±"]
    assert frame["region"].tolist() == [row[0] for row in result["rows"]]
    assert frame["n"].tolist() == pytest.approx([row[1] for row in result["rows"]])
    assert frame["n ±"].tolist() == pytest.approx([result["accuracy"]["n"]["plus_minus"]] * len(result["rows"]))
    polars_frame = pl.read_csv(content, comment_prefix="#")
    assert polars_frame.columns == list(frame.columns) and polars_frame.height == len(result["rows"])

    block = {row[0][2:]: row[1] for row in csv.reader(io.StringIO(content.decode("utf-8-sig")))
             if row and row[0].startswith("# ") and len(row) == 2}
    assert block["epsilon"] == str(result["epsilon_spent_on_query"]) and block["dataset_version"] == "1"
    assert block["privacy_unit"].startswith("one row")
    receipt = json.loads(block["receipt_json"])
    assert receipt == result["receipt"] and verify(_public_key(client), receipt)


def test_excel_export_has_a_values_sheet_and_a_receipt_sheet(client: TestClient, released: Any) -> None:
    _, analyst, result = released
    response = client.get(f"{API}/queries/{result['id']}/export?format=xlsx", headers=analyst)
    assert response.status_code == 200 and "spreadsheetml" in response.headers["content-type"]
    book = fastexcel.read_excel(response.content)
    assert book.sheet_names == ["values 结果", "receipt 回执"]
    values = book.load_sheet(0).to_polars()
    assert values.columns == ["region", "n", "n ±", "mean_income", "mean_income ±"]
    assert values["mean_income"].to_list() == pytest.approx([row[2] for row in result["rows"]])
    assert values["mean_income ±"].to_list() == pytest.approx(
        [result["accuracy"]["mean_income"]["plus_minus"]] * len(result["rows"]))
    fields = dict(book.load_sheet(1, dtypes="string").to_polars().iter_rows())
    assert fields["receipt.signature"] == result["receipt"]["signature"]
    assert verify(_public_key(client), json.loads(fields["receipt_json"]))


def test_only_the_owner_can_export_a_result(client: TestClient, released: Any) -> None:
    world, _, result = released
    other = world.enterprise("别家公司 Other Co", "91110108MA01ABCDEN", "other@data.test")
    for fmt in ("csv", "xlsx"):
        response = client.get(f"{API}/queries/{result['id']}/export?format={fmt}", headers=other)
        assert response.status_code == 404 and response.headers["content-type"] == "application/problem+json"
    assert client.get(f"{API}/queries/{result['id']}/export?format=pdf", headers=other).status_code == 422
    assert client.get(f"{API}/queries/{result['id']}/export").status_code == 401
