"""Data-office pages: the review queue, a listing's review, licence approvals and sanctions, the audit log."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from core import audit
from core import audit_log as audit_log_service
from core.audit_log import AuditFilter
from core.auth import Principal
from core.errors import DomainError, NotFound
from licensing.disclosure import due as disclosure_due
from licensing.schemas import LicenseAction, LicenseReview
from licensing.service import budget, license_service
from market import reasons
from market.schemas import GradeChange, ReviewCreate, TransitionCreate
from market.service import listings
from market.service.versions import versions
from web.forms import built, minor_units
from web.i18n import CST
from web.pages.render import attempt, redirect, render
from web.session import OfficePage, PageSession, check_csrf

router = APIRouter(prefix="/office", include_in_schema=False, dependencies=[Depends(check_csrf)])
AUDIT_PAGE = 50
AUDIT_EXPORT = 100_000
REVIEW_DECISIONS = ("approve", "request_changes", "reject")
TRANSITIONS = ("suspend", "resume", "pause_ordering", "resume_ordering", "retire")
LICENCE_ACTIONS = {"suspend": license_service.suspend, "resume": license_service.resume,
                   "revoke": license_service.revoke}


def _titles(session: Session, who: Principal, listing_ids: set[int]) -> dict[int, Any]:
    return {i: listings.detail(session, who, i) for i in listing_ids}


@router.get("", response_class=HTMLResponse)
def home(request: Request, session: PageSession, who: OfficePage) -> Response:
    """What waits for the data office: listings to review, and licences on important data with their purpose."""
    queue = listings.list(session, who, None, True, 200, 0)
    pending = license_service.list(session, who, "pending_approval", 200, 0)
    return render(request, "office/home.html", {
        "queue": queue, "pending": pending, "entries": _titles(session, who, {lic.listing_id for lic in pending.items}),
        "disclosure_due": disclosure_due(datetime.now(CST).date()),
        "done": request.query_params.get("done")})


@router.get("/listings", response_class=HTMLResponse)
def all_listings(request: Request, session: PageSession, who: OfficePage, status: str | None = None) -> Response:
    """Every listing past draft, filtered by status."""
    page = listings.list(session, who, status or None, False, 500, 0)
    return render(request, "office/listings.html", {"page": page, "status": status or ""})


def _review_page(request: Request, session: Session, who: Principal, listing_id: int, extra: dict[str, Any],
                 status: int = 200) -> Response:
    detail = listings.detail(session, who, listing_id)
    odometer = budget.odometer(session, listing_id) if detail.published_at is not None else None
    return render(request, "office/review.html", {
        "listing": detail, "odometer": odometer, "decisions": REVIEW_DECISIONS, "transitions": TRANSITIONS,
        "preview": listings.review_preview(session, who, listing_id),
        "codes": {action: reasons.codes_for(action) for action in (*REVIEW_DECISIONS, *TRANSITIONS,
                                                                   "raise_grade", "lower_grade")},
        "done": request.query_params.get("done"), **extra}, status=status)


@router.get("/listings/{listing_id}", response_class=HTMLResponse)
def review_page(request: Request, listing_id: int, session: PageSession, who: OfficePage) -> Response:
    """A listing under review: what changed, the checks' flags, its dictionary, offers, reviews and history."""
    return _review_page(request, session, who, listing_id, {})


def _decided(request: Request, session: Session, who: Principal, listing_id: int, call: Any) -> Response:
    done = attempt(session, call)
    if isinstance(done, DomainError):
        return _review_page(request, session, who, listing_id, {"error": done}, status=done.status)
    return redirect(f"/office/listings/{listing_id}?done={done.status}")


@router.post("/listings/{listing_id}/review", response_class=HTMLResponse)
def review_listing(request: Request, listing_id: int, session: PageSession, who: OfficePage,
                   decision: Annotated[str, Form()], grade: Annotated[str, Form()] = "",
                   reason_code: Annotated[str, Form()] = "", comment: Annotated[str, Form()] = "",
                   ceiling_price: Annotated[str, Form()] = "", sector: Annotated[str, Form()] = "",
                   global_epsilon_cap: Annotated[str, Form()] = "",
                   enterprise_epsilon_cap: Annotated[str, Form()] = "") -> Response:
    """Record a review decision with its grade, reason code, comment and (if given) the dataset's ε caps."""
    def decide() -> Any:
        caps = {"global_epsilon_cap": global_epsilon_cap.strip() or None,
                "enterprise_epsilon_cap": enterprise_epsilon_cap.strip() or None}
        policy = ({**listings.detail(session, who, listing_id).dp_policy.model_dump(), **caps}
                  if any(caps.values()) else None)
        body = built(ReviewCreate, {
            "decision": decision, "grade": grade or None, "reason_code": reason_code.strip() or None,
            "comment": comment, "sector": sector.strip() or None, "dp_policy": policy,
            "ceiling_price_minor": minor_units(ceiling_price, "Ceiling price") if ceiling_price.strip() else None})
        return listings.review(session, who, listing_id, body)

    return _decided(request, session, who, listing_id, decide)


@router.post("/listings/{listing_id}/transition", response_class=HTMLResponse)
def transition(request: Request, listing_id: int, session: PageSession, who: OfficePage,
               action: Annotated[str, Form()], reason_code: Annotated[str, Form()] = "",
               comment: Annotated[str, Form()] = "") -> Response:
    """Suspend, resume, pause or resume ordering, or retire a live listing."""
    body = {"action": action, "reason_code": reason_code, "comment": comment}
    return _decided(request, session, who, listing_id,
                    lambda: listings.transition(session, who, listing_id, built(TransitionCreate, body)))


@router.post("/listings/{listing_id}/grade", response_class=HTMLResponse)
def change_grade(request: Request, listing_id: int, session: PageSession, who: OfficePage,
                 grade: Annotated[str, Form()], reason_code: Annotated[str, Form()] = "",
                 comment: Annotated[str, Form()] = "") -> Response:
    """Raise a live listing's grade at once, or open a review to lower it."""
    body = {"grade": grade, "reason_code": reason_code, "comment": comment}
    return _decided(request, session, who, listing_id,
                    lambda: listings.change_grade(session, who, listing_id, built(GradeChange, body)))


@router.get("/datasets/{dataset_id}/quality", response_class=HTMLResponse)
def quality_page(request: Request, dataset_id: int, session: PageSession, who: OfficePage,
                 version: int | None = None) -> Response:
    """A dataset version's quality report (counts only), as its provider sees it."""
    report = versions.quality(session, who, dataset_id, version)
    return render(request, "provider/quality.html", {"report": report, "versions": []})


@router.get("/licences", response_class=HTMLResponse)
def licences(request: Request, session: PageSession, who: OfficePage, status: str | None = None) -> Response:
    """Every licence, with suspend, resume and revoke."""
    page = license_service.list(session, who, status or None, 500, 0)
    return render(request, "office/licences.html", {
        "page": page, "status": status or "", "entries": _titles(session, who, {lic.listing_id for lic in page.items}),
        "done": request.query_params.get("done")})


@router.post("/licences/{license_id}/review", response_class=HTMLResponse)
def review_licence(request: Request, license_id: int, session: PageSession, who: OfficePage,
                   decision: Annotated[str, Form()], comment: Annotated[str, Form()] = "",
                   reason_code: Annotated[str, Form()] = "") -> Response:
    """Approve or reject a licence on important data, or a free licence's eligibility."""
    license_service.review(session, who, license_id, built(LicenseReview, {
        "decision": decision, "comment": comment, "reason_code": reason_code or None}))
    return redirect(f"/office?done={license_id}")


@router.post("/licences/{license_id}/{action}", response_class=HTMLResponse)
def sanction(request: Request, license_id: int, action: str, session: PageSession, who: OfficePage,
             reason: Annotated[str, Form()]) -> Response:
    """Suspend, resume or revoke a licence, with the reason the enterprise will read."""
    if action not in LICENCE_ACTIONS:
        raise NotFound(f"No licence action {action!r}")
    LICENCE_ACTIONS[action](session, who, license_id, built(LicenseAction, {"reason": reason}))
    return redirect(f"/office/licences?done={license_id}")


def _audit_filter(request: Request) -> tuple[AuditFilter, dict[str, str]]:
    params = {k: request.query_params.get(k, "").strip() for k in ("actor", "action", "subject_type", "subject_id",
                                                                   "from", "to", "q")}
    start, end = (_day(params["from"]), _day(params["to"], 1))
    return AuditFilter(actor=params["actor"] or None, action=params["action"] or None,
                       subject_type=params["subject_type"] or None, subject_id=params["subject_id"] or None,
                       start=start, end=end, q=params["q"] or None), params


def _day(text: str, plus: int = 0) -> datetime | None:
    """A day typed as 2026-11-29, from Beijing midnight (to: up to the end of that day)."""
    try:
        return datetime.combine(date.fromisoformat(text), time(), CST) + timedelta(days=plus) if text else None
    except ValueError:
        return None


@router.get("/audit", response_class=HTMLResponse)
def audit_log(request: Request, session: PageSession, who: OfficePage,
              offset: Annotated[int, Query(ge=0)] = 0, verify: bool = False) -> Response:
    """The audit log, newest first, filtered by who, what, object and date, searched; on request, the
    verification of the whole hash chain."""
    where, params = _audit_filter(request)
    events, total = audit_log_service.search(session, where, AUDIT_PAGE, offset)
    verdict = audit.verify(session) if verify else None
    query = urlencode({k: v for k, v in params.items() if v})
    return render(request, "office/audit.html", {
        "events": events, "total": total, "offset": offset, "limit": AUDIT_PAGE, "verdict": verdict,
        "actors": audit_log_service.actors(session, events), "actions": audit_log_service.actions(session),
        "params": params, "query": query})


@router.get("/audit.csv")
def audit_csv(request: Request, session: PageSession, who: OfficePage) -> Response:
    """The filtered audit log as CSV (UTF-8 with BOM, so spreadsheet programs read the Chinese)."""
    where, _ = _audit_filter(request)
    events, _ = audit_log_service.search(session, where, AUDIT_EXPORT, 0)
    names = audit_log_service.actors(session, events)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["seq", "at_beijing", "actor_email", "actor_organization", "actor_role", "action",
                     "subject_type", "subject_id", "data", "hash"])
    for e in events:
        who_ = names.get(e.actor_user_id or 0)
        writer.writerow([e.seq, e.at.astimezone(CST).isoformat(), who_.email if who_ else "",
                         who_.organization if who_ else "", e.actor_role or "", e.action, e.subject_type,
                         e.subject_id, json.dumps(audit_log_service.exact(e.data), ensure_ascii=False,
                                                  sort_keys=True), e.hash])
    return Response("\ufeff" + buffer.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'})


