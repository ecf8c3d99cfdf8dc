"""Pages for everyone: the catalog, a listing, sign-in, enterprise registration, the language switch."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from core.auth import SESSION_COOKIE, Role, authenticate_password
from core.config import get_settings
from core.errors import DomainError
from core.models import User
from core.sso import sso
from core.twofactor import two_factor
from licensing import credit_code
from licensing.disclosure import disclosures
from licensing.schemas import OrganizationRegister
from licensing.service import registrations
from market.service import listings
from sandbox.statistics import open_statistics
from web import i18n
from web.forms import validated
from web.pages.render import attempt, locale_of, redirect, render, safe_next
from web.session import (
    PageSession,
    Viewer,
    check_csrf,
    clear_pending_cookie,
    clear_session_cookie,
    client_address,
    set_pending_cookie,
    set_session_cookie,
    sign_in,
    sign_out,
    start_session,
)

router = APIRouter(include_in_schema=False, dependencies=[Depends(check_csrf)])
HOME = {Role.enterprise: "/enterprise", Role.provider: "/provider", Role.data_office: "/office",
        Role.finance: "/finance", Role.admin: "/admin"}
SORTS = ("relevance", "newest", "title", "price_asc", "price_desc")
CATALOG_PAGE = 24


@router.get("/", response_class=HTMLResponse)
def catalog_page(request: Request, session: PageSession, who: Viewer, q: str = "", grade: str = "",
                 sector: str = "", scenario: str = "", sort: str = "relevance",
                 offset: Annotated[int, Query(ge=0)] = 0) -> Response:
    """The public catalog with search and filters."""
    filters = {"scenario": scenario if scenario in ("public_governance", "public_welfare", "industry") else None,
               "sort": sort if sort in SORTS else "relevance"}
    page = listings.catalog(session, q or None, sector or None, grade or None, CATALOG_PAGE, offset, **filters)
    shown = {"q": q, "grade": grade, "sector": sector, "scenario": scenario, "sort": filters["sort"]}
    return render(request, "public/catalog.html", {"page": page, "form": shown, "sorts": SORTS, "offset": offset,
                                                   "limit": CATALOG_PAGE, "query": urlencode(shown)})


@router.get("/listings/{listing_id}", response_class=HTMLResponse)
def listing_page(request: Request, listing_id: int, session: PageSession, who: Viewer) -> Response:
    """One published listing: grade, dictionary, DP policy, offers, and the licence form for enterprises."""
    entry = listings.catalog_entry(session, listing_id)
    return render(request, "public/listing.html", {"entry": entry, "preview": listings.preview(session, listing_id, 8),
                                                   "open_stats": open_statistics.list(session, listing_id, 20, 0)})


@router.get("/disclosures/{year}", response_class=HTMLResponse)
def disclosure_page(request: Request, session: PageSession, who: Viewer,
                    year: Annotated[int, Path(ge=2000, le=2100)]) -> Response:
    """The annual disclosure: resources authorized, products and prices, licences by scenario, revenue."""
    return render(request, "public/disclosure.html", {"d": disclosures.annual(session, year)})


@router.get("/disclosures", response_class=HTMLResponse)
def this_years_disclosure() -> Response:
    return redirect(f"/disclosures/{datetime.now(i18n.CST).year}")


@router.get("/signin", response_class=HTMLResponse)
def signin_form(request: Request, who: Viewer, next: str | None = None) -> Response:
    return render(request, "public/signin.html", {"next": safe_next(next, ""), "email": ""})


@router.post("/signin", response_class=HTMLResponse)
def signin(request: Request, session: PageSession, email: Annotated[str, Form()],
           password: Annotated[str, Form()], next: Annotated[str, Form()] = "") -> Response:
    """Check the password, then either set the session cookie and go where the person was heading (or home), or
    ask for the second factor (or, where the role requires one and there is none, enrol first)."""
    user = attempt(session, partial(authenticate_password, session, email, password, client_address(request)))
    if isinstance(user, DomainError):
        page = render(request, "public/signin.html", {"error": user, "email": email, "next": next},
                      status=user.status)
        page.headers.update(user.headers)
        return page
    step = two_factor.next_step(session, user)
    if step is not None:
        after = f"?next={quote(safe_next(next, ''))}" if safe_next(next, "") else ""
        response = redirect(("/signin/code" if step == "verify" else "/signin/two-factor") + after)
        set_pending_cookie(response, two_factor.pending(session, user, step))
        return response
    return signed_in_to(session, user, next)


def signed_in_to(session: PageSession, user: User, next: str, sso_identity_id: int | None = None) -> Response:
    """The end of every way of signing in: a session cookie and the page the person was heading for."""
    secret, who = start_session(session, user, sso_identity_id)
    target = safe_next(next, HOME[who.role])
    response = redirect(HOME[who.role] if target.startswith("/signin") else target)
    set_session_cookie(response, secret)
    clear_pending_cookie(response)
    return response


@router.post("/signout")
def signout(request: Request, session: PageSession) -> Response:
    identity = sign_out(session, request.cookies.get(SESSION_COOKIE))
    provider_logout = sso.logout_url(identity)  # came by single sign-on: end the provider's session too
    response = redirect(provider_logout or "/")
    clear_session_cookie(response)
    return response


@router.get("/register", response_class=HTMLResponse)
def register_form(request: Request, who: Viewer) -> Response:
    return render(request, "public/register.html", {"form": {}})


@router.get("/register/credit-code", response_class=HTMLResponse)
def check_credit_code(request: Request, session: PageSession,
                      credit_code_value: Annotated[str, Query(alias="credit_code")] = "") -> Response:
    """The htmx check as the code is typed: the same checks the registration itself makes."""
    code = credit_code_value.strip()
    problem = credit_code.problem(code, locale_of(request)) if code else None
    taken = bool(code) and problem is None and registrations.is_registered(session, code)
    return render(request, "public/_credit_code.html", {"problem": problem, "checked": bool(code), "taken": taken})


@router.post("/register", response_class=HTMLResponse)
def register(request: Request, session: PageSession, name: Annotated[str, Form()],
             credit_code_value: Annotated[str, Form(alias="credit_code")], email: Annotated[str, Form()],
             password: Annotated[str, Form()]) -> Response:
    """Register the enterprise and its first user, then sign that user in."""
    body = validated(OrganizationRegister, {"name": name, "credit_code": credit_code_value,
                                            "admin_email": email, "admin_password": password})
    done = body if isinstance(body, DomainError) else attempt(session, partial(registrations.register, session, body))
    if isinstance(done, DomainError):
        form = {"name": name, "credit_code": credit_code_value, "email": email}
        if done.type == "invalid-credit-code":  # the same check, said in the viewer's language
            done.detail = credit_code.problem(credit_code_value) or done.detail
            done.detail_zh = credit_code.problem(credit_code_value, "zh-CN") or done.detail_zh
        return render(request, "public/register.html", {"form": form, "error": done}, status=done.status)
    secret, _ = sign_in(session, email, password)
    response = redirect("/enterprise?welcome=1")
    set_session_cookie(response, secret)
    return response


@router.get("/lang/{locale}")
def switch_language(locale: str, next: str | None = None) -> Response:
    """Remember the chosen language in a cookie and go back to the page."""
    response = redirect(safe_next(next))
    if locale in i18n.LOCALES:
        response.set_cookie(i18n.LANG_COOKIE, locale, max_age=365 * 24 * 3600, samesite="lax", httponly=True,
                            secure=get_settings().env == "production")
    return response
