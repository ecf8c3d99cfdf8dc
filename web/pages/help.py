"""Help in plain words: what the privacy budget (ε) and the margin of error (±) mean to a business user."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from web.pages.render import render

router = APIRouter(include_in_schema=False)


@router.get("/help/privacy", response_class=HTMLResponse)
def privacy_help(request: Request) -> Response:
    """隐私预算是什么, 误差范围怎么读: linked from the console, the listing and the provider's form."""
    return render(request, "help/privacy.html")
