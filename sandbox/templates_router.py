"""Query template routes: a listing's templates, proposing and reviewing them, and running one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from core.auth import DataOffice, EnterpriseUser, MaybeUser, Principal, Role, SessionDep, require
from sandbox.router import answer
from sandbox.schemas import (
    QueryPreview,
    QueryResult,
    QueryStatus,
    TemplateCreate,
    TemplatePage,
    TemplateRead,
    TemplateReviewCreate,
    TemplateRule,
    TemplateRun,
)
from sandbox.service import queries
from sandbox.templates import templates

router = APIRouter(tags=["templates"])
# The listing's provider (its own listings only) or the data office.
Curator = Annotated[Principal, Depends(require(Role.provider, Role.data_office))]


@router.get("/listings/{listing_id}/templates", response_model=TemplatePage)
def list_templates(listing_id: int, session: SessionDep, who: MaybeUser) -> TemplatePage:
    """A listing's query templates: approved ones for everyone; every version for its provider and the data office."""
    return templates.of_listing(session, who, listing_id)


@router.post("/listings/{listing_id}/templates", status_code=201, response_model=TemplateRead)
def propose_template(listing_id: int, body: TemplateCreate, session: SessionDep, who: Curator) -> TemplateRead:
    """Propose a template (the listing's provider or the data office). Its SQL, filled with `example`, must
    pass the sandbox's checks (422 `query-not-allowed` with the reason otherwise); a name already used makes
    the next version."""
    return templates.propose(session, who, listing_id, body)


@router.get("/templates/pending", response_model=list[TemplateRead])
def pending_templates(session: SessionDep, who: DataOffice) -> list[TemplateRead]:
    """Template versions waiting for a data-office decision, oldest first."""
    return templates.pending(session)


@router.get("/listings/{listing_id}/templates/{template_id}", response_model=TemplateRead)
def get_template(listing_id: int, template_id: int, session: SessionDep, who: MaybeUser) -> TemplateRead:
    """One template version with its reviews."""
    return templates.get(session, who, listing_id, template_id)


@router.post("/listings/{listing_id}/templates/{template_id}/review", response_model=TemplateRead)
def review_template(listing_id: int, template_id: int, body: TemplateReviewCreate, session: SessionDep,
                    who: DataOffice) -> TemplateRead:
    """Approve or reject a template version with a reason code. Nobody approves what they proposed or twice;
    a template of `important` data needs two distinct approvals."""
    return templates.review(session, who, listing_id, template_id, body)


@router.put("/listings/{listing_id}/templates-rule", response_model=TemplatePage)
def set_templates_rule(listing_id: int, body: TemplateRule, session: SessionDep, who: DataOffice) -> TemplatePage:
    """Require approved templates for every query on this listing (free SQL then answers 403
    `template-required`), or lift the requirement."""
    return templates.set_rule(session, who, listing_id, body)


@router.post("/listings/{listing_id}/templates/{template_id}/run", status_code=201, response_model=QueryResult,
             responses={202: {"model": QueryStatus, "description": "Queued (`async`), or still running"}})
async def run_template(listing_id: int, template_id: int, body: TemplateRun, session: SessionDep,
                       who: EnterpriseUser) -> QueryResult | JSONResponse:
    """Run an approved template with your parameter values (422 `template-parameter-invalid` naming the
    parameter otherwise): the same path as `POST /queries`, with the same ε, receipt and stored answers."""
    query, use = await run_in_threadpool(templates.query_for, session, listing_id, template_id, body)
    return await answer(session, who, query, use)


@router.post("/listings/{listing_id}/templates/{template_id}/preview", response_model=QueryPreview)
def preview_template(listing_id: int, template_id: int, body: TemplateRun, session: SessionDep,
                     who: EnterpriseUser) -> QueryPreview:
    """What a template run would cost and how accurate it would be; runs and charges nothing."""
    query, use = templates.query_for(session, listing_id, template_id, body)
    return queries.preview(session, who, query, use)
