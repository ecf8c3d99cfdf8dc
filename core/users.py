"""Running the accounts: the admin lists, creates, disables and re-enables users (with their last sign-in), and
every person changes their own password and sees and ends their own sign-in sessions.

Disabling a user ends their sessions and API keys at once (core.auth refuses a disabled user's credentials on the
next request, and they are revoked besides, so re-enabling does not bring old ones back). Every change here is in
the audit log.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import update
from sqlmodel import Session, col, func, select

from core.accounts import accounts
from core.audit import record
from core.auth import Principal, Role, _aware, hash_password, verify_password
from core.errors import Conflict, InvalidInput, NotFound
from core.models import Credential, Organization, User, utcnow


class UserCreate(BaseModel):
    email: str = Field(min_length=3, max_length=254)
    role: Role
    password: str = Field(min_length=8, max_length=200)
    org_name: str | None = Field(default=None, max_length=200, description="providers: their department")


class UserRead(BaseModel):
    id: int
    email: str
    role: str
    organization_id: int
    organization_name: str
    is_active: bool
    created_at: datetime
    last_sign_in_at: datetime | None


class UserPage(BaseModel):
    items: list[UserRead]
    total: int


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=8, max_length=200)


class SessionRead(BaseModel):
    id: int
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    current: bool


class UserAdminService:
    def page(self, session: Session, q: str | None, limit: int, offset: int) -> UserPage:
        """Users, newest first, with their organization and last sign-in; `q` filters on the email."""
        query = select(User, Organization).join(Organization, col(Organization.id) == User.organization_id)
        if q:
            query = query.where(col(User.email).contains(q.strip().lower()))
        total = session.exec(select(func.count()).select_from(query.subquery())).one()
        rows = session.exec(query.order_by(col(User.id).desc()).limit(limit).offset(offset)).all()
        ids = [user.id for user, _ in rows]
        signed = dict(session.exec(select(Credential.user_id, func.max(Credential.created_at))
                                   .where(col(Credential.user_id).in_(ids), Credential.kind == "token")
                                   .group_by(col(Credential.user_id))).all())
        return UserPage(items=[UserRead(id=u.id or 0, email=u.email, role=u.role, organization_id=o.id or 0,
                                        organization_name=o.name, is_active=u.is_active, created_at=u.created_at,
                                        last_sign_in_at=signed.get(u.id or 0)) for u, o in rows], total=int(total))

    def create(self, session: Session, who: Principal, body: UserCreate) -> UserRead:
        """A staff account (enterprises register themselves and invite their colleagues)."""
        user = accounts.create_staff(session, body.email, body.password, body.role, body.org_name)
        record(session, who.actor, "admin.user_created", "user", user.id, {"email": user.email, "role": user.role})
        return self._read(session, user)

    def set_active(self, session: Session, who: Principal, user_id: int, active: bool) -> UserRead:
        """Disable (sessions and keys end at once) or re-enable a user."""
        user = accounts.get_user(session, user_id)
        if user.id == who.user_id and not active:
            raise Conflict("You cannot disable your own account", zh="不能停用自己的账号")
        user.is_active = active
        session.add(user)
        if not active:
            session.execute(update(Credential).where(col(Credential.user_id) == user.id)
                            .values(revoked=True).execution_options(synchronize_session=False))
        record(session, who.actor, "admin.user_enabled" if active else "admin.user_disabled", "user", user.id,
               {"email": user.email})
        return self._read(session, user)

    def _read(self, session: Session, user: User) -> UserRead:
        org = session.get(Organization, user.organization_id)
        assert org is not None
        last = session.exec(select(func.max(Credential.created_at)).where(
            Credential.user_id == user.id, Credential.kind == "token")).one()
        return UserRead(id=user.id or 0, email=user.email, role=user.role, organization_id=org.id or 0,
                        organization_name=org.name, is_active=user.is_active, created_at=user.created_at,
                        last_sign_in_at=last)

    def change_password(self, session: Session, who: Principal, body: PasswordChange, current_secret: str | None
                        ) -> None:
        """Change your password (knowing the current one); every other session of yours ends."""
        user = accounts.get_user(session, who.user_id)
        if not verify_password(body.current_password, user.password_hash):
            raise InvalidInput("The current password is wrong", zh="当前密码不正确")
        if body.new_password == body.current_password:
            raise InvalidInput("The new password must differ from the current one", zh="新密码不能与当前密码相同")
        user.password_hash = hash_password(body.new_password)
        session.add(user)
        keep = _sha256(current_secret) if current_secret else ""
        session.execute(update(Credential).where(col(Credential.user_id) == user.id, col(Credential.kind) == "token",
                                                 col(Credential.secret_sha256) != keep)
                        .values(revoked=True).execution_options(synchronize_session=False))
        record(session, who.actor, "user.password_changed", "user", user.id, {})

    def sessions(self, session: Session, who: Principal, current_secret: str | None) -> list[SessionRead]:
        """Your signed-in sessions that still work, newest first; `current` is the one asking."""
        now = utcnow()
        current = _sha256(current_secret) if current_secret else ""
        rows = session.exec(select(Credential).where(Credential.user_id == who.user_id, Credential.kind == "token",
                                                     col(Credential.revoked).is_(False))
                            .order_by(col(Credential.id).desc())).all()
        return [SessionRead(id=c.id or 0, created_at=c.created_at, expires_at=c.expires_at,
                            last_used_at=c.last_used_at, current=c.secret_sha256 == current)
                for c in rows if c.expires_at is None or _aware(c.expires_at) > now]

    def end_session(self, session: Session, who: Principal, session_id: int) -> None:
        """End one of your sessions (a copied cookie stops working too)."""
        cred = session.get(Credential, session_id)
        if cred is None or cred.kind != "token" or cred.user_id != who.user_id:
            raise NotFound(f"No session {session_id} of yours", zh=f"没有您的会话 {session_id}")
        cred.revoked = True
        session.add(cred)
        record(session, who.actor, "user.session_ended", "credential", cred.id, {})


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


users = UserAdminService()
