"""Two-factor pages: the code asked after the password, and enrolling an authenticator — from the account menu,
or straight after the password when the role requires two factors and has none (a pending sign-in that can do
nothing else)."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from core.accounts import accounts
from core.auth import sso_identity_of
from core.errors import DomainError, NotAuthenticated
from core.models import User
from core.twofactor import two_factor
from web.pages.account import Someone
from web.pages.public import signed_in_to
from web.pages.render import attempt, redirect, render, safe_next
from web.session import PENDING_COOKIE, PageSession, check_csrf, client_address

router = APIRouter(include_in_schema=False, dependencies=[Depends(check_csrf)])
ACCOUNT, SIGNIN = "/account/two-factor", "/signin/two-factor"


@router.get("/signin/code", response_class=HTMLResponse)
def code_form(request: Request, session: PageSession, next: str = "") -> Response:
    """The second step of signing in: the authenticator's code (or a recovery code)."""
    two_factor.pending_user(session, request.cookies.get(PENDING_COOKIE), "verify")
    return render(request, "public/signin_code.html", {"next": safe_next(next, "")})


@router.post("/signin/code", response_class=HTMLResponse)
def verify_code(request: Request, session: PageSession, code: Annotated[str, Form(max_length=40)],
                next: Annotated[str, Form()] = "") -> Response:
    came_by = sso_identity_of(session, request.cookies.get(PENDING_COOKIE))
    user = attempt(session, partial(two_factor.finish, session, request.cookies.get(PENDING_COOKIE), code,
                                    client_address(request)))
    if isinstance(user, NotAuthenticated):  # no sign-in waiting (spent, expired): start again
        return redirect("/signin" + (f"?next={quote(safe_next(next, ''))}" if safe_next(next, "") else ""))
    if isinstance(user, DomainError):
        page = render(request, "public/signin_code.html", {"error": user, "next": next}, status=user.status)
        page.headers.update(user.headers)
        return page
    return signed_in_to(session, user, next, came_by)


def _page(request: Request, session: PageSession, user: User, base: str, extra: dict[str, Any],
          status: int = 200) -> Response:
    context: dict[str, Any] = {"status": two_factor.status(session, user), "base": base,
                               "next": request.query_params.get("next", ""), **extra}
    if not context["status"].enabled and "enrolment" not in context:
        context["enrolment"] = two_factor.waiting(session, user)
    return render(request, "account/two_factor.html", context, status=status)


def _pending(request: Request, session: PageSession) -> User:
    return two_factor.pending_user(session, request.cookies.get(PENDING_COOKIE), "enrol")


PendingUser = Annotated[User, Depends(_pending)]


@router.get(ACCOUNT, response_class=HTMLResponse)
def account_page(request: Request, session: PageSession, who: Someone) -> Response:
    """Your two-factor sign-in: set up an authenticator, renew recovery codes, or turn it off."""
    return _page(request, session, accounts.get_user(session, who.user_id), ACCOUNT, {})


@router.get(SIGNIN, response_class=HTMLResponse)
def signin_enrol_page(request: Request, session: PageSession, user: PendingUser) -> Response:
    """Your role must sign in with two factors: enrol before anything else."""
    return _page(request, session, user, SIGNIN, {"must": True})


def _start(request: Request, session: PageSession, user: User, base: str) -> Response:
    done = attempt(session, partial(two_factor.start, session, user))
    if isinstance(done, DomainError):
        return _page(request, session, user, base, {"error": done}, status=done.status)
    return _page(request, session, user, base, {"enrolment": done})


@router.post(ACCOUNT + "/start", response_class=HTMLResponse)
def account_start(request: Request, session: PageSession, who: Someone) -> Response:
    return _start(request, session, accounts.get_user(session, who.user_id), ACCOUNT)


@router.post(SIGNIN + "/start", response_class=HTMLResponse)
def signin_start(request: Request, session: PageSession, user: PendingUser) -> Response:
    return _start(request, session, user, SIGNIN)


def _confirm(request: Request, session: PageSession, user: User, base: str, code: str) -> Response | list[str]:
    done = attempt(session, partial(two_factor.confirm, session, user, code))
    if isinstance(done, DomainError):
        return _page(request, session, user, base, {"error": done}, status=done.status)
    return done.codes


@router.post(ACCOUNT + "/confirm", response_class=HTMLResponse)
def account_confirm(request: Request, session: PageSession, who: Someone,
                    code: Annotated[str, Form(max_length=40)]) -> Response:
    """Confirm with a first code: two-factor is on and the recovery codes are shown, this once."""
    user = accounts.get_user(session, who.user_id)
    codes = _confirm(request, session, user, ACCOUNT, code)
    if isinstance(codes, Response):
        return codes
    return _page(request, session, user, ACCOUNT, {"codes": codes, "continue_to": ACCOUNT})


@router.post(SIGNIN + "/confirm", response_class=HTMLResponse)
def signin_confirm(request: Request, session: PageSession, user: PendingUser,
                   code: Annotated[str, Form(max_length=40)], next: Annotated[str, Form()] = "") -> Response:
    """Confirm the enrolment and finish signing in; the recovery codes are shown on the way, this once."""
    codes = _confirm(request, session, user, SIGNIN, code)
    if isinstance(codes, Response):
        return codes
    came_by = sso_identity_of(session, request.cookies.get(PENDING_COOKIE))
    two_factor.end_pending(session, request.cookies.get(PENDING_COOKIE))
    signed = signed_in_to(session, user, next, came_by)
    page = _page(request, session, user, SIGNIN, {"codes": codes, "continue_to": signed.headers["location"]})
    for header, value in signed.raw_headers:
        if header == b"set-cookie":
            page.raw_headers.append((header, value))
    return page


@router.post(ACCOUNT + "/recovery-codes", response_class=HTMLResponse)
def renew_codes(request: Request, session: PageSession, who: Someone,
                code: Annotated[str, Form(max_length=40)]) -> Response:
    """Ten new recovery codes (the old ones stop working); needs a current code."""
    user = accounts.get_user(session, who.user_id)
    done = attempt(session, partial(two_factor.new_recovery_codes, session, user, code))
    if isinstance(done, DomainError):
        return _page(request, session, user, ACCOUNT, {"error": done}, status=done.status)
    return _page(request, session, user, ACCOUNT, {"codes": done.codes, "continue_to": ACCOUNT})


@router.post(ACCOUNT + "/disable", response_class=HTMLResponse)
def disable(request: Request, session: PageSession, who: Someone, code: Annotated[str, Form(max_length=40)]
            ) -> Response:
    """Turn two-factor sign-in off with a current code (not where the role requires it)."""
    user = accounts.get_user(session, who.user_id)
    done = attempt(session, partial(two_factor.disable, session, user, code))
    if isinstance(done, DomainError):
        return _page(request, session, user, ACCOUNT, {"error": done}, status=done.status)
    return redirect(ACCOUNT + "?off=1")
