"""Query template pages: the provider proposes, the data office reviews and may require templates, the
enterprise runs one from its console as a form with one field per parameter."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from core.auth import Principal
from core.errors import DomainError, InvalidInput
from licensing.service import license_service
from market import reasons
from market.service import listings
from sandbox.schemas import TemplateCreate, TemplateReviewCreate, TemplateRule, TemplateRun
from sandbox.templates import templates
from web.forms import built, validated
from web.pages.enterprise import _console, _released
from web.pages.render import attempt, redirect, render, safe_next
from web.session import EnterprisePage, OfficePage, PageSession, ProviderPage, check_csrf

router = APIRouter(include_in_schema=False, dependencies=[Depends(check_csrf)])
PARAMETERS_EXAMPLE = json.dumps([
    {"name": "year", "type": "key", "column": "year", "label": "年份", "label_en": "Year"},
    {"name": "districts", "type": "keys", "column": "district", "max_items": 5, "label": "区县",
     "label_en": "Districts"},
], ensure_ascii=False, indent=1)


# --- provider --------------------------------------------------------------------------------------------


@router.get("/provider/listings/{listing_id}/templates", response_class=HTMLResponse)
def provider_templates(request: Request, listing_id: int, session: PageSession, who: ProviderPage) -> Response:
    """The listing's templates, every version with its reviews, and the form to propose one."""
    return _provider_page(request, session, who, listing_id, {})


def _provider_page(request: Request, session: Session, who: Principal, listing_id: int, extra: dict[str, Any],
                   status: int = 200) -> Response:
    detail = listings.detail(session, who, listing_id)
    form = {"parameters": PARAMETERS_EXAMPLE, "example": "{}",
            "sql": f"SELECT COUNT(*) AS n FROM {detail.dataset_name}"}
    return render(request, "provider/templates.html", {
        "listing": detail, "page": templates.of_listing(session, who, listing_id), "form": form,
        "proposed": request.query_params.get("proposed"), **extra}, status=status)


@router.post("/provider/listings/{listing_id}/templates", response_class=HTMLResponse)
def propose(request: Request, listing_id: int, session: PageSession, who: ProviderPage,
            name: Annotated[str, Form()], sql: Annotated[str, Form()], parameters: Annotated[str, Form()] = "[]",
            example: Annotated[str, Form()] = "{}", name_en: Annotated[str, Form()] = "",
            description: Annotated[str, Form()] = "", description_en: Annotated[str, Form()] = "") -> Response:
    """Propose a template; a refusal (the sandbox's reason) shows above the form, which keeps what was typed."""
    form = {"name": name, "name_en": name_en, "description": description, "description_en": description_en,
            "sql": sql, "parameters": parameters, "example": example}

    def submit() -> Any:
        data = {**form, "parameters": _json(parameters, "parameters", "参数"), "example": _json(example, "example",
                                                                                                "示例参数")}
        return templates.propose(session, who, listing_id, built(TemplateCreate, data))

    done = attempt(session, submit)
    if isinstance(done, DomainError):
        return _provider_page(request, session, who, listing_id, {"error": done, "form": form}, status=done.status)
    return redirect(f"/provider/listings/{listing_id}/templates?proposed={done.id}")


def _json(text: str, field: str, field_zh: str) -> Any:
    try:
        return json.loads(text or "null")
    except ValueError:
        raise InvalidInput(f"The {field} field is not valid JSON", zh=f"“{field_zh}”一栏不是有效的 JSON") from None


# --- data office -----------------------------------------------------------------------------------------


def _office_context(session: Session) -> dict[str, Any]:
    return {"codes": {"approve": reasons.codes_for("approve_template"), "reject": reasons.codes_for("reject_template")}}


@router.get("/office/templates", response_class=HTMLResponse)
def office_queue(request: Request, session: PageSession, who: OfficePage) -> Response:
    """Template versions waiting for a decision, with their listing, SQL, parameters and reviews so far."""
    pending = templates.pending(session)
    titles = {t.listing_id: listings.detail(session, who, t.listing_id).title for t in pending}
    return render(request, "office/templates.html", {
        "items": pending, "titles": titles, "listing": None, "done": request.query_params.get("done"),
        **_office_context(session)})


@router.get("/office/listings/{listing_id}/templates", response_class=HTMLResponse)
def office_listing_templates(request: Request, listing_id: int, session: PageSession, who: OfficePage) -> Response:
    """Every template version of one listing, and whether the listing is queried only through them."""
    return _office_listing(request, session, who, listing_id, {})


def _office_listing(request: Request, session: Session, who: Principal, listing_id: int, extra: dict[str, Any],
                    status: int = 200) -> Response:
    detail = listings.detail(session, who, listing_id)
    page = templates.of_listing(session, who, listing_id)
    return render(request, "office/templates.html", {
        "items": page.items, "titles": {listing_id: detail.title}, "listing": detail, "page": page,
        "done": request.query_params.get("done"), **_office_context(session), **extra}, status=status)


@router.post("/office/listings/{listing_id}/templates/{template_id}/review", response_class=HTMLResponse)
def office_review(request: Request, listing_id: int, template_id: int, session: PageSession, who: OfficePage,
                  decision: Annotated[str, Form()], reason_code: Annotated[str, Form()] = "",
                  comment: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "") -> Response:
    """Approve or reject a template version with a reason code; a refusal shows on the listing's templates."""
    body = {"decision": decision, "reason_code": reason_code.strip() or None, "comment": comment}
    done = attempt(session, lambda: templates.review(session, who, listing_id, template_id,
                                                     built(TemplateReviewCreate, body)))
    if isinstance(done, DomainError):
        return _office_listing(request, session, who, listing_id, {"error": done}, status=done.status)
    back = safe_next(next, f"/office/listings/{listing_id}/templates")
    return redirect(f"{back}?done={template_id}")


@router.post("/office/listings/{listing_id}/templates-rule", response_class=HTMLResponse)
def office_rule(request: Request, listing_id: int, session: PageSession, who: OfficePage,
                templates_only: Annotated[str, Form()] = "", comment: Annotated[str, Form()] = "") -> Response:
    """Require approved templates for every query on the listing, or lift the requirement."""
    body = built(TemplateRule, {"templates_only": templates_only == "on", "comment": comment})
    templates.set_rule(session, who, listing_id, body)
    return redirect(f"/office/listings/{listing_id}/templates")


# --- enterprise ------------------------------------------------------------------------------------------


@router.post("/enterprise/licences/{license_id}/templates/{template_id}/run", response_class=HTMLResponse)
async def run(request: Request, license_id: int, template_id: int, session: PageSession,
              who: EnterprisePage) -> Response:
    """Run an approved template with the values in its form (`p_<name>`; a list parameter repeats its field)."""
    form = await request.form()
    licence = await run_in_threadpool(license_service.get, session, who, license_id)
    values: dict[str, Any] = {}
    for key in form:
        if key.startswith("p_"):
            got = [str(v) for v in form.getlist(key)]
            values[key[2:]] = got if key.endswith("[]") or len(got) > 1 else got[0]
    values = {k.removesuffix("[]"): v for k, v in values.items()}
    epsilon = str(form.get("epsilon") or "").strip() or None
    body = validated(TemplateRun, {"license_id": license_id, "parameters": values, "epsilon": epsilon})
    done: Response | DomainError | TemplateRun = body
    if not isinstance(body, DomainError):
        try:
            query, use = await run_in_threadpool(templates.query_for, session, licence.listing_id, template_id,
                                                 body)
            done = await _released(session, who, query, use)
        except DomainError as exc:
            await run_in_threadpool(session.rollback)
            done = exc
    if isinstance(done, DomainError):
        return await run_in_threadpool(_console, request, session, who, licence,
                                       {"error": done, "template_values": {template_id: values}}, done.status)
    assert isinstance(done, Response)
    return done
