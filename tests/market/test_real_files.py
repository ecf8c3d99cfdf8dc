"""Real files from providers upload as they are: R's `NA`, pandas' empty cells, `#N/A`, `暂无` are read as
missing and counted per column (in English and Chinese), the provider can name other markers, Excel
workbooks upload beside CSV, and encodings are detected by charset-normalizer or named."""

from __future__ import annotations

import csv
import io
from typing import Any

import numpy as np
import polars as pl
import pytest
from fastapi.testclient import TestClient

from core.auth import Role
from tests.flow import World, ok, staff
from tests.market.steps import API

CARRIERS = ["UA", "AA", "B6", "DL", "EV", "MQ", "US", "WN", "VX", "FL"]
AIRPORTS = ["EWR", "LGA", "JFK"]
DESTS = ["ATL", "ORD", "LAX", "BOS", "MCO", "CLT", "SFO", "FLL", "MIA", "DCA"]


@pytest.fixture
def provider(client: TestClient) -> dict[str, str]:
    return staff(client, "p@gov.test", Role.provider, "交通局 Transport")


def flights(rows: int = 3000, seed: int = 13) -> list[dict[str, Any]]:
    """Rows shaped like the 2013 BTS flights file (nycflights13): cancelled flights have no times or delays,
    diverted ones no arrival, some aircraft no tail number."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(rows):
        month, day, sched = int(rng.integers(1, 13)), int(rng.integers(1, 29)), int(rng.integers(500, 2300))
        delay = int(rng.normal(12, 40))
        cancelled, diverted = rng.random() < 0.03, rng.random() < 0.01
        dep = None if cancelled else (sched + delay) % 2400
        out.append({
            "year": 2013, "month": month, "day": day, "dep_time": dep, "sched_dep_time": sched,
            "dep_delay": None if cancelled else delay,
            "arr_time": None if cancelled or diverted else (sched + delay + 200) % 2400,
            "sched_arr_time": (sched + 200) % 2400,
            "arr_delay": None if cancelled or diverted else delay + int(rng.integers(-20, 20)),
            "carrier": str(rng.choice(CARRIERS)), "flight": int(rng.integers(1, 6000)),
            "tailnum": None if rng.random() < 0.007 else f"N{int(rng.integers(100, 999))}UA",
            "origin": str(rng.choice(AIRPORTS)), "dest": str(rng.choice(DESTS)),
            "air_time": None if cancelled or diverted else int(rng.integers(20, 600)),
            "distance": int(rng.integers(17, 4983)), "hour": sched // 100, "minute": sched % 100,
            "time_hour": f"2013-{month:02d}-{day:02d} {sched // 100:02d}:00:00",
        })
    return out


def r_csv(rows: list[dict[str, Any]]) -> bytes:
    """As R's readr::write_csv writes it: NA for missing, nothing quoted."""
    lines = [",".join(rows[0])]
    lines += [",".join("NA" if v is None else str(v) for v in row.values()) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def pandas_csv(rows: list[dict[str, Any]]) -> bytes:
    """As pandas' to_csv(quoting=QUOTE_NONNUMERIC) writes it: empty for NaN, text quoted."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)
    return buffer.getvalue().encode()


def _upload(client: TestClient, headers: dict[str, str], content: bytes, filename: str = "flights.csv",
            name: str = "flights", **fields: str) -> Any:
    return client.post(f"{API}/datasets", headers=headers, data={"name": name, **fields},
                       files={"file": (filename, content, "application/octet-stream")})


def _missing(uploaded: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["column"]: m for m in uploaded["missing_values"]}


@pytest.mark.parametrize("writer", [r_csv, pandas_csv])
def test_the_flights_file_from_r_or_pandas_uploads_as_is(client: TestClient, provider: dict[str, str],
                                                         writer: Any) -> None:
    rows = flights()
    uploaded = ok(_upload(client, provider, writer(rows)), 201)
    dtypes = {c["name"]: c["dtype"] for c in uploaded["columns"]}
    assert dtypes["dep_delay"] == dtypes["arr_time"] == dtypes["air_time"] == "int"
    assert dtypes["tailnum"] == dtypes["carrier"] == "string"
    missing = _missing(uploaded)
    for column in ("dep_time", "dep_delay", "arr_time", "arr_delay", "air_time", "tailnum"):
        expected = sum(row[column] is None for row in rows)
        assert expected > 0 and missing[column]["count"] == expected, column
        marker = "NA" if writer is r_csv else ""
        assert missing[column]["markers"] == {marker: expected}
        assert f"{expected} missing values" in missing[column]["message"]
        assert f"{expected} 个缺失值" in missing[column]["message_zh"]
    assert "distance" not in missing and uploaded["row_count"] == len(rows)
    profile = ok(client.get(f"{API}/datasets/{uploaded['id']}/profile", headers=provider))
    nulls = {c["name"]: c["nulls"] for c in profile["columns"]}
    assert nulls["arr_delay"] == missing["arr_delay"]["count"]


def test_every_common_marker_reads_as_missing(client: TestClient, provider: dict[str, str]) -> None:
    markers = ["NA", "N/A", "#N/A", "NULL", "\\N", "—", "无", "暂无", ""]
    lines = [f"{i},{i * 3}" for i in range(20)] + [f"{20 + i},{m}" for i, m in enumerate(markers)]
    uploaded = ok(_upload(client, provider, ("id,amount\n" + "\n".join(lines) + "\n").encode()), 201)
    assert {c["name"]: c["dtype"] for c in uploaded["columns"]}["amount"] == "int"
    counted = _missing(uploaded)["amount"]
    assert counted["count"] == len(markers) and set(counted["markers"]) == set(markers)


def test_the_provider_names_its_own_markers(client: TestClient, provider: dict[str, str]) -> None:
    lines = [f"{i},{i * 3},{'有' if i % 2 else '无'}" for i in range(20)] + ["20,-99,有", "21,-99,无"]
    content = ("id,amount,has_car\n" + "\n".join(lines) + "\n").encode()
    uploaded = ok(_upload(client, provider, content, missing_values="-99"), 201)
    missing = _missing(uploaded)
    assert missing["amount"]["markers"] == {"-99": 2}
    assert "has_car" not in missing  # 无 is a real answer here: naming markers replaces the defaults
    profile = ok(client.get(f"{API}/datasets/{uploaded['id']}/profile", headers=provider))
    assert next(c for c in profile["columns"] if c["name"] == "has_car")["values"] == ["无", "有"]


def test_a_marker_that_is_not_named_is_refused_with_a_hint(client: TestClient, provider: dict[str, str]) -> None:
    lines = [f"{i},{i * 3}" for i in range(20)] + ["20,-"]
    response = _upload(client, provider, ("id,amount\n" + "\n".join(lines) + "\n").encode())
    assert response.status_code == 422, response.text
    body = response.json()
    assert "Line 22" in body["detail"] and "missing_values" in body["detail"] and "missing_values" in body["detail_zh"]


def test_excel_workbooks_upload_beside_csv(client: TestClient, provider: dict[str, str]) -> None:
    frame = pl.DataFrame({
        "区县": ["鼓楼区", "台江区", "仓山区", "晋安区"] * 5,
        "人数": [3, 4, None, 6] * 5,
        "收入": [1.5, 2.25, 3.0, 4.75] * 5,
        "备注": ["暂无", "ok", "ok", "#N/A"] * 5,
    })
    buffer = io.BytesIO()
    frame.write_excel(buffer)
    uploaded = ok(_upload(client, provider, buffer.getvalue(), "districts.xlsx", "districts"), 201)
    assert {c["name"]: c["dtype"] for c in uploaded["columns"]} == {
        "区县": "string", "人数": "int", "收入": "float", "备注": "string"}
    missing = _missing(uploaded)
    assert missing["人数"]["count"] == 5 and missing["备注"]["markers"] == {"暂无": 5, "#N/A": 5}
    refused = _upload(client, provider, b"PK\x03\x04 not really a workbook", "broken.xlsx", "broken")
    assert refused.status_code == 422 and "Excel" in refused.json()["detail"]


def test_an_encoding_is_detected_or_named(client: TestClient, provider: dict[str, str]) -> None:
    short_gbk = ("a,b\n" + "x,1\n" * 4 + "鼓楼区,2\n").encode("gbk")  # too short for most detectors
    assert ok(_upload(client, provider, short_gbk, name="short"), 201)["encoding"] == "gb18030"
    big5 = "區縣,人數\n鼓樓區,3\n臺江區,4\n".encode("big5")
    refused = _upload(client, provider, big5, name="big")
    assert refused.status_code == 422 and "big5" in refused.json()["detail"]
    assert ok(_upload(client, provider, big5, name="big", encoding="big5"), 201)["columns"][0]["name"] == "區縣"


def test_queries_on_a_file_with_missing_values_run(client: TestClient) -> None:
    frame = pl.read_csv(r_csv(flights(2000)), null_values="NA").rename({"dest": "region"})
    world = World(client, frame=frame, dictionary={
        "privacy_unit": {"column": None, "max_contributions": 1},
        "columns": [{"name": "region", "role": "dimension", "keys": DESTS},
                    {"name": "arr_delay", "role": "measure", "bounds": [-100, 300]}],
    })
    analyst = world.enterprise()
    licence = world.active_licence(analyst)
    result = ok(client.post(f"{API}/queries", headers=analyst, json={
        "license_id": licence["id"], "epsilon": 1.0,
        "sql": "SELECT region, COUNT(arr_delay) AS n FROM people GROUP BY region"}), 201)
    assert [row[0] for row in result["rows"]] == sorted(DESTS)
    assert result["accuracy"]["n"]["plus_minus"] > 0
