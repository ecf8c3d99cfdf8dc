"""The public catalog as bytes: an anonymous GET of the catalog (API or page) or of a listing is answered
from the response kept in `market.recent`, before routing, validation, serialization or the template run.

Only anonymous requests (no session cookie, no Authorization header) read or fill it, so a signed-in
viewer, whose pages differ, never receives it. Kept for `SHUYU_CATALOG_CACHE_SECONDS` and dropped with
every catalog page on this process's own commits (`market.recent`). Keyed by host, path and query string,
and for pages by the viewer's language. A page carries the browser's CSRF token: it is kept split around
the token it was rendered with and joined again around the token of the browser asking (a new browser gets
a new CSRF cookie, as `web.session.csrf_token` gives it). Every kept response has an ETag; a matching
If-None-Match is answered 304. With `SHUYU_CATALOG_CACHE_SECONDS=0` nothing is kept and every request goes
straight to the app, concurrently, never waiting for another one's refill.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.auth import CSRF_COOKIE, SESSION_COOKIE, csrf_signature
from core.config import get_settings
from market import recent
from web import i18n
from web.session import cookie_flags

API = re.compile(r"/api/v1/catalog(/[0-9]{1,9})?")
PAGES = re.compile(r"/(listings/[0-9]{1,9})?")
DROPPED = frozenset({b"content-length", b"set-cookie", b"etag"})


@dataclass(frozen=True)
class Kept:
    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    parts: tuple[bytes, ...]  # the body, split around the CSRF token it was rendered with (pages)
    tag: str

    def etag(self, token: str | None) -> str:
        return f'"{self.tag}-{token[:16]}"' if token else f'"{self.tag}"'


class PublicCatalogCache:
    """Pure ASGI middleware (no per-request task or stream, unlike `BaseHTTPMiddleware`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.filling: dict[tuple[object, ...], asyncio.Event] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        page = PAGES.fullmatch(path) is not None
        if not (page or API.fullmatch(path)):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        cookies = {k: v for h in headers.getlist("cookie") for k, v in cookie_parser(h).items()}  # as routes read them
        if SESSION_COOKIE in cookies or "authorization" in headers or get_settings().catalog_cache_seconds <= 0:
            await self.app(scope, receive, send)  # signed in, or nothing is kept: no ETag, no waiting on a refill
            return
        locale = i18n.chosen(cookies.get(i18n.LANG_COOKIE), headers.get("accept-language")) if page else None
        key = ("bytes", headers.get("host", ""), path, scope.get("query_string", b""), locale)
        filling = self.filling.get(key)
        if filling is not None:  # when a kept response expires, one request reads it again and the rest wait
            await filling.wait()
        kept = recent.kept(key)
        if isinstance(kept, Kept):
            await _answer(kept, page, cookies.get(CSRF_COOKIE), headers, scope, receive, send)
            return
        self.filling[key] = done = self.filling.get(key) or asyncio.Event()
        try:
            await self._fill(key, page, cookies.get(CSRF_COOKIE), scope, receive, send)
        finally:
            if self.filling.get(key) is done:
                del self.filling[key]
            done.set()

    async def _fill(self, key: tuple[object, ...], page: bool, csrf_cookie: str | None, scope: Scope,
                    receive: Receive, send: Send) -> None:
        """Run the route, pass its response on (with an ETag) and keep it if it is a whole 200."""
        started = recent.generation()
        start: Message = {}
        body: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body":  # the test client's template debug message
                await send(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body"):
                return
            kept = _keepable(start, b"".join(body), page, csrf_cookie)
            if kept is None:
                await send(start)
                await send({"type": "http.response.body", "body": b"".join(body)})
                return
            recent.keep(key, kept, started)
            token = _token(page, csrf_cookie, start)
            await send({**start, "headers": [*start["headers"], (b"etag", kept.etag(token).encode())]})
            await send({"type": "http.response.body", "body": b"".join(body)})

        await self.app(scope, receive, capture)


def _new_csrf_cookie(start: Message) -> str | None:
    for name, value in start.get("headers", ()):
        if name == b"set-cookie" and value.startswith(CSRF_COOKIE.encode() + b"="):
            return str(value.split(b";", 1)[0].split(b"=", 1)[1].decode())
    return None


def _token(page: bool, csrf_cookie: str | None, start: Message) -> str | None:
    cookie = csrf_cookie or _new_csrf_cookie(start)
    return csrf_signature(cookie) if page and cookie else None


def _keepable(start: Message, body: bytes, page: bool, csrf_cookie: str | None) -> Kept | None:
    """A 200 that sets no cookie but the CSRF one, split around its CSRF token; else None."""
    if start.get("status") != 200:
        return None
    cookies = [v for n, v in start.get("headers", ()) if n == b"set-cookie"]
    if any(not v.startswith(CSRF_COOKIE.encode() + b"=") for v in cookies):
        return None
    token = _token(page, csrf_cookie, start)
    parts = tuple(body.split(token.encode())) if token else (body,)
    tag = hashlib.blake2b(b"\0".join(parts), digest_size=12).hexdigest()
    headers = tuple((n, v) for n, v in start.get("headers", ()) if n not in DROPPED)
    return Kept(status=200, headers=headers, parts=parts, tag=tag)


async def _answer(kept: Kept, page: bool, csrf_cookie: str | None, headers: Headers, scope: Scope,
                  receive: Receive, send: Send) -> None:
    new_cookie = secrets.token_urlsafe(32) if page and not csrf_cookie else None
    token = csrf_signature(csrf_cookie or new_cookie or "") if page else None
    etag = kept.etag(token)
    if new_cookie is None and etag in {t.strip() for t in headers.get("if-none-match", "").split(",")}:
        response = Response(status_code=304, headers={"etag": etag})
    else:
        body = token.encode().join(kept.parts) if token else kept.parts[0]
        response = Response(body, status_code=kept.status)
        response.raw_headers = [(b"content-length", str(len(body)).encode()), *kept.headers, (b"etag", etag.encode())]
        if new_cookie:
            response.set_cookie(CSRF_COOKIE, new_cookie, **cookie_flags(get_settings()))  # type: ignore[arg-type]
    await response(scope, receive, send)
