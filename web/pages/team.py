"""Team pages: the enterprise admin's members and invitations, and the page where an invited person sets their
password (then they are signed in)."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from core.errors import DomainError
from core.team import InvitationAccept, InvitationCreate, MemberRoleUpdate, team
from web.forms import validated
from web.pages.render import attempt, redirect, render
from web.session import EnterprisePage, PageSession, check_csrf, set_session_cookie, sign_in

router = APIRouter(include_in_schema=False, dependencies=[Depends(check_csrf)])


def _team_page(request: Request, session: PageSession, who: EnterprisePage, extra: dict[str, object],
               status: int = 200) -> Response:
    return render(request, "enterprise/team.html", {"team": team.team(session, who, who.organization_id), **extra},
                  status=status)


@router.get("/enterprise/team", response_class=HTMLResponse)
def team_page(request: Request, session: PageSession, who: EnterprisePage) -> Response:
    """Members with their roles; invite a colleague as analyst or viewer."""
    return _team_page(request, session, who, {"changed": request.query_params.get("changed")})


@router.post("/enterprise/team/invitations", response_class=HTMLResponse)
def invite(request: Request, session: PageSession, who: EnterprisePage, email: Annotated[str, Form()],
           role: Annotated[str, Form()]) -> Response:
    body = validated(InvitationCreate, {"email": email, "role": role})
    done = body if isinstance(body, DomainError) else attempt(
        session, partial(team.invite, session, who, who.organization_id, body))
    if isinstance(done, DomainError):
        return _team_page(request, session, who, {"error": done, "email": email}, status=done.status)
    return _team_page(request, session, who, {"invited": done})


@router.post("/enterprise/team/members/{user_id}/role", response_class=HTMLResponse)
def set_role(request: Request, user_id: int, session: PageSession, who: EnterprisePage,
             role: Annotated[str, Form()]) -> Response:
    """Change a colleague's role."""
    body = validated(MemberRoleUpdate, {"role": role})
    done = body if isinstance(body, DomainError) else attempt(
        session, partial(team.set_role, session, who, who.organization_id, user_id, body.role))
    if isinstance(done, DomainError):
        return _team_page(request, session, who, {"error": done}, status=done.status)
    return redirect("/enterprise/team?changed=1")


@router.get("/invitations/{token}", response_class=HTMLResponse)
def accept_form(request: Request, token: str, session: PageSession) -> Response:
    """Set a password to join (a used or expired link says so)."""
    invitation = team.pending(session, token)
    return render(request, "public/invitation.html", {"invitation": invitation, "token": token})


@router.post("/invitations/{token}", response_class=HTMLResponse)
def accept(request: Request, token: str, session: PageSession, password: Annotated[str, Form()]) -> Response:
    body = validated(InvitationAccept, {"password": password})
    done = body if isinstance(body, DomainError) else attempt(session, partial(team.accept, session, token, body))
    if isinstance(done, DomainError):
        invitation = team.pending(session, token)
        return render(request, "public/invitation.html", {"invitation": invitation, "token": token, "error": done},
                      status=done.status)
    secret, _ = sign_in(session, done.email, password)
    response = redirect("/enterprise?welcome=1")
    set_session_cookie(response, secret)
    return response
