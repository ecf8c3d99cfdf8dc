"""A provider declares a date or datetime column with its public period: the dictionary accepts it, the
checks and the quality report count dates outside the period, and analysts' queries bucket it."""

from __future__ import annotations

import io
from typing import Any

import polars as pl
from fastapi.testclient import TestClient

from tests.flow import World, ok
from tests.market.steps import API

DATES = ["2013-01-05", "2013/2/1", "2013-03-31", "NA", "2014-01-02"]  # NA is missing; 2014 is outside
DICTIONARY: dict[str, Any] = {
    "privacy_unit": {"column": "card", "max_contributions": 2, "label_zh": "持卡人", "label_en": "card holder"},
    "columns": [
        {"name": "card", "role": "identifier"},
        {"name": "trip_date", "role": "dimension", "time": "date", "period": ["2013/1/1", "2013-12-31"]},
        {"name": "boarded", "role": "dimension", "time": "datetime",
         "period": ["2013-01-01 00:00", "2013-12-31 23:59:59"]},
        {"name": "fare", "role": "measure", "bounds": [0, 10]},
    ],
}


def trips(rows: int) -> pl.DataFrame:
    dates = [DATES[i % len(DATES)] for i in range(rows)]
    return pl.DataFrame({"card": [f"C{i // 2:05d}" for i in range(rows)], "trip_date": dates,
                         "boarded": [f"{d} 0{i % 10}:15" if d != "NA" else "NA" for i, d in enumerate(dates)],
                         "fare": [float(i % 7) for i in range(rows)]})


def _upload(client: TestClient, world: World, frame: pl.DataFrame) -> dict[str, Any]:
    buffer = io.BytesIO()
    frame.write_csv(buffer)
    return dict(ok(client.post(f"{API}/datasets", headers=world.provider, data={"name": "people"},
                               files={"file": ("trips.csv", buffer.getvalue(), "text/csv")}), 201))


def test_a_declared_date_column_uploads_and_dates_outside_its_period_are_reported(client: TestClient) -> None:
    world = World(client, frame=trips(500), dictionary=DICTIONARY)
    dataset_id = world.dataset["id"]
    stored = ok(client.put(f"{API}/datasets/{dataset_id}/dictionary", headers=world.provider, json=DICTIONARY))
    column = next(c for c in stored["columns"] if c["name"] == "trip_date")
    assert column["time"] == "date" and column["period"] == ["2013-01-01", "2013-12-31"]  # stored as ISO
    checks = ok(client.get(f"{API}/datasets/{dataset_id}/checks", headers=world.provider))
    codes = {(f["column"], f["code"]) for f in checks["items"]}
    assert ("trip_date", "dates-outside-period") in codes and ("trip_date", "identifier-exposed") not in codes

    frame = trips(500)
    _upload(client, world, frame)  # the second version is checked against the dictionary it carries
    report = ok(client.get(f"{API}/datasets/{dataset_id}/quality", headers=world.provider))
    columns = {c["name"]: c for c in report["columns"]}
    assert columns["trip_date"]["outside_bounds"] == (frame["trip_date"] == "2014-01-02").sum() > 0
    assert columns["trip_date"]["unreadable_times"] == 0  # "NA" is a missing-value marker, not a bad date
    assert columns["trip_date"]["missing"] == (frame["trip_date"] == "NA").sum()


def test_an_enterprise_groups_by_month_through_the_declared_period(client: TestClient) -> None:
    world = World(client, frame=trips(500), dictionary=DICTIONARY)
    public = client.get(f"/listings/{world.listing['id']}", headers={"Accept-Language": "zh-CN"}).text
    assert "日期维度" in public and "2013-01-01 – 2013-12-31" in public  # the period is public: analysts plan by it
    preview = ok(client.get(f"{API}/catalog/{world.listing['id']}/preview"))
    dates = [row[[c["name"] for c in preview["columns"]].index("trip_date")] for row in preview["rows"]]
    assert dates and all("2013-01-01" <= d <= "2013-12-31" for d in dates)  # drawn from the period alone
    analyst = world.enterprise()
    licence = world.active_licence(analyst)
    result = ok(client.post(f"{API}/queries", headers=analyst, json={
        "license_id": licence["id"], "epsilon": 0.5,
        "sql": "SELECT DATE_TRUNC('month', trip_date) AS month, COUNT(*) AS n FROM people "
               "WHERE trip_date < DATE '2013-07-01' GROUP BY month"}), 201)
    assert result["status"] == "succeeded", result
    assert [row[0] for row in result["rows"]] == [f"2013-0{m}-01" for m in range(1, 7)]  # April has no rows
    refused = client.post(f"{API}/queries", headers=analyst, json={
        "license_id": licence["id"], "epsilon": 0.5,
        "sql": "SELECT EXTRACT(MONTH FROM fare) AS m, COUNT(*) FROM people GROUP BY m"})
    assert refused.status_code == 422 and "不是日期或时间列" in refused.text


def test_a_date_declaration_that_does_not_fit_is_refused_in_chinese_too(client: TestClient) -> None:
    world = World(client, frame=trips(100), dictionary=DICTIONARY)
    url = f"{API}/datasets/{world.dataset['id']}/dictionary"
    for change, zh in [({"name": "fare", "role": "dimension", "time": "date"}, "必须是以文本记录日期的维度字段"),
                       ({"name": "fare", "role": "measure", "bounds": [0, 10], "period": ["2013-01-01", "2013-12-31"]},
                        "未声明为日期或日期时间字段"),
                       ({"name": "trip_date", "role": "dimension", "time": "date",
                         "period": ["2013-12-31", "2013-01-01"]},
                        "时间范围须为先后两个日期")]:
        columns = [change if c["name"] == change["name"] else c for c in DICTIONARY["columns"]]
        response = client.put(url, headers={**world.provider, "Accept-Language": "zh-CN"},
                              json={**DICTIONARY, "columns": columns})
        assert response.status_code == 422 and zh in response.text, response.text


def test_the_dictionary_page_declares_a_date_column_and_its_period(client: TestClient) -> None:
    from tests.web.test_pages import browser_sign_in, csrf_of

    world = World(client, frame=trips(100), dictionary=DICTIONARY)
    dataset = world.dataset["id"]
    browser_sign_in(client, "provider@gov.test")
    page = client.get(f"/provider/datasets/{dataset}", headers={"Accept-Language": "zh-CN"}).text
    assert "日期维度" in page and 'value="2013-01-01"' in page
    assert "2013-01-05 – 2014-01-02" in page  # what the upload saw: the earliest and latest date
    form = {"csrf": csrf_of(page), "role_0": "identifier", "role_1": "date", "lo_1": "2013/1/1", "hi_1": "2013-06-30",
            "role_2": "datetime", "role_3": "measure", "lo_3": "0", "hi_3": "10", "privacy_column": "card",
            "max_contributions": "2"}
    saved = client.post(f"/provider/datasets/{dataset}/dictionary", data=form)
    assert saved.status_code == 200, saved.text
    detail = client.get(f"{API}/datasets/{dataset}", headers=world.provider).json()["dictionary"]
    columns = {c["name"]: c for c in detail["columns"]}
    assert columns["trip_date"]["time"] == "date" and columns["trip_date"]["period"] == ["2013-01-01", "2013-06-30"]
    assert columns["boarded"]["time"] == "datetime" and columns["boarded"]["period"] is None
    refused = client.post(f"/provider/datasets/{dataset}/dictionary", headers={"Accept-Language": "zh-CN"},
                          data={**form, "lo_1": "someday"})
    assert refused.status_code == 422 and "时间范围须为先后两个日期" in refused.text
