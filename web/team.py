"""Team routes: an enterprise's admin invites colleagues with a role; the invited accept with a password."""

from __future__ import annotations

from fastapi import APIRouter

from core.auth import CurrentUser, SessionDep, principal_for
from core.team import (
    InvitationAccept,
    InvitationCreate,
    InvitationRead,
    MemberRead,
    MemberRoleUpdate,
    TeamRead,
    team,
)
from web.accounts import Me, OrganizationRef

router = APIRouter(tags=["accounts"])


@router.post("/organizations/{organization_id}/invitations", status_code=201, response_model=InvitationRead)
def invite(organization_id: int, body: InvitationCreate, session: SessionDep, who: CurrentUser) -> InvitationRead:
    """The organization's admin invites someone as `analyst` or `viewer` (or `admin`): they get an e-mail with a
    one-time link, valid 7 days, to set their password."""
    return team.invite(session, who, organization_id, body)


@router.get("/organizations/{organization_id}/members", response_model=TeamRead)
def members(organization_id: int, session: SessionDep, who: CurrentUser) -> TeamRead:
    """The organization's people with their roles, and invitations not yet accepted (its admin)."""
    return team.team(session, who, organization_id)


@router.put("/organizations/{organization_id}/members/{user_id}", response_model=MemberRead)
def set_member_role(organization_id: int, user_id: int, body: MemberRoleUpdate, session: SessionDep,
                    who: CurrentUser) -> MemberRead:
    """The organization's admin changes a member's role (`admin`, `analyst`, `viewer`); not their own."""
    return team.set_role(session, who, organization_id, user_id, body.role)


@router.post("/invitations/{token}/accept", status_code=201, response_model=Me)
def accept(token: str, body: InvitationAccept, session: SessionDep) -> Me:
    """Accept an invitation by setting a password; then sign in as usual."""
    user = team.accept(session, token, body)
    who = principal_for(session, user)
    return Me(id=who.user_id, email=who.email, role=who.role.value,
              organization=OrganizationRef(id=who.organization_id, name=who.organization_name,
                                           kind=who.organization_kind))
