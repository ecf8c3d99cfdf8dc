"""Server-rendered HTML pages. They call the same services as the API and hold no rules of their own."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from core.auth import SessionDep
from market.service import listings

TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")
router = APIRouter(include_in_schema=False)

GRADE_LABELS = {"general": "一般数据 General", "important": "重要数据 Important", "core": "核心数据 Core"}
TEMPLATES.env.filters["grade_label"] = lambda g: GRADE_LABELS.get(g or "", g or "")
TEMPLATES.env.filters["money"] = lambda minor, cur="CNY": ("¥" if cur == "CNY" else cur + " ") + f"{minor / 100:,.2f}"


@router.get("/", response_class=HTMLResponse)
def catalog_page(request: Request, session: SessionDep, q: str | None = None) -> HTMLResponse:
    page = listings.catalog(session, q, None, None, 100, 0)
    return TEMPLATES.TemplateResponse(request, "catalog.html", {"page": page, "q": q or ""})


@router.get("/listings/{listing_id}", response_class=HTMLResponse)
def listing_page(request: Request, listing_id: int, session: SessionDep) -> HTMLResponse:
    entry = listings.catalog_entry(session, listing_id)
    return TEMPLATES.TemplateResponse(request, "listing.html", {"entry": entry})
