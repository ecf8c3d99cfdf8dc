"""Catalog pages are shared for a few seconds (market/recent.py), and anonymous requests are answered from the
kept bytes (web/public_cache.py): a change this node commits shows at once, a change made behind its back
(another API node's) within the configured seconds, never later; a signed-in viewer never gets the anonymous
page; each browser gets its own CSRF token in a kept page."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.types import Message, Receive, Scope, Send

from core.auth import CSRF_COOKIE, csrf_signature
from core.config import get_settings
from core.db import get_engine
from market import recent
from tests.flow import World, ok
from tests.market.steps import transition
from tests.web.test_pages import browser_sign_in, csrf_of
from web.public_cache import PublicCatalogCache
from web.session import csrf_token, store_csrf_cookie


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


def _rename_elsewhere(listing_id: int, title: str) -> None:
    with get_engine().begin() as conn:  # as another API node would: not through this process's sessions
        conn.execute(text("UPDATE listings SET title = :title WHERE id = :id"), {"id": listing_id, "title": title})


def test_anonymous_pages_are_kept_per_language_and_dropped_on_this_nodes_change(client: TestClient,
                                                                                shared_for_a_minute: Any) -> None:
    world = World(client)
    title, page = world.listing["title"], f"/listings/{world.listing['id']}"
    for url in ("/", page):
        assert title in client.get(url, headers={"Accept-Language": "en"}).text
    for url in ("/", page):  # each language its own page
        assert '<html lang="en">' in client.get(url, headers={"Accept-Language": "en"}).text
        assert '<html lang="zh-CN">' in client.get(url, headers={"Accept-Language": "zh-CN"}).text
    _rename_elsewhere(world.listing["id"], "renamed elsewhere")
    for url in ("/", page):
        assert title in client.get(url, headers={"Accept-Language": "en"}).text  # kept, within its seconds
    shared_for_a_minute[0] += 61
    for url in ("/", page):
        assert "renamed elsewhere" in client.get(url, headers={"Accept-Language": "en"}).text
    ok(transition(client, world.office, world.listing["id"], "suspend", "complaint"))
    assert "renamed elsewhere" not in client.get("/", headers={"Accept-Language": "en"}).text
    assert client.get(page, headers={"Accept-Language": "en"}).status_code == 404


def test_a_signed_in_viewer_never_receives_the_anonymous_page(client: TestClient, shared_for_a_minute: Any) -> None:
    world = World(client)
    page = f"/listings/{world.listing['id']}"
    for url in ("/", page):
        assert "Signed in as" not in client.get(url, headers={"Accept-Language": "en"}).text
    browser_sign_in(client, "finance@gov.test")
    for url in ("/", page):
        assert "Signed in as finance@gov.test" in client.get(url, headers={"Accept-Language": "en"}).text


def test_each_browser_gets_its_own_csrf_cookie_from_a_kept_page(client: TestClient, shared_for_a_minute: Any) -> None:
    World(client)
    cookies = set()
    for _ in range(3):
        client.cookies.clear()
        client.get("/")
        cookies.add(client.cookies[CSRF_COOKIE])
    assert len(cookies) == 3
    again = client.get("/")  # a browser that has its cookie keeps it
    assert CSRF_COOKIE not in again.headers.get("set-cookie", "")
    signin = client.get("/signin")  # and its forms carry the token of that cookie
    assert csrf_of(signin.text) == csrf_signature(client.cookies[CSRF_COOKIE])


def test_an_unchanged_catalog_is_answered_304_and_a_change_gives_a_new_etag(client: TestClient,
                                                                           shared_for_a_minute: Any) -> None:
    world = World(client)
    for url in ("/api/v1/catalog", f"/api/v1/catalog/{world.listing['id']}", "/"):
        first = client.get(url)
        tag = first.headers["etag"]
        unchanged = client.get(url, headers={"If-None-Match": tag})
        assert unchanged.status_code == 304 and unchanged.content == b"" and unchanged.headers["etag"] == tag
        assert client.get(url, headers={"If-None-Match": '"another"'}).status_code == 200
    tag = client.get("/api/v1/catalog").headers["etag"]
    ok(transition(client, world.office, world.listing["id"], "suspend", "complaint"))
    changed = client.get("/api/v1/catalog", headers={"If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["etag"] != tag


async def _page_with_a_form(scope: Scope, receive: Receive, send: Send) -> None:
    request = Request(scope)
    response = HTMLResponse(f'<form><input type="hidden" name="csrf" value="{csrf_token(request)}"></form>')
    store_csrf_cookie(request, response)
    await response(scope, receive, send)


def test_a_kept_page_with_a_form_carries_each_browsers_own_token(shared_for_a_minute: Any) -> None:
    browsers = [TestClient(PublicCatalogCache(_page_with_a_form)) for _ in range(3)]
    for browser in browsers * 2:  # the first fills the kept page, every later one is answered from it
        assert csrf_of(browser.get("/").text) == csrf_signature(browser.cookies[CSRF_COOKIE])
    assert len({b.cookies[CSRF_COOKIE] for b in browsers}) == 3


def test_with_sharing_off_concurrent_anonymous_requests_reach_the_app_together(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHUYU_CATALOG_CACHE_SECONDS", "0")
    get_settings.cache_clear()
    inside, peak, refills_seen = 0, 0, []

    async def route(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal inside, peak
        inside += 1
        peak = max(peak, inside)
        refills_seen.append(dict(cache.filling))
        for _ in range(10):  # give the other request every chance to come in while this one runs
            await asyncio.sleep(0)
        inside -= 1
        await HTMLResponse("<p>catalog</p>")(scope, receive, send)

    cache = PublicCatalogCache(route)
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/", "query_string": b"", "headers": [(b"host", b"test")]}

    async def two_at_once() -> None:
        await asyncio.gather(*(cache(dict(scope), receive, send) for _ in range(2)))

    try:
        asyncio.run(two_at_once())
    finally:
        get_settings.cache_clear()
    assert peak == 2 and refills_seen == [{}, {}]
    starts = [m for m in sent if m["type"] == "http.response.start"]
    assert [m["status"] for m in starts] == [200, 200]
    assert not any(name == b"etag" for m in starts for name, _ in m["headers"])
