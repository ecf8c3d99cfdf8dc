"""Updates and quality: a new version keeps its listing and licences, carries a changelog line, tells the
licensees (audit event and licence page), queries name the version; freshness is public; each version
has a quality report for its provider and the data office only."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import numpy as np
import polars as pl
from fastapi.testclient import TestClient
from sqlmodel import col, select

from core.auth import Role
from core.db import unit_of_work
from core.models import AuditEvent
from market.service.versions import next_due
from tests.flow import PEOPLE_DICTIONARY, World, ok, people, staff
from tests.market.steps import API
from tests.web.test_pages import browser_sign_in


def _new_version(client: TestClient, world: World, frame: pl.DataFrame, changelog: str) -> dict[str, Any]:
    buffer = io.BytesIO()
    frame.write_csv(buffer)
    return dict(ok(client.post(f"{API}/datasets", headers=world.provider, data={"name": "people",
                                                                                 "changelog": changelog},
                               files={"file": ("people.csv", buffer.getvalue(), "text/csv")}), 201))


def _notices(licence_id: int) -> list[dict[str, Any]]:
    with unit_of_work() as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "license.version_notice",
                                                       AuditEvent.subject_id == str(licence_id))
                              .order_by(col(AuditEvent.seq))).all()
        return [dict(e.data) for e in events]


def test_licensees_hear_of_a_new_version_and_queries_name_it(client: TestClient) -> None:
    world = World(client)
    analyst = world.enterprise()
    licence = world.active_licence(analyst)
    sql = {"license_id": licence["id"], "sql": "SELECT COUNT(*) AS n FROM people", "epsilon": 0.5}
    first = ok(client.post(f"{API}/queries", headers=analyst, json=sql), 201)
    assert first["dataset"]["version"] == 1 and _notices(licence["id"]) == []

    second = _new_version(client, world, people(600, seed=9), "2024 figures added / 新增 2024 年数据")
    assert second["listings_moved"] == [world.listing["id"]] and second["changelog"].startswith("2024")
    [notice] = _notices(licence["id"])
    assert notice["version"] == 2 and notice["previous_version"] == 1 and notice["changelog"].startswith("2024")

    entry = ok(client.get(f"{API}/catalog/{world.listing['id']}"))
    assert [(v["version"], v["changelog"][:4]) for v in entry["versions"]] == [(2, "2024"), (1, "")]
    assert "row_count" not in entry["versions"][0] and "sha256" not in entry["versions"][0]
    again = ok(client.post(f"{API}/queries", headers=analyst, json={**sql, "sql": "SELECT COUNT(*) AS m FROM people"}),
               201)
    assert again["dataset"] == {**entry["versions"][0], "dataset": "people"}
    assert ok(client.get(f"{API}/queries/{first['id']}", headers=analyst))["dataset"]["version"] == 1

    browser_sign_in(client, "analyst@data.test")
    page = client.get(f"/enterprise/licences/{licence['id']}")
    assert page.status_code == 200 and 'id="version-notice-2"' in page.text and "2024 figures added" in page.text
    assert 'id="version-notice-1"' not in page.text


def test_freshness_is_public_and_follows_the_update_cycle(client: TestClient) -> None:
    world = World(client)
    freshness = ok(client.get(f"{API}/catalog/{world.listing['id']}"))["freshness"]
    assert freshness["update_cycle"] == "yearly" and freshness["overdue"] is False
    last, due = freshness["last_updated"], freshness["next_update_due"]
    assert due[:4] == str(int(last[:4]) + 1) and due[4:10] == last[4:10]


def test_next_update_due_by_cycle() -> None:
    from datetime import UTC, datetime

    jan31 = datetime(2026, 1, 31, 8, 0, tzinfo=UTC)
    assert next_due(jan31, "monthly") == datetime(2026, 2, 28, 8, 0, tzinfo=UTC)
    assert next_due(jan31, "每季度") == datetime(2026, 4, 30, 8, 0, tzinfo=UTC)
    assert next_due(jan31, "weekly") == jan31 + timedelta(days=7)
    assert next_due(jan31, "Yearly ") == datetime(2027, 1, 31, 8, 0, tzinfo=UTC)
    assert next_due(jan31, "irregular") is None and next_due(jan31, "") is None


def _visits(rows: int, seed: int) -> pl.DataFrame:
    """People with several rows each: the privacy unit is person_id, at most 3 rows each (one has 5)."""
    base = people(rows, seed)
    rng = np.random.default_rng(seed)
    ids = [f"P{n:07d}" for n in rng.integers(0, rows // 3, rows)]
    ids[:5] = ["P9999999"] * 5
    return base.with_columns(pl.Series("person_id", ids),
                             pl.Series("age", [150, *rng.integers(18, 90, rows - 1).tolist()]))


UNIT_DICTIONARY = {**PEOPLE_DICTIONARY, "privacy_unit": {"column": "person_id", "max_contributions": 3},
                   "columns": [*PEOPLE_DICTIONARY["columns"][:1],
                               {"name": "region", "role": "dimension", "keys": ["north", "south", "east", "west",
                                                                                "centre"]},
                               *PEOPLE_DICTIONARY["columns"][2:]]}


def test_the_quality_report_counts_what_a_provider_must_fix(client: TestClient) -> None:
    world = World(client, frame=_visits(900, 3), dictionary=UNIT_DICTIONARY)
    first = ok(client.get(f"{API}/datasets/{world.dataset['id']}/quality", headers=world.provider))
    columns = {c["name"]: c for c in first["columns"]}
    assert first["version"] == 1 and columns["region"]["keys_never_seen"] == ["centre"]
    assert columns["region"]["values_not_in_keys"] == 0 and columns["income"]["outside_bounds"] == 0
    assert columns["age"]["outside_bounds"] is None  # 150 > 120: the range is past the bounds, uncounted
    assert first["rows_per_unit"] is None  # no dictionary at the first upload: nothing counted per person

    frame = _visits(900, 4).with_columns(pl.when(pl.col("income") > 90_000).then(None).otherwise(pl.col("income"))
                                         .alias("income"))
    _new_version(client, world, frame, "monthly refresh")
    report = ok(client.get(f"{API}/datasets/{world.dataset['id']}/quality", headers=world.office))
    columns = {c["name"]: c for c in report["columns"]}
    missing = int(frame["income"].null_count())
    assert report["version"] == 2 and columns["income"]["missing"] == missing > 0
    assert columns["income"]["completeness"] == round(1 - missing / 900, 4)
    assert columns["age"]["outside_bounds"] == 1
    unit = report["rows_per_unit"]
    counts = frame.group_by("person_id").len()["len"]
    assert unit["column"] == "person_id" and unit["units"] == counts.len() and unit["max_rows"] == counts.max()
    assert unit["units_over_bound"] == int((counts > 3).sum()) >= 1
    assert ok(client.get(f"{API}/datasets/{world.dataset['id']}/quality?version=1", headers=world.office))[
        "version"] == 1

    other = staff(client, "other@gov.test", Role.provider, "卫健委 Health")
    assert client.get(f"{API}/datasets/{world.dataset['id']}/quality", headers=other).status_code == 404
    assert client.get(f"{API}/datasets/{world.dataset['id']}/quality", headers=world.enterprise()).status_code == 403
    browser_sign_in(client, "provider@gov.test")
    page = client.get(f"/provider/datasets/{world.dataset['id']}/quality")
    assert page.status_code == 200 and 'id="rows-per-unit"' in page.text
