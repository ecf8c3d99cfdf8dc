"""Running the accounts: the admin lists, creates, disables and re-enables users (with their last sign-in), and
every person changes their own password and sees and ends their own sign-in sessions.

Disabling a user ends their sessions and API keys at once (core.auth refuses a disabled user's credentials on the
next request, and they are revoked besides, so re-enabling does not bring old ones back). Every change here is in
the audit log.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, Field
from sqlalchemy import DateTime, update
from sqlmodel import Field as SQLField
from sqlmodel import Session, SQLModel, col, func, select

from core.accounts import accounts
from core.audit import Actor, record
from core.auth import Principal, Role, _aware, has_two_factor, hash_password, verify_password
from core.config import get_settings
from core.errors import Conflict, InvalidInput, NotFound
from core.models import Credential, Organization, TwoFactor, User, ts_column, utcnow

RESET_TTL = timedelta(hours=1)


class PasswordReset(SQLModel, table=True):
    """A one-time link to set a new password: only its hash is stored; it works once, for an hour."""

    __tablename__ = "password_resets"
    id: int | None = SQLField(default=None, primary_key=True)
    user_id: int = SQLField(foreign_key="users.id", index=True)
    token_sha256: str = SQLField(unique=True, max_length=64)
    created_at: datetime = ts_column()
    expires_at: datetime = SQLField(sa_type=DateTime(timezone=True))
    used_at: datetime | None = SQLField(default=None, sa_type=DateTime(timezone=True))


class ResetSent(BaseModel):
    sent: bool = Field(description="Whether an e-mail was queued")
    reset_url: str | None = Field(default=None, description="Admin only, when no mail server is configured")


class ResetRequest(BaseModel):
    email: str = Field(min_length=3, max_length=254)


class ResetComplete(BaseModel):
    password: str = Field(min_length=8, max_length=200)


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
    two_factor: bool = Field(default=False, description="Whether the user signs in with a second factor")


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


def _utc(at: datetime | None) -> datetime | None:
    """An aggregate (MAX) bypasses the load hook that makes SQLite timestamps UTC-aware: do it here."""
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


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
        enrolled = set(session.exec(select(TwoFactor.user_id).where(
            col(TwoFactor.user_id).in_(ids), col(TwoFactor.confirmed_at).is_not(None))).all())
        return UserPage(items=[UserRead(id=u.id or 0, email=u.email, role=u.role, organization_id=o.id or 0,
                                        organization_name=o.name, is_active=u.is_active, created_at=u.created_at,
                                        last_sign_in_at=_utc(signed.get(u.id or 0)), two_factor=u.id in enrolled)
                            for u, o in rows],
                        total=int(total))

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
                        last_sign_in_at=_utc(last), two_factor=has_two_factor(session, user))

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


class PasswordResetService:
    def _issue(self, session: Session, user: User) -> tuple[str, bool]:
        token = secrets.token_urlsafe(32)
        session.add(PasswordReset(user_id=user.id or 0, token_sha256=_sha256(token), expires_at=utcnow() + RESET_TTL))
        url = get_settings().base_url.rstrip("/") + f"/reset/{token}"
        from core.notify import queue_mail

        mailed = queue_mail(session, user.email, "[数域 Shuyu] 重设密码 / Reset your password",
                            f"请在 1 小时内打开以下链接设置新密码（仅可使用一次）：\n{url}\n\n"
                            f"Open this link within an hour to set a new password (it works once):\n{url}\n\n"
                            "如果不是您本人或管理员发起的，请忽略本邮件。If you did not ask for this, ignore it.",
                            user_id=user.id)
        return url, mailed

    def send_by_admin(self, session: Session, who: Principal, user_id: int) -> ResetSent:
        """The admin sends a user a one-time link to set a new password."""
        user = accounts.get_user(session, user_id)
        url, mailed = self._issue(session, user)
        record(session, who.actor, "admin.password_reset_sent", "user", user.id, {"email": user.email})
        return ResetSent(sent=mailed, reset_url=None if mailed else url)

    def forgot(self, session: Session, body: ResetRequest) -> None:
        """Anyone asks for a link for an email; the answer is the same whether the account exists or not."""
        user = session.exec(select(User).where(User.email == body.email.strip().lower())).first()
        if user is not None and user.is_active:
            self._issue(session, user)
            record(session, Actor(user.id, user.role, user.organization_id), "user.password_reset_requested",
                   "user", user.id, {})

    def complete(self, session: Session, token: str, body: ResetComplete) -> User:
        """Set the new password from a link; every session of the user ends and the link stops working."""
        reset = session.exec(select(PasswordReset).where(PasswordReset.token_sha256 == _sha256(token))).first()
        if reset is None or reset.used_at is not None or _aware(reset.expires_at) <= utcnow():
            raise NotFound("This reset link is unknown, used or expired: ask for a new one",
                           zh="重设密码链接无效、已使用或已过期，请重新申请")
        user = accounts.get_user(session, reset.user_id)
        user.password_hash = hash_password(body.password)
        reset.used_at = utcnow()
        session.add_all([user, reset])
        session.execute(update(Credential).where(col(Credential.user_id) == user.id, col(Credential.kind) == "token")
                        .values(revoked=True).execution_options(synchronize_session=False))
        record(session, Actor(user.id, user.role, user.organization_id), "user.password_reset", "user", user.id, {})
        return user


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


users = UserAdminService()
resets = PasswordResetService()
