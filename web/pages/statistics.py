"""Open statistics pages: the public index and tables, and the data office's page to compose and publish a set."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from core.auth import Principal
from core.errors import DomainError
from licensing.service import budget
from market.service import listings
from sandbox import jobs
from sandbox.schemas import OpenStatisticCreate
from sandbox.service import sync_limit
from sandbox.statistics import open_statistics
from web.forms import validated
from web.pages.render import attempt, redirect, render
from web.session import OfficePage, PageSession, Viewer, check_csrf

router = APIRouter(include_in_schema=False, dependencies=[Depends(check_csrf)])
FORM_ROWS = 5
EXAMPLE_EPSILON = "0.5"


@router.get("/open-statistics", response_class=HTMLResponse)
def index(request: Request, session: PageSession, who: Viewer, listing_id: int | None = None) -> Response:
    """Every open statistic anyone may read and download without a licence."""
    return render(request, "statistics/index.html", {"page": open_statistics.list(session, listing_id, 200, 0)})


@router.get("/open-statistics/{statistic_id}", response_class=HTMLResponse)
def statistic_page(request: Request, statistic_id: int, session: PageSession, who: Viewer) -> Response:
    """One open statistic: its tables with ± and a CSV and the receipt of each."""
    return render(request, "statistics/statistic.html", {"s": open_statistics.get(session, statistic_id)})


def _office_page(request: Request, session: Session, who: Principal, listing_id: int, extra: dict[str, Any],
                 status: int = 200) -> Response:
    detail = listings.detail(session, who, listing_id)
    form = extra.pop("form", None) or {"title": "", "description": "", "rows": [
        {"title": "", "sql": "", "epsilon": EXAMPLE_EPSILON} for _ in range(FORM_ROWS)]}
    return render(request, "statistics/office.html", {
        "listing": detail, "odometer": budget.odometer(session, listing_id),
        "published": open_statistics.list(session, listing_id, 200, 0, public=False), "form": form,
        "done": request.query_params.get("done"), **extra}, status=status)


@router.get("/office/listings/{listing_id}/open-statistics", response_class=HTMLResponse)
def office_page(request: Request, listing_id: int, session: PageSession, who: OfficePage) -> Response:
    """Compose open statistics for a published listing: queries, ε each, and the total against the global budget."""
    return _office_page(request, session, who, listing_id, {})


def _body(title: str, description: str, titles: list[str], sqls: list[str], epsilons: list[str]
          ) -> tuple[dict[str, Any], OpenStatisticCreate | DomainError]:
    rows = [{"title": t.strip(), "sql": s.strip(), "epsilon": e.strip()} for t, s, e in zip(titles, sqls, epsilons,
                                                                                             strict=False)]
    form = {"title": title, "description": description, "rows": rows}
    queries = [{**r, "title": r["title"] or r["sql"][:60]} for r in rows if r["sql"]]
    return form, validated(OpenStatisticCreate, {"title": title.strip(), "description": description.strip(),
                                                 "queries": queries})


Rows = Annotated[list[str], Form()]


@router.post("/office/listings/{listing_id}/open-statistics/preview", response_class=HTMLResponse)
def preview(request: Request, listing_id: int, session: PageSession, who: OfficePage,
            title: Annotated[str, Form()] = "", description: Annotated[str, Form()] = "",
            table_title: Rows = [], table_sql: Rows = [], table_epsilon: Rows = []) -> Response:  # noqa: B006
    """The htmx preview: each table's ε and ±, and the total against what is left of the global budget."""
    _, body = _body(title or "—", description, table_title, table_sql, table_epsilon)
    shown = body if isinstance(body, DomainError) else attempt(
        session, partial(open_statistics.preview, session, listing_id, body))
    if isinstance(shown, DomainError):
        return render(request, "statistics/_preview.html", {"error": shown})
    return render(request, "statistics/_preview.html", {"preview": shown})


@router.post("/office/listings/{listing_id}/open-statistics", response_class=HTMLResponse)
def publish(request: Request, listing_id: int, session: PageSession, who: OfficePage,
            title: Annotated[str, Form()] = "", description: Annotated[str, Form()] = "",
            table_title: Rows = [], table_sql: Rows = [], table_epsilon: Rows = []) -> Response:  # noqa: B006
    """Charge the set to the global budget, run it in the sandbox, and show it once released."""
    form, body = _body(title, description, table_title, table_sql, table_epsilon)
    done = body if isinstance(body, DomainError) else attempt(
        session, partial(open_statistics.publish, session, who, listing_id, body))
    if isinstance(done, DomainError):
        return _office_page(request, session, who, listing_id, {"error": done, "form": form}, status=done.status)
    statistic_id, run_ids = done
    jobs.wait_all(run_ids, sync_limit())
    return redirect(f"/office/listings/{listing_id}/open-statistics?done={statistic_id}")
