"""The API documentation pages, /docs (Swagger UI) and /redoc, served from vendored copies of their scripts.

Government intranets reach no CDN, so every file these pages load comes from this server (web/static/vendor,
copied from the npm packages swagger-ui-dist and redoc with their licences). Their Content-Security-Policy
says so too: a browser refuses anything from elsewhere. The pages' own bootstrap is inline (FastAPI writes it),
hence 'unsafe-inline' for these two pages only; Redoc's search runs in a worker it starts from a blob.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse

SWAGGER = "/static/vendor/swagger-ui-5.35.0"
REDOC = "/static/vendor/redoc-2.5.4"
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
            "frame-ancestors 'none'; base-uri 'self'; form-action 'self'")


def _offline(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = DOCS_CSP
    return page


def mount_docs(app: FastAPI) -> None:
    """Add /docs, its OAuth2 redirect, and /redoc to an app created with docs_url=None, redoc_url=None."""
    title = app.title + " — API"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return _offline(get_swagger_ui_html(
            openapi_url="/openapi.json", title=title, swagger_js_url=f"{SWAGGER}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER}/swagger-ui.css", swagger_favicon_url="/static/favicon.svg",
            oauth2_redirect_url="/docs/oauth2-redirect",
            # validatorUrl null: Swagger UI would otherwise load a badge from validator.swagger.io; tags folded:
            # unfolded, Swagger UI 5.35 stopped rendering this API's ~140 operations after a dozen
            swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": True, "docExpansion": "none"}))

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return _offline(get_swagger_ui_oauth2_redirect_html())

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return _offline(get_redoc_html(openapi_url="/openapi.json", title=title,
                                       redoc_js_url=f"{REDOC}/redoc.standalone.js",
                                       redoc_favicon_url="/static/favicon.svg", with_google_fonts=False))
