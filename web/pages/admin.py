"""The admin's pages: users with their status and last sign-in, create a staff account, disable or enable one."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from core.auth import Principal, Role
from core.errors import DomainError
from core.twofactor import two_factor
from core.users import UserCreate, resets, users
from web.forms import validated
from web.pages.render import attempt, redirect, render
from web.session import PageSession, check_csrf, page_role

router = APIRouter(prefix="/admin", include_in_schema=False, dependencies=[Depends(check_csrf)])
AdminPage = Annotated[Principal, Depends(page_role(Role.admin))]
STAFF_ROLES = (Role.data_office, Role.finance, Role.provider, Role.admin)


def _users_page(request: Request, session: PageSession, q: str, extra: dict[str, object], status: int = 200
                ) -> Response:
    return render(request, "admin/users.html", {"page": users.page(session, q or None, 500, 0), "q": q,
                                                "roles": STAFF_ROLES, **extra}, status=status)


@router.get("", response_class=HTMLResponse)
def users_page(request: Request, session: PageSession, who: AdminPage, q: str = "") -> Response:
    """Every account with its organization, status and last sign-in."""
    return _users_page(request, session, q, {})


@router.post("/users", response_class=HTMLResponse)
def create_user(request: Request, session: PageSession, who: AdminPage, email: Annotated[str, Form()],
                role: Annotated[str, Form()], password: Annotated[str, Form()],
                org_name: Annotated[str, Form()] = "") -> Response:
    """Create a staff account."""
    body = validated(UserCreate, {"email": email, "role": role, "password": password, "org_name": org_name or None})
    done = body if isinstance(body, DomainError) else attempt(session, partial(users.create, session, who, body))
    if isinstance(done, DomainError):
        return _users_page(request, session, "", {"error": done, "form": {"email": email, "org_name": org_name}},
                           status=done.status)
    return redirect(f"/admin?created={done.id}")


@router.post("/users/{user_id}/reset-password", response_class=HTMLResponse)
def send_reset(request: Request, user_id: int, session: PageSession, who: AdminPage) -> Response:
    """E-mail the user a one-time link to set a new password (shown here when no mail server is configured)."""
    sent = resets.send_by_admin(session, who, user_id)
    return _users_page(request, session, "", {"reset": sent})


@router.post("/users/{user_id}/two-factor/reset")
def reset_two_factor(user_id: int, session: PageSession, who: AdminPage) -> Response:
    """Remove the user's authenticator and recovery codes (a lost phone)."""
    two_factor.reset_by_admin(session, who, user_id)
    return redirect("/admin?two_factor_reset=1")


@router.post("/users/{user_id}/{action}")
def set_active(user_id: int, action: str, session: PageSession, who: AdminPage) -> Response:
    """Disable or enable a user."""
    if action not in ("disable", "enable"):
        return redirect("/admin")
    users.set_active(session, who, user_id, action == "enable")
    return redirect("/admin")
