"""Single sign-on in the browser: `/auth/oidc/login` sends the person to the identity provider, and
`/auth/oidc/callback` brings them back signed in (after the second factor, where one is still needed)."""

from __future__ import annotations

from functools import partial
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from core.config import get_settings
from core.errors import DomainError
from core.sso import STATE_TTL_SECONDS, sso
from core.twofactor import two_factor
from web.pages.public import signed_in_to
from web.pages.render import attempt, redirect, render, safe_next
from web.session import PageSession, Viewer, cookie_flags, set_pending_cookie

router = APIRouter(include_in_schema=False)
STATE_COOKIE = "shuyu_oidc"
LINKED = "/account/security?linked=1"


@router.get("/auth/oidc/login")
def oidc_login(next: str | None = None) -> Response:
    """Start signing in at the identity provider (authorization code + PKCE)."""
    return state_redirect(*sso.start(safe_next(next, "")))


def state_redirect(url: str, state: str) -> Response:
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(STATE_COOKIE, state, max_age=STATE_TTL_SECONDS,
                        **cookie_flags(get_settings()))  # type: ignore[arg-type]
    return response


@router.get("/auth/oidc/callback", response_class=HTMLResponse)
def oidc_callback(request: Request, session: PageSession, who: Viewer) -> Response:
    """The provider sends the person back here with a code; the sign-in finishes like a password's would (or,
    when the round trip was started from the account page, the identity is linked to the signed-in account)."""
    done = attempt(session, partial(sso.finish, session, dict(request.query_params),
                                    request.cookies.get(STATE_COOKIE), who.user_id if who else None))
    if isinstance(done, DomainError):
        page = render(request, "public/signin.html", {"error": done, "email": "", "next": ""}, status=done.status)
        page.delete_cookie(STATE_COOKIE, path="/")
        return page
    result, next_path = done
    step = None if result.provider_mfa else two_factor.next_step(session, result.user)
    response: Response
    if result.linked:
        response = redirect(LINKED)  # linked to the account already signed in: no new session
    elif step is not None:
        after = f"?next={quote(next_path)}" if next_path else ""
        response = redirect(("/signin/code" if step == "verify" else "/signin/two-factor") + after)
        set_pending_cookie(response, two_factor.pending(session, result.user, step, result.identity_id))
    else:
        response = signed_in_to(session, result.user, next_path, result.identity_id)
    response.delete_cookie(STATE_COOKIE, path="/")
    return response
