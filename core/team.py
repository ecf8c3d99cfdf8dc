"""People inside an enterprise: its organization admin invites analysts (who query) and viewers (who read
results), by an e-mailed one-time link; roles are enforced on every request.

    admin    everything the enterprise may do: apply, pay, query, invite   (the user who registered it)
    analyst  read, and run queries (POST /queries, /queries/preview)
    viewer   read licences, results and payments only

The role caps what a person's requests may do, the same way an API key's scope does (core.scopes), except that
everyone may still look after their own account (password, sessions, notifications, API keys).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, Field
from sqlalchemy import DateTime
from sqlmodel import Field as SQLField
from sqlmodel import Session, SQLModel, col, select

from core.accounts import accounts
from core.audit import Actor, record
from core.auth import Principal, Role, _aware
from core.config import get_settings
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from core.models import Organization, User, ts_column, utcnow
from core.scopes import OrgMember

INVITATION_TTL = timedelta(days=7)


class OrgRole(StrEnum):
    admin = "admin"
    analyst = "analyst"
    viewer = "viewer"




class Invitation(SQLModel, table=True):
    __tablename__ = "invitations"
    id: int | None = SQLField(default=None, primary_key=True)
    organization_id: int = SQLField(foreign_key="organizations.id", index=True)
    email: str = SQLField(max_length=254)
    org_role: str = SQLField(max_length=10)
    token_sha256: str = SQLField(unique=True, max_length=64)
    invited_by: int = SQLField(foreign_key="users.id")
    created_at: datetime = ts_column()
    expires_at: datetime = SQLField(sa_type=DateTime(timezone=True))
    accepted_at: datetime | None = SQLField(default=None, sa_type=DateTime(timezone=True))
    user_id: int | None = SQLField(default=None, foreign_key="users.id")


class InvitationCreate(BaseModel):
    email: str = Field(min_length=3, max_length=254)
    role: OrgRole = Field(description="`analyst` (queries) or `viewer` (reads results); `admin` shares the admin's "
                                      "powers")


class InvitationRead(BaseModel):
    id: int
    email: str
    role: OrgRole
    expires_at: datetime
    accepted_at: datetime | None
    accept_url: str | None = Field(default=None, description="Only when no mail server is configured: hand it over")


class InvitationAccept(BaseModel):
    password: str = Field(min_length=8, max_length=200)


class MemberRead(BaseModel):
    user_id: int
    email: str
    role: OrgRole
    is_active: bool


class MemberRoleUpdate(BaseModel):
    role: OrgRole


class TeamRead(BaseModel):
    members: list[MemberRead]
    invitations: list[InvitationRead]


def member_role(session: Session, user_id: int, role: Role) -> OrgRole | None:
    """The person's role inside their enterprise (None for staff)."""
    if role is not Role.enterprise:
        return None
    row = session.get(OrgMember, user_id)
    return OrgRole(row.org_role) if row else OrgRole.admin


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TeamService:
    def _admin_of(self, session: Session, who: Principal, organization_id: int) -> None:
        if who.organization_id != organization_id or who.role is not Role.enterprise:
            raise NotFound(f"No organization {organization_id} of yours", zh=f"没有您的机构 {organization_id}")
        if member_role(session, who.user_id, who.role) is not OrgRole.admin:
            raise Forbidden("Only the organization's admin manages its people", zh="只有本机构管理员可以管理成员")

    def invite(self, session: Session, who: Principal, organization_id: int, body: InvitationCreate
               ) -> InvitationRead:
        """Invite a colleague by e-mail with a role; the link in the mail works once, for 7 days."""
        self._admin_of(session, who, organization_id)
        email = body.email.strip().lower()
        if "@" not in email:
            raise InvalidInput(f"{email!r} is not an email address", zh=f"{email} 不是有效的邮箱地址")
        if session.exec(select(User).where(User.email == email)).first() is not None:
            raise Conflict(f"{email} has an account already", zh=f"{email} 已有账号")
        token = secrets.token_urlsafe(32)
        invitation = Invitation(organization_id=organization_id, email=email, org_role=body.role.value,
                                token_sha256=_sha256(token), invited_by=who.user_id,
                                expires_at=utcnow() + INVITATION_TTL)
        session.add(invitation)
        session.flush()
        org = session.get(Organization, organization_id)
        assert org is not None
        url = get_settings().base_url.rstrip("/") + f"/invitations/{token}"
        mailed = self._mail(session, email, org.name, body.role, url)
        record(session, who.actor, "organization.invited", "invitation", invitation.id,
               {"email": email, "role": body.role.value})
        return InvitationRead(**self._read(invitation), accept_url=None if mailed else url)

    def _mail(self, session: Session, email: str, org_name: str, role: OrgRole, url: str) -> bool:
        from core.notify import queue_mail

        names = {OrgRole.admin: ("admin", "管理员"), OrgRole.analyst: ("analyst", "分析人员"),
                 OrgRole.viewer: ("viewer", "查看人员")}[role]
        return queue_mail(session, email, f"[数域 Shuyu] 邀请您加入 {org_name} / Join {org_name}",
                          f"{org_name} 邀请您以{names[1]}身份加入数域平台。请在 7 天内打开链接设置密码：\n{url}\n\n"
                          f"{org_name} invites you to Shuyu as {names[0]}. Open the link within 7 days to set "
                          f"your password:\n{url}\n")

    def pending(self, session: Session, token: str) -> Invitation:
        """The invitation behind a link, if it can still be accepted."""
        invitation = session.exec(select(Invitation).where(Invitation.token_sha256 == _sha256(token))).first()
        if invitation is None or invitation.accepted_at is not None or _aware(invitation.expires_at) <= utcnow():
            raise NotFound("This invitation link is unknown, used or expired: ask for a new one",
                           zh="邀请链接无效、已使用或已过期，请联系管理员重新邀请")
        return invitation

    def accept(self, session: Session, token: str, body: InvitationAccept) -> User:
        """Set a password and become a member; the link stops working."""
        invitation = self.pending(session, token)
        org = session.get(Organization, invitation.organization_id)
        assert org is not None
        user = accounts.create_user(session, Actor(None, "enterprise", org.id), invitation.email, body.password,
                                    Role.enterprise, org)
        session.add(OrgMember(user_id=user.id or 0, org_role=invitation.org_role))
        invitation.accepted_at, invitation.user_id = utcnow(), user.id
        session.add(invitation)
        record(session, Actor(user.id, "enterprise", org.id), "organization.invitation_accepted", "invitation",
               invitation.id, {"email": user.email, "role": invitation.org_role})
        return user

    def team(self, session: Session, who: Principal, organization_id: int) -> TeamRead:
        """Members and open invitations (the organization's admin)."""
        self._admin_of(session, who, organization_id)
        people = session.exec(select(User).where(User.organization_id == organization_id)
                              .order_by(col(User.id))).all()
        members = [MemberRead(user_id=u.id or 0, email=u.email, is_active=u.is_active,
                              role=member_role(session, u.id or 0, Role.enterprise) or OrgRole.admin) for u in people]
        invited = session.exec(select(Invitation).where(Invitation.organization_id == organization_id,
                                                        col(Invitation.accepted_at).is_(None))
                               .order_by(col(Invitation.id).desc())).all()
        return TeamRead(members=members, invitations=[InvitationRead(**self._read(i)) for i in invited])

    def set_role(self, session: Session, who: Principal, organization_id: int, user_id: int, role: OrgRole
                 ) -> MemberRead:
        """The organization's admin changes a member's role (a colleague who signed up by single sign-on starts as
        a viewer). Not their own: an organization always keeps the admin who made the change."""
        self._admin_of(session, who, organization_id)
        user = session.get(User, user_id)
        if user is None or user.organization_id != organization_id:
            raise NotFound("No such member of your organization", zh="本单位没有此成员")
        if user_id == who.user_id:
            raise Conflict("You cannot change your own role: ask another admin of your organization",
                           zh="不能修改自己的角色，请由本单位的其他管理员修改")
        before = member_role(session, user_id, Role.enterprise) or OrgRole.admin
        row = session.get(OrgMember, user_id) or OrgMember(user_id=user_id, org_role=before.value)
        row.org_role = role.value
        session.add(row)
        record(session, who.actor, "organization.member_role_changed", "user", user_id,
               {"organization_id": organization_id, "from": before.value, "to": role.value})
        return MemberRead(user_id=user_id, email=user.email, role=role, is_active=user.is_active)

    def _read(self, invitation: Invitation) -> dict[str, object]:
        return {"id": invitation.id or 0, "email": invitation.email, "role": OrgRole(invitation.org_role),
                "expires_at": invitation.expires_at, "accepted_at": invitation.accepted_at}


team = TeamService()
