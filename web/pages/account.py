"""Pages for every signed-in person about their own account: API keys, the notification inbox (and the bell
in the header, an htmx fragment) and which notices they receive."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from core.apikeys import ApiKeyCreate, api_keys
from core.auth import SESSION_COOKIE, Principal
from core.errors import DomainError
from core.notify import PreferenceUpdate, notifications
from core.sso import sso
from core.users import PasswordChange, users
from web.forms import validated
from web.pages.render import attempt, locale_of, redirect, render
from web.session import PageSession, SignInRequired, Viewer, check_csrf

router = APIRouter(prefix="/account", include_in_schema=False, dependencies=[Depends(check_csrf)])


def signed_in(who: Viewer) -> Principal:
    if who is None:
        raise SignInRequired("Sign in to see this page")
    return who


Someone = Annotated[Principal, Depends(signed_in)]


def _keys_page(request: Request, session: PageSession, who: Principal, extra: dict[str, Any],
               status: int = 200) -> Response:
    return render(request, "account/api_keys.html", {"keys": api_keys.list(session, who), **extra}, status=status)


@router.get("/api-keys", response_class=HTMLResponse)
def keys_page(request: Request, session: PageSession, who: Someone) -> Response:
    """Your API keys: scope, expiry, last use; create one (shown once) or revoke one."""
    return _keys_page(request, session, who, {})


@router.post("/api-keys", response_class=HTMLResponse)
def create_key(request: Request, session: PageSession, who: Someone, name: Annotated[str, Form()],
               scope: Annotated[str, Form()] = "read", expires_in_days: Annotated[str, Form()] = "90") -> Response:
    """Create a key and show it this once (the page is not redirected, so the key is never in a URL)."""
    body = validated(ApiKeyCreate, {"name": name, "scope": scope, "expires_in_days": expires_in_days or None})
    done = body if isinstance(body, DomainError) else attempt(session, partial(api_keys.create, session, who, body))
    if isinstance(done, DomainError):
        return _keys_page(request, session, who, {"error": done, "name": name}, status=done.status)
    return _keys_page(request, session, who, {"created": done})


@router.post("/api-keys/{key_id}/revoke")
def revoke_key(key_id: int, session: PageSession, who: Someone) -> Response:
    api_keys.revoke(session, who, key_id)
    return redirect("/account/api-keys?revoked=1")



@router.get("/notifications", response_class=HTMLResponse)
def inbox_page(request: Request, session: PageSession, who: Someone) -> Response:
    """Your notices, newest first, and the choice of what reaches your inbox and your e-mail."""
    return render(request, "account/notifications.html", {
        "page": notifications.inbox(session, who, locale_of(request), False, 100, 0),
        "prefs": notifications.preferences(session, who), "saved": request.query_params.get("saved")})


@router.get("/notifications/bell", response_class=HTMLResponse)
def bell(request: Request, session: PageSession, who: Someone) -> Response:
    """The header's bell with the unread count (loaded by htmx, refreshed every minute)."""
    return render(request, "account/_bell.html", {"unread": notifications.unread(session, who.user_id)})


@router.post("/notifications/{notification_id}/read")
def read_one(notification_id: int, session: PageSession, who: Someone) -> Response:
    """Mark a notice read and follow its link."""
    link = next((n.link for n in notifications.inbox(session, who, "en", False, 200, 0).items
                 if n.id == notification_id), "")
    notifications.mark_read(session, who, notification_id)
    return redirect(link or "/account/notifications")


@router.post("/notifications/read-all")
def read_all(session: PageSession, who: Someone) -> Response:
    notifications.mark_read(session, who, None)
    return redirect("/account/notifications")


@router.post("/notifications/preferences")
async def save_preferences(request: Request, session: PageSession, who: Someone) -> Response:
    """Save the checkboxes: `<kind>:in_app` and `<kind>:email`, present when ticked."""
    form = await request.form()
    choices = [PreferenceUpdate(kind=p.kind, in_app=f"{p.kind}:in_app" in form, email=f"{p.kind}:email" in form)
               for p in notifications.preferences(session, who)]
    notifications.set_preferences(session, who, choices)
    return redirect("/account/notifications?saved=1")


def _security(request: Request, session: PageSession, who: Principal, extra: dict[str, Any],
              status: int = 200) -> Response:
    current = request.cookies.get(SESSION_COOKIE)
    return render(request, "account/security.html", {
        "sessions": users.sessions(session, who, current), "sso": sso.info(),
        "identities": sso.identities(session, who), **extra}, status=status)


@router.get("/security", response_class=HTMLResponse)
def security_page(request: Request, session: PageSession, who: Someone) -> Response:
    """Change your password; see your sessions and end the ones you do not recognise; see the single sign-on
    identities linked to your account, unlink one or link one."""
    query = request.query_params
    return _security(request, session, who, {"changed": query.get("changed"), "linked": query.get("linked"),
                                             "unlinked": query.get("unlinked")})


@router.post("/identities/{identity_id}/unlink")
def unlink_identity(identity_id: int, session: PageSession, who: Someone) -> Response:
    """Unlink an identity: it signs in here no more (nor links itself again by email); its sessions end."""
    sso.unlink(session, who, identity_id)
    return redirect("/account/security?unlinked=1")


@router.post("/identities/link")
def link_identity(session: PageSession, who: Someone) -> Response:
    """Go to the identity provider to link the identity you sign in with there to this account (a POST with the
    form's CSRF token, so no other site can link its own identity to your account)."""
    from web.pages.sso import LINKED, state_redirect

    return state_redirect(*sso.start(LINKED, link_user=who.user_id))


@router.post("/password", response_class=HTMLResponse)
def change_password(request: Request, session: PageSession, who: Someone,
                    current_password: Annotated[str, Form()], new_password: Annotated[str, Form()]) -> Response:
    body = validated(PasswordChange, {"current_password": current_password, "new_password": new_password})
    current = request.cookies.get(SESSION_COOKIE)
    done = body if isinstance(body, DomainError) else attempt(
        session, partial(users.change_password, session, who, body, current))
    if isinstance(done, DomainError):
        return _security(request, session, who, {"error": done}, status=done.status)
    return redirect("/account/security?changed=1")


@router.post("/sessions/{session_id}/end")
def end_session(session_id: int, session: PageSession, who: Someone) -> Response:
    users.end_session(session, who, session_id)
    return redirect("/account/security")
