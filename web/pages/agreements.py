"""The data office's pages for authorization agreements (授权运营协议): the list with a form to record one (and
attach the signed document), and one agreement with its listings and the form that revokes it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse, Response

from core.auth import Principal
from core.errors import DomainError
from market.intake import read_form
from market.schemas import AgreementCreate, AgreementRevoke
from market.service.agreements import DOCUMENT_LIMIT, agreements
from web.forms import validated
from web.pages.render import attempt, redirect, render
from web.session import OfficePage, PageSession, check_csrf

router = APIRouter(prefix="/office/agreements", include_in_schema=False, dependencies=[Depends(check_csrf)])
AgreementId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _lines(text: str) -> list[str]:
    """One name per line (or separated by commas or 、)."""
    return [part.strip() for part in text.replace("、", "\n").replace(",", "\n").splitlines() if part.strip()]


def _list(request: Request, session: PageSession, extra: dict[str, Any], status: int = 200) -> Response:
    return render(request, "office/agreements.html", {"page": agreements.list(session), **extra}, status=status)


@router.get("", response_class=HTMLResponse)
def agreement_list(request: Request, session: PageSession, who: OfficePage) -> Response:
    """Every agreement with its status, and the form to record a new one."""
    return _list(request, session, {"form": {}})


@router.post("", response_class=HTMLResponse)
async def create(request: Request, session: PageSession, who: OfficePage) -> Response:
    """Record an agreement from the form, with its signed document if one is attached."""
    form = await read_form(request, DOCUMENT_LIMIT)
    fields = form.fields
    body = validated(AgreementCreate, {
        "title": fields.get("title", ""), "authorizing_body": fields.get("authorizing_body", ""),
        "operator": fields.get("operator", ""), "departments": _lines(fields.get("departments", "")),
        "datasets": _lines(fields.get("datasets", "")), "sectors": _lines(fields.get("sectors", "")),
        "starts_on": fields.get("starts_on") or None, "ends_on": fields.get("ends_on") or None,
        "conditions": fields.get("conditions", "")})

    def record(checked: AgreementCreate) -> Any:
        made = agreements.create(session, who, checked)
        if form.has_file and form.data:
            made = agreements.attach(session, who, made.id, form.filename, form.data)
        return made

    done = body if isinstance(body, DomainError) else attempt(session, lambda: record(body))
    if isinstance(done, DomainError):
        return _list(request, session, {"form": fields, "error": done}, status=done.status)
    return redirect(f"/office/agreements/{done.id}?done=created")


def _detail(request: Request, session: PageSession, who: Principal, agreement_id: int, extra: dict[str, Any],
            status: int = 200) -> Response:
    return render(request, "office/agreement.html", {"agreement": agreements.get(session, agreement_id),
                                                     "done": request.query_params.get("done"), **extra}, status=status)


@router.get("/{agreement_id}", response_class=HTMLResponse)
def detail(request: Request, agreement_id: AgreementId, session: PageSession, who: OfficePage) -> Response:
    """One agreement: its scope, term, conditions, document and the listings under it."""
    return _detail(request, session, who, agreement_id, {})


@router.post("/{agreement_id}/revoke", response_class=HTMLResponse)
def revoke(request: Request, agreement_id: AgreementId, session: PageSession, who: OfficePage,
           reason: Annotated[str, Form()] = "") -> Response:
    """Revoke the agreement: its listings not covered by another agreement are suspended."""
    body = validated(AgreementRevoke, {"reason": reason})
    done = body if isinstance(body, DomainError) else attempt(
        session, lambda: agreements.revoke(session, who, agreement_id, body))
    if isinstance(done, DomainError):
        return _detail(request, session, who, agreement_id, {"error": done}, status=done.status)
    return redirect(f"/office/agreements/{agreement_id}?done=revoked")
