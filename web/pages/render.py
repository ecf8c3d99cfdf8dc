"""How pages answer: templates with the viewer's language, redirects, and errors as sentences."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlmodel import Session

from core.errors import DomainError
from core.sso import sso
from market import reasons
from web import charts, fields, i18n
from web.labels import LABELS
from web.session import CSRF_FIELD, csrf_token, store_csrf_cookie

TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")
TEMPLATES.env.filters.update(money=i18n.money, number=i18n.number, eps=i18n.epsilon, plain=i18n.plain, value=i18n.value,
                             yuan=lambda minor: (minor or 0) / 100,
                             compact_json=lambda v: json.dumps(v, ensure_ascii=False, separators=(",", ":")))
TEMPLATES.env.globals.update(bar_chart=charts.bar_chart, gauge=charts.gauge, csrf_field=CSRF_FIELD, sso_info=sso.info)
T = TypeVar("T")


def locale_of(request: Request) -> str:
    return i18n.chosen(request.cookies.get(i18n.LANG_COOKIE), request.headers.get("accept-language"))


def reason_label(locale: str, code: str | None) -> str:
    """A reason code as the data office's list names it, in the viewer's language."""
    reason = reasons.BY_CODE.get(code or "")
    if reason is None:
        return code or ""
    return reason.zh if locale == "zh-CN" else reason.en


def render(request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200) -> HTMLResponse:
    """Render a template in the viewer's language, with their identity and a CSRF token at hand."""
    locale = locale_of(request)
    response = TEMPLATES.TemplateResponse(request, template, {
        "locale": locale, "_": partial(i18n.translate, locale), "label": partial(i18n.label, locale),
        "reason_label": partial(reason_label, locale), "field_label": partial(fields.field_label, locale),
        "field_value": partial(fields.field_value, locale), "when_iso": partial(fields.when_iso, locale),
        "query_statuses": LABELS["query_status"], "action_label": partial(fields.action_label, locale),
        "audit_data": partial(fields.audit_data, locale), "subject_label": partial(fields.subject_label, locale),
        "journal_text": partial(fields.journal_text, locale),
        "when": partial(i18n.when, locale), "viewer": getattr(request.state, "viewer", None),
        "csrf": csrf_token(request), "here": request.url.path, **(context or {}),
    }, status_code=status)
    store_csrf_cookie(request, response)
    return response


def redirect(url: str) -> RedirectResponse:
    """After a successful form post: see the result with a GET (a reload never posts twice)."""
    return RedirectResponse(url, status_code=303)


def attempt(session: Session, call: Callable[[], T]) -> T | DomainError:
    """Run a service call for a form; on a refusal, undo its partial work and return the error to show."""
    try:
        return call()
    except DomainError as exc:
        session.rollback()
        return exc


def safe_next(target: str | None, default: str = "/") -> str:
    """Only local paths: a `next` parameter must never send someone to another site."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


def error_page(request: Request, status: int, title: str, detail: str, detail_zh: str | None = None) -> Response:
    """An error as a page: its title and the sentence that says what to do, never a trace."""
    if status == 401:  # after signing in, come back here (a form's address cannot be revisited by a GET)
        back = request.url.path if request.method == "GET" else ""
        return redirect("/signin" + (f"?next={quote(back)}" if back else ""))
    if detail_zh and locale_of(request) == "zh-CN":
        detail = detail_zh
    return render(request, "error.html", {"status": status, "title": title, "detail": detail}, status=status)


def wants_page(request: Request) -> bool:
    """Whether an error should be answered as HTML (pages) rather than problem+json (the API)."""
    path = request.url.path
    return not (path.startswith(("/api/", "/static/")) or path in ("/openapi.json", "/docs", "/redoc"))
