"""The registration certificate (登记证书) route: a PDF for the product's provider and the data office."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from core.auth import CurrentUser, SessionDep
from market.service import registrations

router = APIRouter(tags=["registrations"])


@router.get("/registrations/{code}/certificate.pdf", responses={200: {"content": {"application/pdf": {}}}})
def registration_certificate(code: str, request: Request, session: SessionDep, who: CurrentUser) -> Response:
    """The registration certificate with its code, as a PDF in Chinese and English (the product's provider and
    the data office; 409 `registration-under-notice` until the public notice has ended)."""
    content = registrations.certificate(session, who, code, str(request.base_url))
    return Response(content, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{code}.pdf"'})
