"""The Python client against a live server: API-key sign-in, catalog, preview, sync and async runs,
DataFrames with ± columns, offline receipt checks, exports, typed refusals, and Retry-After."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pandas as pd
import polars as pl
import pytest
from fastapi.testclient import TestClient
from shuyu_client import (
    BudgetExhausted,
    Client,
    QueryFailed,
    QueryNotAllowed,
    RateLimited,
    Unauthorized,
    canonical,
    verify_receipt,
)

from tests.flow import World, ok

SQL = "SELECT region, COUNT(*) AS n, AVG(income) AS mean_income FROM people GROUP BY region"


@pytest.fixture
def analyst(client: TestClient, live_server: str) -> tuple[Client, World, dict[str, Any]]:
    world = World(client)
    headers = world.enterprise()
    licence = world.active_licence(headers)
    key = ok(client.post("/api/v1/api-keys", headers=headers, json={"name": "notebook"}), 201)["key"]
    with Client(live_server, api_key=key) as shuyu:
        yield shuyu, world, licence


def test_an_analyst_browses_previews_runs_and_gets_dataframes_with_plus_minus(analyst: Any) -> None:
    shuyu, world, licence = analyst
    assert shuyu.me()["role"] == "enterprise"
    listings = shuyu.catalog()
    assert [entry["id"] for entry in listings] == [world.listing["id"]]
    entry = shuyu.listing(world.listing["id"])
    assert {c["name"] for c in entry["dictionary"]["columns"]} >= {"region", "income"}
    assert len(shuyu.sample(world.listing["id"], rows=5)) == 5

    preview = shuyu.preview(licence["id"], SQL, epsilon=1.0)
    assert preview.epsilon_cost == pytest.approx(1.0) and preview.accuracy["n"] is not None
    result = shuyu.query(licence["id"], SQL, epsilon=1.0)
    assert result.columns == ["region", "n", "mean_income"] and result.epsilon_charged == pytest.approx(1.0)
    assert result.dataset is not None and result.dataset["version"] == 1

    frame = result.to_polars()
    assert frame.columns == ["region", "n", "n ±", "mean_income", "mean_income ±"]
    assert frame["n ±"].to_list() == [preview.accuracy["n"]] * len(result.rows)
    assert frame["region"].to_list() == [row[0] for row in result.rows]
    pandas_frame = result.to_pandas()
    assert list(pandas_frame.columns) == frame.columns
    assert pandas_frame["mean_income"].tolist() == pytest.approx([row[2] for row in result.rows])

    again = shuyu.result(result.id)
    assert again.rows == result.rows and again.receipt == result.receipt
    assert shuyu.history(licence["id"])[0]["id"] == result.id


def test_receipts_are_verified_offline_and_tampering_is_caught(analyst: Any) -> None:
    shuyu, _, licence = analyst
    result = shuyu.query(licence["id"], SQL, epsilon=0.5)
    pem = shuyu.public_key().public_key_pem
    assert result.verify(pem) and verify_receipt(result.receipt, pem)
    forged = {**result.receipt, "epsilon": 0.01}
    assert not verify_receipt(forged, pem)
    tampered_rows = [[row[0], row[1] + 1, row[2]] for row in result.rows]
    tampered = type(result)(**{**result.__dict__, "rows": tampered_rows})
    assert not tampered.verify(pem)


def test_async_runs_are_polled_until_released(analyst: Any) -> None:
    shuyu, _, licence = analyst
    result = shuyu.query(licence["id"], "SELECT COUNT(*) AS n FROM people", epsilon=0.5, wait=False,
                         poll_interval=0.1)
    assert result.columns == ["n"] and result.accuracy["n"] is not None
    assert shuyu.result(result.id).rows == result.rows


def test_exports_come_back_as_files_the_analyst_can_read(analyst: Any) -> None:
    shuyu, _, licence = analyst
    result = shuyu.query(licence["id"], SQL, epsilon=0.5)
    frame = pd.read_csv(io.BytesIO(shuyu.export(result.id, "csv")), comment="#", encoding="utf-8-sig")
    assert list(frame.columns) == result.header()
    workbook = shuyu.export(result.id, "xlsx")
    assert pl.read_excel(workbook, sheet_id=1).columns == result.header()


def test_refusals_are_typed_exceptions(analyst: Any, live_server: str) -> None:
    shuyu, _, licence = analyst
    with pytest.raises(QueryNotAllowed) as refused:
        shuyu.query(licence["id"], "SELECT * FROM people")
    assert refused.value.status == 422 and refused.value.detail_zh
    # Distinct measurements: another alias alone is answered from the first release at no cost.
    for n, sql in enumerate(["SELECT COUNT(*) AS a FROM people", "SELECT COUNT(*) AS b FROM people WHERE age >= 0",
                             "SELECT COUNT(*) AS c FROM people WHERE age >= 1"]):
        shuyu.query(licence["id"], sql, epsilon=1.0)
        assert shuyu.license(licence["id"])["epsilon_spent"] == pytest.approx(n + 1.0)
    with pytest.raises(BudgetExhausted) as exhausted:
        shuyu.query(licence["id"], "SELECT COUNT(*) AS d FROM people WHERE age >= 2", epsilon=1.0)
    assert exhausted.value.status == 409 and exhausted.value.type == "budget-exhausted"
    with Client(live_server, api_key="sy_not_a_key") as stranger, pytest.raises(Unauthorized):
        stranger.me()


def _flaky(statuses: list[int], retry_after: str = "2") -> httpx.MockTransport:
    """A server that is busy for the first answers (the outside world the client meets), then answers."""
    answers = iter(statuses)

    def handle(request: httpx.Request) -> httpx.Response:
        status = next(answers)
        if status in (429, 503):
            return httpx.Response(status, headers={"Retry-After": retry_after},
                                  json={"type": "too-busy", "title": "Busy", "status": status, "detail": "wait"})
        return httpx.Response(200, json={"id": 1, "email": "a@b.c", "role": "enterprise", "organization": {}})

    return httpx.MockTransport(handle)


def test_retry_after_is_honoured_with_backoff_then_given_up() -> None:
    waits: list[float] = []
    with Client("http://shuyu.test", api_key="k", transport=_flaky([503, 429, 200]), sleep=waits.append) as busy:
        assert busy.me()["role"] == "enterprise"
    assert waits == [2.0, 2.0]
    waits.clear()
    with Client("http://shuyu.test", api_key="k", transport=_flaky([429] * 4, "30"), sleep=waits.append,
                max_retries=3, max_wait=10) as busy, pytest.raises(RateLimited) as limited:
        busy.me()
    assert waits == [10.0, 10.0, 10.0] and limited.value.retry_after == 30.0


def test_an_accepted_async_query_is_polled_at_its_location() -> None:
    states = iter(["queued", "running", "succeeded"])
    released = {"id": 7, "license_id": 1, "sql": "SELECT COUNT(*) AS n FROM t", "columns": ["n"], "rows": [[41.0]],
                "accuracy": {"n": {"alpha": 0.05, "plus_minus": 3.2}}, "epsilon_spent_on_query": 0.5,
                "epsilon_remaining": 1.5, "receipt": {"query_id": 7}}
    seen: list[tuple[str, str]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.url.path))
        if request.method == "POST":
            assert request.read() and b'"async":true' in request.read().replace(b" ", b"")
            return httpx.Response(202, headers={"Location": "/api/v1/queries/7"}, json={"id": 7, "status": "queued"})
        status = next(states)
        return httpx.Response(200, json={"id": 7, "status": status} | (released if status == "succeeded" else {}))

    waits: list[float] = []
    with Client("http://shuyu.test", api_key="k", transport=httpx.MockTransport(handle), sleep=waits.append) as c:
        result = c.query(1, "SELECT COUNT(*) AS n FROM t", 0.5, wait=False, poll_interval=0.25)
    assert result.rows == [[41.0]] and result.to_polars()["n ±"].to_list() == [3.2]
    assert seen == [("POST", "/api/v1/queries")] + [("GET", "/api/v1/queries/7")] * 3 and waits == [0.25, 0.25]

    refunded = iter(["running", "refunded"])
    failing = httpx.MockTransport(lambda r: httpx.Response(202, headers={"Location": "/api/v1/queries/8"}, json={
        "id": 8}) if r.method == "POST" else httpx.Response(200, json={"id": 8, "status": next(refunded)}))
    with Client("http://shuyu.test", api_key="k", transport=failing, sleep=waits.append) as c, \
            pytest.raises(QueryFailed):
        c.query(1, "SELECT COUNT(*) AS n FROM t", wait=False)


def test_canonical_json_matches_the_servers() -> None:
    from core.receipts import canonical as server_canonical

    value = {"b": [1, 2.5, None], "a": "数域", "c": {"z": True, "y": "x"}}
    assert canonical(value) == server_canonical(value)


def test_an_approved_template_runs_from_the_client_and_a_bad_value_is_a_typed_error(analyst: Any,
                                                                                  client: TestClient) -> None:
    from shuyu_client import TemplateParameterInvalid

    from tests.sandbox.test_templates import EXAMPLE, _template

    shuyu, world, licence = analyst
    listing_id = world.listing["id"]
    template = ok(client.post(f"/api/v1/listings/{listing_id}/templates", headers=world.provider,
                              json=_template()), 201)
    ok(client.post(f"/api/v1/listings/{listing_id}/templates/{template['id']}/review", headers=world.office,
                   json={"decision": "approve"}))
    assert [t["id"] for t in shuyu.templates(listing_id)] == [template["id"]]
    result = shuyu.run_template(listing_id, template["id"], licence["id"], EXAMPLE, epsilon=0.5)
    assert sorted(row[0] for row in result.rows) == sorted(EXAMPLE["regions"])
    with pytest.raises(TemplateParameterInvalid) as refused:
        shuyu.run_template(listing_id, template["id"], licence["id"], {**EXAMPLE, "regions": ["x' OR 1=1 --"]})
    assert refused.value.body["parameter"] == "regions" and refused.value.detail_zh
