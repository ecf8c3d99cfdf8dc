"""The catalog finds a listing by a public category value and by a column's description."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.flow import World, ok


def test_search_matches_public_category_values_and_column_descriptions(client: TestClient) -> None:
    world = World(client)

    def found(q: str) -> list[int]:
        return [item["id"] for item in ok(client.get("/api/v1/catalog", params={"q": q}))["items"]]

    assert found("north") == [world.listing["id"]]  # a key of the public dimension "region"
    assert found("yearly income") == [world.listing["id"]]  # the description of the column "income"
    assert found("zzz-nothing") == []
    page = client.get("/?q=zzz-nothing", headers={"Accept-Language": "zh-CN"}).text
    assert 'id="no-match"' in page and "试试更短的词" in page
