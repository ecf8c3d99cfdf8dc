"""The FastAPI application: API routes, HTML pages, problem+json errors, security headers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DataError
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartParser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core import problem_zh
from core.config import Settings, check_production, get_settings
from core.errors import DomainError, InvalidInput
from core.sso import form_targets as sso_form_targets
from sandbox import jobs
from sandbox.worker import get_pool, shutdown_pool
from web import openapi
from web.api import api_router
from web.docs import mount_docs
from web.forms import validated_zh
from web.guards import check_id_range
from web.jobs import background_jobs
from web.pages import error_page, wants_page
from web.pages import router as pages_router
from web.public_cache import PublicCatalogCache

log = logging.getLogger("shuyu")
PROBLEM = "application/problem+json"
STATIC = Path(__file__).parent / "static"


def problem(status: int, type_: str, title: str, detail: str, **extra: object) -> JSONResponse:
    body = {"type": type_, "title": title, "status": status, "detail": detail,
            "detail_zh": problem_zh.sentence(type_), **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


async def domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    if wants_page(request):
        return error_page(request, exc.status, exc.title, exc.detail, exc.sentence_zh)
    return JSONResponse(exc.problem(), status_code=exc.status, media_type=PROBLEM, headers=exc.headers or None)


class ValueOutOfRange(InvalidInput):
    type = "value-out-of-range"
    title = "A value is out of range"


async def out_of_range(request: Request, exc: Exception) -> Response:
    """A number or text the database cannot hold (an id above PostgreSQL's INTEGER, say) is bad input: 422."""
    return await domain_error(request, ValueOutOfRange(
        "A number or text in the request is too large for the platform to store or look up",
        zh="请求中的数字或文本超出了平台可以存储或查询的范围"))


async def validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "invalid"}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
    said = validated_zh(where, first)
    if wants_page(request):
        return error_page(request, 422, "Invalid input", f"{where}: {first.get('msg')}".strip(": "), said)
    return problem(422, "invalid-input", "Invalid input", f"{where}: {first.get('msg')}".strip(": "),
                   detail_zh=said, errors=[{"loc": list(e.get("loc", ())), "msg": e.get("msg")} for e in errors])


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if wants_page(request):
        if exc.status_code == 404:
            return error_page(request, 404, "Page not found", "There is no page at this address.",
                              "此地址没有页面，请从导航栏进入。")
        return error_page(request, exc.status_code, str(exc.detail), str(exc.detail), problem_zh.sentence("http-error"))
    slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
    return problem(exc.status_code, slug, str(exc.detail), str(exc.detail))


async def unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", exc_info=exc)  # the stack trace goes to the log, never to the client
    if wants_page(request):
        return error_page(request, 500, "Something went wrong", "Something went wrong on our side; nothing you "
                          "sent was lost. Try again, or tell the operator.", problem_zh.sentence("internal-error"))
    return problem(500, "internal-error", "Internal error",
                   "Something went wrong on our side; nothing you sent was lost. Try again, or tell the operator.")


CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; "
       "base-uri 'self'; form-action ")
SECURITY = {"x-content-type-options": "nosniff", "referrer-policy": "same-origin", "x-frame-options": "DENY"}


class SecurityHeaders:
    """Headers every response carries unless it set its own (web/docs.py sets the docs' CSP). Pure ASGI: a
    `BaseHTTPMiddleware` costs each request a task and a stream."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope["path"].startswith(("/docs", "/redoc"))
        csp = CSP + " ".join(["'self'", *sso_form_targets()])  # SSO: linking and signing out lead to the provider

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if not docs:
                    headers.setdefault("content-security-policy", csp)
                for name, value in SECURITY.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(settings: Settings | None = None, *, warm_sandbox: bool = True) -> FastAPI:
    settings = settings or get_settings()
    check_production(settings)
    # Uploads stay in memory up to the upload limit: a dataset's plaintext must never be spooled to disk.
    MultiPartParser.spool_max_size = settings.max_upload_mb * 1024 * 1024 + 1

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if not warm_sandbox:  # the caller (tests, a host process) owns the worker pool
            yield
            return
        if settings.sandbox_mode == "inprocess":
            get_pool(settings).warm_up()  # also creates the sandbox key pair on a fresh data dir
        jobs.dispatcher().start()  # sweeps jobs a crash left behind, now and periodically
        with background_jobs(settings.notify_interval_seconds):
            yield
        jobs.reset_dispatcher()
        shutdown_pool()

    app = FastAPI(title="Shuyu 数域", version="0.1.0", lifespan=lifespan, dependencies=[Depends(check_id_range)],
                  docs_url=None, redoc_url=None,
                  description="Authorized operation of public data: graded listings, licences, "
                              "differentially private SQL, and a treasury ledger.")
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(DataError, out_of_range)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected_error)
    app.include_router(api_router)
    app.include_router(pages_router)
    mount_docs(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    openapi.install(app)

    app.add_middleware(PublicCatalogCache)
    app.add_middleware(SecurityHeaders)
    return app
