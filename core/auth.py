"""Passwords, bearer tokens, API keys, roles, and the FastAPI dependencies that name who may call."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from core import scopes
from core.audit import Actor
from core.config import get_settings
from core.db import session_dependency, unit_of_work
from core.errors import Forbidden, NotAuthenticated
from core.models import Credential, Organization, User, utcnow


class Role(StrEnum):
    provider = "provider"
    data_office = "data_office"
    enterprise = "enterprise"
    finance = "finance"
    admin = "admin"


_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, salt_b64, digest_b64 = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    digest = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt_b64), dklen=32, **_SCRYPT)
    return hmac.compare_digest(digest, base64.b64decode(digest_b64))


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_credential(session: Session, user: User, kind: str, name: str = "") -> tuple[Credential, str]:
    """Create a token (expires) or an API key (does not); returns the row and the secret, shown once."""
    prefix = "sy_key_" if kind == "api_key" else "sy_tok_"
    secret = prefix + secrets.token_urlsafe(32)
    expires = None if kind == "api_key" else utcnow() + timedelta(hours=get_settings().token_ttl_hours)
    assert user.id is not None
    cred = Credential(user_id=user.id, kind=kind, name=name, secret_sha256=_sha256(secret), expires_at=expires)
    session.add(cred)
    session.flush()
    return cred, secret


def revoke_token(session: Session, secret: str) -> None:
    """Revoke a sign-in token (never an API key: those are revoked on purpose, one by one)."""
    cred = session.exec(select(Credential).where(Credential.secret_sha256 == _sha256(secret))).first()
    if cred is not None and cred.kind == "token":
        cred.revoked = True
        session.add(cred)


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    user_id: int
    email: str
    role: Role
    organization_id: int
    organization_name: str
    organization_kind: str
    scope: str = scopes.Scope.full  # an API key's scope (core.scopes); sign-in sessions are `full`
    member_scope: str = scopes.Scope.full  # what their role inside an enterprise allows (core.team)

    @property
    def actor(self) -> Actor:
        return Actor(self.user_id, self.role.value, self.organization_id)


def principal_for(session: Session, user: User) -> Principal:
    org = session.get(Organization, user.organization_id)
    assert org is not None and user.id is not None
    return Principal(user.id, user.email, Role(user.role), org.id or 0, org.name, org.kind)


def authenticate_secret(session: Session, secret: str) -> Principal:
    cred = session.exec(select(Credential).where(Credential.secret_sha256 == _sha256(secret))).first()
    if cred is None or cred.revoked:
        raise NotAuthenticated("The token is unknown or revoked: sign in again", zh="登录凭证无效或已注销，请重新登录")
    if cred.expires_at is not None and _aware(cred.expires_at) < utcnow():
        raise NotAuthenticated("The token has expired: sign in again", zh="登录已过期，请重新登录")
    user = session.get(User, cred.user_id)
    if user is None or not user.is_active:
        raise NotAuthenticated("This account is disabled", zh="该账号已停用")
    _mark_used(cred)
    return replace(principal_for(session, user), scope=cred.scope,
                   member_scope=scopes.member_scope(session, user.id or 0, user.role))


LAST_USE_GRANULARITY = timedelta(minutes=1)


def _mark_used(cred: Credential) -> None:
    """Remember when a key or session was last used, to the minute (a busy script writes once a minute).

    Written in its own short transaction: held in the request's, this write would lock SQLite against the
    budget accountant's separate transaction for as long as the query runs."""
    now = utcnow()
    if cred.last_used_at is not None and _aware(cred.last_used_at) >= now - LAST_USE_GRANULARITY:
        return
    with unit_of_work() as own:
        own.execute(update(Credential).where(col(Credential.id) == cred.id)
                    .where(or_(col(Credential.last_used_at).is_(None),
                               col(Credential.last_used_at) < now - LAST_USE_GRANULARITY))
                    .values(last_used_at=now))


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def authenticate_password(session: Session, email: str, password: str) -> User:
    user = session.exec(select(User).where(User.email == email.strip().lower())).first()
    if user is None or not verify_password(password, user.password_hash) or not user.is_active:
        raise NotAuthenticated("Wrong email or password", zh="邮箱或密码错误")
    return user


# scope="function": the unit of work commits (or fails) before the response is sent. With FastAPI's
# default scope it would commit after, so a client could be told 201 for a write that then failed.
SessionDep = Annotated[Session, Depends(session_dependency, scope="function")]

SESSION_COOKIE = "shuyu_session"


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.cookies.get(SESSION_COOKIE)


def optional_principal(request: Request, session: SessionDep) -> Principal | None:
    secret = _bearer(request)
    if not secret:
        return None
    return _allowed(authenticate_secret(session, secret), request)


def _allowed(principal: Principal, request: Request) -> Principal:
    scopes.enforce(principal.scope, request.method, request.url.path)
    scopes.enforce_member(principal.member_scope, request.method, request.url.path)
    return principal


def current_principal(request: Request, session: SessionDep) -> Principal:
    secret = _bearer(request)
    if not secret:
        raise NotAuthenticated("Sign in first: send 'Authorization: Bearer <token>' from POST /api/v1/auth/token")
    return _allowed(authenticate_secret(session, secret), request)


def require(*roles: Role) -> Callable[[Principal], Principal]:
    def dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise Forbidden(f"This needs the role {allowed}; you are signed in as {principal.role.value}",
                            zh=f"此操作需要角色 {allowed}；您当前的角色是 {principal.role.value}")
        return principal

    return dependency


CurrentUser = Annotated[Principal, Depends(current_principal)]
MaybeUser = Annotated[Principal | None, Depends(optional_principal)]
ProviderUser = Annotated[Principal, Depends(require(Role.provider))]
DataOffice = Annotated[Principal, Depends(require(Role.data_office))]
EnterpriseUser = Annotated[Principal, Depends(require(Role.enterprise))]
FinanceUser = Annotated[Principal, Depends(require(Role.finance))]
AdminUser = Annotated[Principal, Depends(require(Role.admin))]
StaffReader = Annotated[Principal, Depends(require(Role.enterprise, Role.data_office, Role.finance))]
