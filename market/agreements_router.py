"""Routes for authorization agreements (授权运营协议): recorded and revoked by the data office, public to read
(the annual disclosure lists them)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response
from fastapi import Path as PathParam

from core.auth import DataOffice, SessionDep
from core.errors import InvalidInput
from market.intake import read_form
from market.schemas import AgreementCreate, AgreementPage, AgreementRead, AgreementRevoke
from market.service.agreements import DOCUMENT_LIMIT, agreements

router = APIRouter(tags=["agreements"])
AgreementId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]
DOCUMENT_OPENAPI = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary", "description": "The signed agreement (PDF)"}}}}}}}


@router.post("/agreements", status_code=201, response_model=AgreementRead)
def create_agreement(body: AgreementCreate, session: SessionDep, who: DataOffice) -> AgreementRead:
    """Record an authorization agreement: authorizing body, operator organization (created if new; never the data
    office itself), scope (provider departments, datasets or sectors), term and conditions."""
    return agreements.create(session, who, body)


@router.get("/agreements", response_model=AgreementPage)
def list_agreements(session: SessionDep, limit: Annotated[int, Query(ge=1, le=200)] = 200,
                    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0) -> AgreementPage:
    """Every authorization agreement with its status as of now (active, not_started, expired, revoked)."""
    return agreements.list(session, limit, offset)


@router.get("/agreements/{agreement_id}", response_model=AgreementRead)
def get_agreement(agreement_id: AgreementId, session: SessionDep) -> AgreementRead:
    """One agreement with the listings submitted under it."""
    return agreements.get(session, agreement_id)


@router.post("/agreements/{agreement_id}/document", response_model=AgreementRead, openapi_extra=DOCUMENT_OPENAPI)
async def attach_document(agreement_id: AgreementId, request: Request, session: SessionDep,
                          who: DataOffice) -> AgreementRead:
    """Attach the signed agreement (multipart field `file`, up to 20 MB); a later one replaces it."""
    form = await read_form(request, DOCUMENT_LIMIT)
    if not form.has_file:
        raise InvalidInput("file: Field required", zh="缺少协议文件（file 字段）")
    return agreements.attach(session, who, agreement_id, form.filename, form.data)


@router.get("/agreements/{agreement_id}/document", response_class=Response,
            responses={200: {"content": {"application/pdf": {}, "application/octet-stream": {}}}})
def agreement_document(agreement_id: AgreementId, session: SessionDep) -> Response:
    """The attached agreement document, as uploaded."""
    name, data = agreements.document(session, agreement_id)
    kind = "application/pdf" if name.lower().endswith(".pdf") else "application/octet-stream"
    return Response(data, media_type=kind,
                    headers={"content-disposition": f"attachment; filename*=UTF-8''{quote(name)}"})


@router.post("/agreements/{agreement_id}/revoke", response_model=AgreementRead)
def revoke_agreement(agreement_id: AgreementId, body: AgreementRevoke, session: SessionDep,
                     who: DataOffice) -> AgreementRead:
    """Revoke an agreement now. Its live listings move to another active agreement that covers them, or are
    suspended with the reason `authorization-ended`, and their licensees are notified."""
    return agreements.revoke(session, who, agreement_id, body)
