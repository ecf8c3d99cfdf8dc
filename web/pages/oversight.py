"""Pages of public oversight: the fee schedule (收费公示), filing a complaint or an objection (投诉与异议)
and following it with a tracking code, the data office's complaint desk and security reviews, and the
effectiveness evaluation (效能评估) with what feeds it: operating costs (finance) and ratings (enterprises)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from core.auth import Principal, Role
from core.errors import DomainError
from licensing.disclosure import CST
from licensing.metrics import CeilingCreate, CostCreate, RatingCreate, evaluation
from market import reasons
from market.schemas import ComplaintCreate, ComplaintHandle, SecurityReviewCreate
from market.service import catalog
from market.service import listings as listing_service
from market.service.complaints import complaints
from market.service.security import security_reviews
from web.forms import minor_units, validated
from web.pages.render import attempt, redirect, render
from web.session import EnterprisePage, FinancePage, OfficePage, PageSession, Viewer, check_csrf, page_role

router = APIRouter(include_in_schema=False, dependencies=[Depends(check_csrf)])
DESK_PAGE = 50
CeilingPage = Annotated[Principal, Depends(page_role(Role.data_office, Role.finance))]
DECISION_CODES = {"upheld": reasons.codes_for("uphold_complaint"), "dismissed": reasons.codes_for("dismiss_complaint")}


@router.get("/fees", response_class=HTMLResponse)
def fee_schedule(request: Request, session: PageSession, who: Viewer) -> Response:
    """Every offer on sale, with its price, ceiling, term and what it includes."""
    return render(request, "public/fees.html", {"fees": catalog.fee_schedule(session)})


@router.get("/complaints/new", response_class=HTMLResponse)
def complaint_form(request: Request, session: PageSession, who: Viewer,
                   listing_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
                   registration_code: Annotated[str | None, Query(max_length=32)] = None) -> Response:
    form = {"listing_id": listing_id, "registration_code": registration_code or "", "text": "", "contact": ""}
    return render(request, "public/complaint.html", {"form": form, "subject": _subject(session, listing_id)})


@router.post("/complaints", response_class=HTMLResponse)
def file_complaint(request: Request, session: PageSession, who: Viewer, text: Annotated[str, Form()],
                   listing_id: Annotated[str, Form()] = "", registration_code: Annotated[str, Form()] = "",
                   contact: Annotated[str, Form()] = "") -> Response:
    """File it and show the tracking code; on a refusal, keep what was typed and say why."""
    data = {"listing_id": listing_id.strip() or None, "registration_code": registration_code.strip() or None,
            "text": text, "contact": contact}
    body = validated(ComplaintCreate, data)
    filed = body if isinstance(body, DomainError) else attempt(session, lambda: complaints.file(session, who, body))
    if isinstance(filed, DomainError):
        subject = _subject(session, int(listing_id)) if listing_id.strip().isdigit() else None
        return render(request, "public/complaint.html", {"form": data, "subject": subject, "error": filed},
                      status=filed.status)
    return redirect(f"/complaints/track/{filed.tracking_code}?filed=1")


@router.get("/complaints/track/{tracking_code}", response_class=HTMLResponse)
def track(request: Request, session: PageSession, who: Viewer,
          tracking_code: Annotated[str, Path(max_length=64)], filed: bool = False) -> Response:
    status = complaints.track(session, tracking_code)
    return render(request, "public/complaint_status.html", {"c": status, "code": tracking_code, "filed": filed})


@router.get("/office/complaints", response_class=HTMLResponse)
def desk(request: Request, session: PageSession, who: OfficePage, status: str = "open",
         offset: Annotated[int, Query(ge=0)] = 0, done: int | None = None) -> Response:
    """Complaints and objections to handle (or handled), newest first."""
    shown = status if status in ("open", "handled") else None
    page = complaints.list(session, shown, DESK_PAGE, offset)
    return render(request, "office/complaints.html", {"page": page, "status": shown or "", "offset": offset,
                                                      "limit": DESK_PAGE, "codes": DECISION_CODES, "done": done})


@router.post("/office/complaints/{complaint_id}", response_class=HTMLResponse)
def handle(request: Request, session: PageSession, who: OfficePage,
           complaint_id: Annotated[int, Path(ge=1, le=2**62)], decision: Annotated[str, Form()] = "",
           reason_code: Annotated[str, Form()] = "", reply: Annotated[str, Form()] = "") -> Response:
    body = validated(ComplaintHandle, {"decision": decision, "reason_code": reason_code, "reply": reply})
    done = body if isinstance(body, DomainError) else attempt(
        session, lambda: complaints.handle(session, who, complaint_id, body))
    if isinstance(done, DomainError):
        page = complaints.list(session, "open", DESK_PAGE, 0)
        return render(request, "office/complaints.html", {
            "page": page, "status": "open", "offset": 0, "limit": DESK_PAGE, "codes": DECISION_CODES,
            "error": done, "failed": complaint_id}, status=done.status)
    return redirect(f"/office/complaints?done={complaint_id}")


def _subject(session: PageSession, listing_id: int | None) -> str | None:
    if listing_id is None:
        return None
    try:
        return listing_service.catalog_entry(session, listing_id).title
    except DomainError:
        return None


@router.get("/office/listings/{listing_id}/security-reviews", response_class=HTMLResponse)
def security_review_panel(request: Request, session: PageSession, who: OfficePage,
                          listing_id: Annotated[int, Path(ge=1, le=2**62)]) -> Response:
    """The reviews so far and the form for the next (a panel of the review page, or a page of its own)."""
    template = "office/_security_review.html" if request.headers.get("hx-request") else "office/security_review.html"
    return render(request, template, _security_context(session, who, listing_id))


@router.post("/office/listings/{listing_id}/security-reviews", response_class=HTMLResponse)
def record_security_review(request: Request, session: PageSession, who: OfficePage,
                           listing_id: Annotated[int, Path(ge=1, le=2**62)], risk_level: Annotated[str, Form()] = "",
                           findings: Annotated[str, Form()] = "", decision: Annotated[str, Form()] = "") -> Response:
    body = validated(SecurityReviewCreate, {"risk_level": risk_level, "findings": findings, "decision": decision})
    done = body if isinstance(body, DomainError) else attempt(
        session, lambda: security_reviews.add(session, who, listing_id, body))
    if isinstance(done, DomainError):
        return render(request, "office/security_review.html",
                      {**_security_context(session, who, listing_id), "error": done}, status=done.status)
    return redirect(f"/office/listings/{listing_id}#security-review")


def _security_context(session: PageSession, who: Principal, listing_id: int) -> dict[str, Any]:
    listing = listing_service.detail(session, who, listing_id)
    return {"reviews": security_reviews.list(session, listing_id), "listing_id": listing_id,
            "open_for_review": listing.status == "submitted" or (listing.revision is not None
                                                                 and listing.revision.status == "submitted")}


@router.get("/metrics", response_class=HTMLResponse)
def metrics_page(request: Request, session: PageSession, who: Viewer,
                 year: Annotated[int | None, Query(ge=2000, le=2100)] = None) -> Response:
    """The effectiveness evaluation: the year's totals for everyone, each month with charts for the office."""
    shown = year or datetime.now(CST).year
    result = evaluation.year(session, who, shown)
    net = [(p.revenue_minor - p.costs_minor) / 100 for p in result.months]
    return render(request, "public/metrics.html", {"m": result, "year": shown, "net": net})


@router.get("/finance/costs", response_class=HTMLResponse)
def costs_page(request: Request, session: PageSession, who: FinancePage,
               year: Annotated[int | None, Query(ge=2000, le=2100)] = None) -> Response:
    shown = year or datetime.now(CST).year
    return render(request, "finance/costs.html", {"costs": evaluation.costs(session, shown), "year": shown,
                                                  "month": datetime.now(CST).strftime("%Y-%m")})


@router.post("/finance/costs", response_class=HTMLResponse)
def record_cost(request: Request, session: PageSession, who: FinancePage, month: Annotated[str, Form()] = "",
                category: Annotated[str, Form()] = "", amount: Annotated[str, Form()] = "",
                note: Annotated[str, Form()] = "") -> Response:
    """Record a month's operating cost; an amount like "-500" corrects an earlier line."""
    minor = _signed_minor(amount)
    body = minor if isinstance(minor, DomainError) else validated(CostCreate, {
        "month": month, "category": category, "amount_minor": minor, "note": note})
    done = body if isinstance(body, DomainError) else attempt(session, lambda: evaluation.add_cost(session, who, body))
    if isinstance(done, DomainError):
        year = int(month[:4]) if month[:4].isdigit() else datetime.now(CST).year
        return render(request, "finance/costs.html", {
            "costs": evaluation.costs(session, year), "year": year, "month": month, "error": done,
            "form": {"category": category, "amount": amount, "note": note}}, status=done.status)
    return redirect(f"/finance/costs?year={month[:4]}")


@router.get("/enterprise/licences/{license_id}/rating", response_class=HTMLResponse)
def rating_panel(request: Request, session: PageSession, who: EnterprisePage,
                 license_id: Annotated[int, Path(ge=1, le=2**62)]) -> Response:
    """The rating panel of a licence page: the form after first use, or the rating given."""
    licence, given = evaluation.rating_of(session, who, license_id)
    return render(request, "enterprise/_rating.html", {"lic": licence, "given": given})


@router.post("/enterprise/licences/{license_id}/rating", response_class=HTMLResponse)
def rate(request: Request, session: PageSession, who: EnterprisePage,
         license_id: Annotated[int, Path(ge=1, le=2**62)], score: Annotated[str, Form()] = "",
         comment: Annotated[str, Form()] = "") -> Response:
    body = validated(RatingCreate, {"score": score, "comment": comment})
    done = body if isinstance(body, DomainError) else attempt(
        session, lambda: evaluation.rate(session, who, license_id, body))
    if isinstance(done, DomainError):
        return render(request, "enterprise/rating.html", {"license_id": license_id, "error": done},
                      status=done.status)
    return redirect(f"/enterprise/licences/{license_id}?rated=1")


def _signed_minor(amount: str) -> int | DomainError:
    """'1,234.50' → 123450 fen; a leading minus makes a correction."""
    text = amount.strip()
    try:
        return -minor_units(text[1:], "amount") if text.startswith("-") else minor_units(text, "amount")
    except DomainError as exc:
        return exc


@router.get("/ceiling", response_class=HTMLResponse)
def ceiling_page(request: Request, session: PageSession, who: CeilingPage) -> Response:
    """Revenue against the approved ceiling, year by year; the data office sets the ceiling here."""
    return render(request, "finance/ceiling.html", {"report": evaluation.ceilings(session, datetime.now(CST).year),
                                                    "year": datetime.now(CST).year})


@router.post("/ceiling", response_class=HTMLResponse)
def set_ceiling(request: Request, session: PageSession, who: OfficePage, year: Annotated[str, Form()] = "",
                ceiling: Annotated[str, Form()] = "", basis: Annotated[str, Form()] = "") -> Response:
    minor = _signed_minor(ceiling)
    body = minor if isinstance(minor, DomainError) else validated(CeilingCreate, {
        "year": year, "ceiling_minor": minor, "basis": basis})
    done = body if isinstance(body, DomainError) else attempt(session, lambda: evaluation.set_ceiling(session, who,
                                                                                                      body))
    if isinstance(done, DomainError):
        return render(request, "finance/ceiling.html", {
            "report": evaluation.ceilings(session, datetime.now(CST).year), "year": datetime.now(CST).year,
            "error": done, "form": {"year": year, "ceiling": ceiling, "basis": basis}}, status=done.status)
    return redirect("/ceiling")
