"""In a real browser: the API documentation works offline — every request /docs and /redoc make goes to Shuyu."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from playwright.sync_api import expect

from tests.web.ui import VIEWPORT, watch

REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
LOAD = 60_000  # ms: two megabytes of script, parsed on a machine the whole suite shares


def _requests_of(page: Any) -> tuple[list[str], list[str]]:
    """Every request the page made, and those the browser refused to send (with the reason)."""
    seen: list[str] = []
    refused: list[str] = []
    page.on("request", lambda request: seen.append(request.url))
    page.on("requestfailed", lambda request: refused.append(request.url))
    return seen, refused


def test_swagger_ui_and_redoc_load_everything_from_the_server(client: TestClient, live_server: str,
                                                               browser: Any) -> None:
    context = browser.new_context(viewport=VIEWPORT)
    page = watch(context.new_page())
    seen, refused = _requests_of(page)
    page.goto(live_server + "/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Shuyu", timeout=LOAD)
    # Every tag is listed, folded (with 140 operations unfolded Swagger UI stopped rendering after a dozen);
    # opening one shows its operations.
    tags = {tag for ops in client.get("/openapi.json").json()["paths"].values() for op in ops.values()
            for tag in op.get("tags", [])}
    expect(page.locator(".opblock-tag")).to_have_count(len(tags), timeout=LOAD)
    page.locator(".opblock-tag", has_text="licensing").first.click()
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/payments/mine").first).to_be_visible()
    page.goto(live_server + "/redoc")
    expect(page.locator("h1", has_text="Shuyu").first).to_be_visible(timeout=LOAD)
    expect(page.get_by_text("/api/v1/api-keys").first).to_be_attached()
    context.close()
    remote = [url for url in seen if url.startswith(("http:", "https:")) and not url.startswith(live_server)]
    # Redoc's footer asks for its vendor's logo; the page's Content-Security-Policy stops that in the browser,
    # so nothing leaves the machine (and the page does not need it).
    assert [url for url in remote if url not in refused] == [], f"the documentation reached outside: {remote}"
    assert set(remote) <= {REDOC_LOGO}
    assert any(url.endswith("/swagger-ui-bundle.js") for url in seen)
    assert any(url.endswith("/redoc.standalone.js") for url in seen)
    assert [error for error in page.errors if REDOC_LOGO not in error] == []


def test_the_doc_pages_forbid_other_origins(client: TestClient) -> None:
    for path in ("/docs", "/redoc"):
        response = client.get(path)
        assert response.status_code == 200
        assert "cdn.jsdelivr.net" not in response.text and "fonts.googleapis" not in response.text
        assert "default-src 'self'" in response.headers["content-security-policy"]
