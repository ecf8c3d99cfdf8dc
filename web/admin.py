"""Administration routes (admin role) and every person's own password and sessions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from core.auth import AdminUser, CurrentUser, SessionDep, _bearer
from core.sso import IdentityRead, sso
from core.users import (
    PasswordChange,
    ResetComplete,
    ResetRequest,
    ResetSent,
    SessionRead,
    UserCreate,
    UserPage,
    UserRead,
    resets,
    users,
)

router = APIRouter(tags=["administration"])


@router.get("/admin/users", response_model=UserPage)
def list_users(session: SessionDep, who: AdminUser, q: str | None = None,
               limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Annotated[int, Query(ge=0)] = 0) -> UserPage:
    """Every user with organization, status and last sign-in; `q` searches emails."""
    return users.page(session, q, limit, offset)


@router.post("/admin/users", status_code=201, response_model=UserRead)
def create_user(body: UserCreate, session: SessionDep, who: AdminUser) -> UserRead:
    """Create a staff account (provider users need `org_name`, their department)."""
    return users.create(session, who, body)


@router.post("/admin/users/{user_id}/disable", response_model=UserRead)
def disable_user(user_id: int, session: SessionDep, who: AdminUser) -> UserRead:
    """Disable a user: their sessions and API keys stop working at once."""
    return users.set_active(session, who, user_id, False)


@router.post("/admin/users/{user_id}/enable", response_model=UserRead)
def enable_user(user_id: int, session: SessionDep, who: AdminUser) -> UserRead:
    """Re-enable a user (they sign in again; old sessions and keys stay revoked)."""
    return users.set_active(session, who, user_id, True)


@router.post("/me/password", status_code=204)
def change_password(request: Request, body: PasswordChange, session: SessionDep, who: CurrentUser) -> Response:
    """Change your password; your other sessions end."""
    users.change_password(session, who, body, _bearer(request))
    return Response(status_code=204)


@router.get("/me/sessions", response_model=list[SessionRead])
def my_sessions(request: Request, session: SessionDep, who: CurrentUser) -> list[SessionRead]:
    """Your signed-in sessions; `current` marks the one making this request."""
    return users.sessions(session, who, _bearer(request))


@router.delete("/me/sessions/{session_id}", status_code=204)
def end_session(session_id: int, session: SessionDep, who: CurrentUser) -> Response:
    """End one of your sessions."""
    users.end_session(session, who, session_id)
    return Response(status_code=204)


@router.get("/me/identities", response_model=list[IdentityRead])
def my_identities(session: SessionDep, who: CurrentUser) -> list[IdentityRead]:
    """The single sign-on identities linked to your account (issuer, email, linked at, last sign-in)."""
    return sso.identities(session, who)


@router.delete("/me/identities/{identity_id}", status_code=204)
def unlink_identity(identity_id: int, session: SessionDep, who: CurrentUser) -> Response:
    """Unlink one: it can no longer sign in here nor link itself again by email (link it again from the account
    page); the sessions it opened end."""
    sso.unlink(session, who, identity_id)
    return Response(status_code=204)


@router.post("/admin/users/{user_id}/reset-password", response_model=ResetSent)
def send_reset(user_id: int, session: SessionDep, who: AdminUser) -> ResetSent:
    """E-mail the user a one-time link (valid one hour) to set a new password."""
    return resets.send_by_admin(session, who, user_id)


@router.post("/auth/password-reset", status_code=202, response_class=Response)
def forgot_password(body: ResetRequest, session: SessionDep) -> Response:
    """Ask for a reset link by e-mail; the answer never says whether the account exists."""
    resets.forgot(session, body)
    return Response(status_code=202)


@router.post("/auth/password-reset/{token}", status_code=204)
def reset_password(token: str, body: ResetComplete, session: SessionDep) -> Response:
    """Set a new password from an e-mailed link; all of the user's sessions end."""
    resets.complete(session, token, body)
    return Response(status_code=204)
