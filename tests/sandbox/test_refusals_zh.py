"""Every SQL refusal reaches a zh-CN viewer in Chinese: only SQL words and names stay as written."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.flow import World

WORD = re.compile(r"[A-Za-z_]{3,}")


def test_sql_refusals_are_said_in_chinese(client: TestClient) -> None:
    world = World(client)
    enterprise = world.enterprise()
    licence = world.active_licence(enterprise)
    cases = {
        "SELECT * FROM people": "不允许 SELECT *",
        "SELECT person_id, COUNT(*) AS n FROM people GROUP BY person_id": "个人标识符",
        "SELECT COUNT(*) AS n FROM people JOIN people p2 ON 1 = 1": "不允许 JOIN",
        "SELECT SUM(secret_note) AS s FROM people": "不可用",
        "SELECT COUNT(*) AS n FROM nowhere": "没有名为“nowhere”的数据表",
        "SELECT region FROM people": "不能直接选取原始列“region”",
    }
    for sql, expected in cases.items():
        refused = client.post("/api/v1/queries", headers=enterprise,
                              json={"license_id": licence["id"], "sql": sql, "epsilon": 0.1})
        said = refused.json()["detail_zh"]
        assert refused.status_code == 422 and expected in said, (sql, said)
        # only words of the SQL itself (keywords, names) may stay in Latin letters
        allowed = set(WORD.findall(sql)) | {"GROUP", "MEDIAN", "AVG", "SUM", "COUNT", "SELECT"}
        assert set(WORD.findall(said)) <= allowed, (sql, said)
