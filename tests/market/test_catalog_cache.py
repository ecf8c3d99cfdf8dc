"""Catalog pages are shared for a few seconds (market/recent.py): a change this node commits shows at once, a
change made behind its back (another API node's) within the configured seconds, never later."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from core.config import get_settings
from core.db import get_engine
from market import recent
from tests.flow import World, ok
from tests.market.steps import transition


@pytest.fixture
def shared_for_a_minute(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("SHUYU_CATALOG_CACHE_SECONDS", "60")
    get_settings.cache_clear()
    clock = [1000.0]
    monkeypatch.setattr(recent.time, "monotonic", lambda: clock[0])
    recent.clear()
    yield clock
    recent.clear()
    get_settings.cache_clear()


def _titles(client: TestClient) -> list[str]:
    return [item["title"] for item in ok(client.get("/api/v1/catalog"))["items"]]


def test_a_change_this_node_commits_shows_in_the_catalog_at_once(client: TestClient,
                                                                  shared_for_a_minute: Any) -> None:
    world = World(client)
    title = world.listing["title"]
    assert title in _titles(client)
    ok(transition(client, world.office, world.listing["id"], "suspend", "complaint"))
    assert title not in _titles(client)
    ok(transition(client, world.office, world.listing["id"], "resume", "issue-resolved"))
    assert title in _titles(client)


def test_a_change_made_elsewhere_shows_once_the_shared_page_expires(client: TestClient,
                                                                   shared_for_a_minute: Any) -> None:
    world = World(client)
    title = world.listing["title"]
    assert title in _titles(client)
    with get_engine().begin() as conn:  # as another API node would: not through this process's sessions
        conn.execute(text("UPDATE listings SET title = 'renamed elsewhere' WHERE id = :id"),
                     {"id": world.listing["id"]})
    assert title in _titles(client)  # still the shared page, within its seconds
    shared_for_a_minute[0] += 61
    assert "renamed elsewhere" in _titles(client) and title not in _titles(client)
