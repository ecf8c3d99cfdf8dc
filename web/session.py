"""Browser sessions: the sign-in cookie, CSRF tokens, and who is looking at a page.

The session cookie holds an ordinary bearer token (`core.auth.issue_credential`), so `core.auth` reads it
like an `Authorization` header. It is HttpOnly and SameSite=Lax (Secure in production). Every form carries
a CSRF token: an HMAC of a random per-browser cookie under a key derived from the master key, so a page on
another site can neither read nor forge it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request, Response
from sqlmodel import Session

from core import scopes
from core.auth import (
    CSRF_COOKIE,
    CSRF_HEADER,
    PENDING_TTL,
    SESSION_COOKIE,
    CsrfRejected,
    Principal,
    Role,
    SessionDep,
    authenticate_password,
    authenticate_secret,
    csrf_matches,
    csrf_signature,
    issue_credential,
    principal_for,
    revoke_token,
)
from core.config import Settings, get_settings
from core.errors import Forbidden, NotAuthenticated
from core.models import User
from market.intake import read_form

CSRF_FIELD = "csrf"


# The same unit of work as the API's: it commits before the response leaves, so a browser following a
# redirect always reads the form's change.
PageSession = SessionDep


class SignInRequired(NotAuthenticated):
    """A page needs a signed-in user; the page handler answers with a redirect to the sign-in form."""


def cookie_flags(settings: Settings) -> dict[str, object]:
    return {"httponly": True, "samesite": "lax", "secure": settings.env == "production", "path": "/"}


def client_address(request: Request) -> str | None:
    """The caller's address, as the throttle counts it (the proxy in front must pass the real one on)."""
    return request.client.host if request.client else None


def sign_in(session: Session, email: str, password: str, address: str | None = None) -> tuple[str, Principal]:
    """Check the password and issue a session token (the cookie's value)."""
    user = authenticate_password(session, email, password, address)
    return start_session(session, user)


def start_session(session: Session, user: User, sso_identity_id: int | None = None) -> tuple[str, Principal]:
    """Issue a session token for someone who has passed every step of signing in (by single sign-on: which
    identity, so that signing out can end the provider's session too)."""
    _, secret = issue_credential(session, user, "token", sso_identity_id=sso_identity_id)
    return secret, principal_for(session, user)


PENDING_COOKIE = "shuyu_pending"  # half-way through signing in: can only give the second factor, or enrol


def set_pending_cookie(response: Response, secret: str) -> None:
    response.set_cookie(PENDING_COOKIE, secret, max_age=int(PENDING_TTL.total_seconds()),
                        **cookie_flags(get_settings()))  # type: ignore[arg-type]


def clear_pending_cookie(response: Response) -> None:
    response.delete_cookie(PENDING_COOKIE, **cookie_flags(get_settings()))  # type: ignore[arg-type]


def sign_out(session: Session, secret: str | None) -> int | None:
    """Revoke the session's token, so a copied cookie stops working too; returns the single sign-on identity
    the session came by, if it did."""
    cred = revoke_token(session, secret) if secret else None
    return cred.sso_identity_id if cred is not None else None


def set_session_cookie(response: Response, secret: str) -> None:
    settings = get_settings()
    response.set_cookie(SESSION_COOKIE, secret, max_age=settings.token_ttl_hours * 3600,
                        **cookie_flags(settings))  # type: ignore[arg-type]


def clear_session_cookie(response: Response) -> None:
    settings = get_settings()
    response.delete_cookie(SESSION_COOKIE, **cookie_flags(settings))  # type: ignore[arg-type]


def csrf_token(request: Request) -> str:
    """The token for this browser's forms; creates the browser's CSRF cookie on its first page."""
    value = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf_cookie", None)
    if not value:
        value = secrets.token_urlsafe(32)
        request.state.new_csrf_cookie = value
    return csrf_signature(value)


def store_csrf_cookie(request: Request, response: Response) -> None:
    """Send the CSRF cookie created while rendering (if any) with the response."""
    value = getattr(request.state, "new_csrf_cookie", None)
    if value:
        response.set_cookie(CSRF_COOKIE, value, **cookie_flags(get_settings()))  # type: ignore[arg-type]


async def check_csrf(request: Request) -> None:
    """Dependency for every page that changes something: the form (or header) must carry this browser's token."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    cookie = request.cookies.get(CSRF_COOKIE)
    sent = request.headers.get(CSRF_HEADER)
    if not cookie:  # refused before the body is read
        raise CsrfRejected("The form expired: reload the page and send it again")
    if sent is None and request.headers.get("content-type", "").startswith("multipart/form-data"):
        sent = (await read_form(request)).fields.get(CSRF_FIELD)  # in memory, never Starlette's spool file
    elif sent is None:
        form = await request.form()
        field = form.get(CSRF_FIELD)
        sent = field if isinstance(field, str) else None
    if not csrf_matches(cookie, sent):
        raise CsrfRejected("The form expired: reload the page and send it again")


def viewer(request: Request, session: PageSession) -> Principal | None:
    """Who is looking, or None. A stale cookie counts as signed out rather than as an error."""
    secret = request.cookies.get(SESSION_COOKIE)
    principal = None
    if secret:
        try:
            principal = authenticate_secret(session, secret)
        except NotAuthenticated:
            principal = None
    if principal is not None and request.method not in scopes.SAFE_METHODS:  # an enterprise viewer only looks
        scopes.enforce_member(principal.member_scope, request.method, request.url.path)
    request.state.viewer = principal
    return principal


def page_role(*roles: Role) -> Callable[[Principal | None], Principal]:
    def dependency(who: Annotated[Principal | None, Depends(viewer)]) -> Principal:
        if who is None:
            raise SignInRequired("Sign in to see this page")
        if who.role not in roles:
            raise Forbidden(f"This page is for the role {', '.join(r.value for r in roles)}; "
                            f"you are signed in as {who.role.value}")
        return who

    return dependency


Viewer = Annotated[Principal | None, Depends(viewer)]
EnterprisePage = Annotated[Principal, Depends(page_role(Role.enterprise))]
ProviderPage = Annotated[Principal, Depends(page_role(Role.provider))]
OfficePage = Annotated[Principal, Depends(page_role(Role.data_office))]
FinancePage = Annotated[Principal, Depends(page_role(Role.finance))]
