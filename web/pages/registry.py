"""Public registration pages (登记公示): every record, its events and public notice, objections and the certificate."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from market.service import registrations
from web.pages.render import render
from web.session import PageSession, Viewer, check_csrf

router = APIRouter(include_in_schema=False, dependencies=[Depends(check_csrf)])


@router.get("/registrations", response_class=HTMLResponse)
def registry(request: Request, session: PageSession, who: Viewer,
             offset: Annotated[int, Query(ge=0)] = 0) -> Response:
    """Every registered data product, newest first, with its status (under notice, registered, cancelled)."""
    return render(request, "registry/index.html", {"page": registrations.list(session, None, 100, offset)})


@router.get("/registrations/{code}", response_class=HTMLResponse)
def registration_page(request: Request, code: str, session: PageSession, who: Viewer) -> Response:
    """One registration record: its events (first, change, correction, cancellation), the notice, and links to
    object to it and to download its certificate."""
    return render(request, "registry/record.html", {"r": registrations.get(session, code)})
