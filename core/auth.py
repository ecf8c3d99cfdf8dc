"""Passwords, bearer tokens, API keys, roles, and the FastAPI dependencies that name who may call."""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import Annotated

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, Request
from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core import scopes
from core.audit import Actor, record
from core.config import get_settings, two_factor_required
from core.db import session_dependency, unit_of_work
from core.errors import Forbidden, NotAuthenticated, TooManyAttempts
from core.models import Credential, Organization, SignInThrottle, TwoFactor, User, utcnow


class Role(StrEnum):
    provider = "provider"
    data_office = "data_office"
    enterprise = "enterprise"
    finance = "finance"
    admin = "admin"


_HASHER = PasswordHasher()  # argon2id with argon2-cffi's current defaults (RFC 9106's low-memory profile)
# The test suite creates and signs in thousands of accounts: there (SHUYU_ENV=test only) the same argon2id runs at
# its least cost, which took the suite's hashing from ~0.1-0.7 s to under a millisecond per password.
_TEST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}  # the format before argon2id: still verified, replaced at sign-in


def _hasher() -> PasswordHasher:
    return _TEST_HASHER if get_settings().env == "test" else _HASHER


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches `stored` (argon2id, or the older scrypt format)."""
    if stored.startswith("scrypt$"):
        return _verify_scrypt(password, stored)
    try:
        return _hasher().verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """Whether a verified hash should be replaced: an old format, or argon2 parameters weaker than today's."""
    return stored.startswith("scrypt$") or _hasher().check_needs_rehash(stored)


def _verify_scrypt(password: str, stored: str) -> bool:
    try:
        _, salt_b64, digest_b64 = stored.split("$")
    except ValueError:
        return False
    digest = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt_b64), dklen=32, **_SCRYPT)
    return hmac.compare_digest(digest, base64.b64decode(digest_b64))


@cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


PENDING_TTL = timedelta(minutes=10)


def issue_credential(session: Session, user: User, kind: str, name: str = "",
                     sso_identity_id: int | None = None) -> tuple[Credential, str]:
    """Create a token (expires), an API key (does not) or a `pending` sign-in waiting for its second factor
    (ten minutes; `name` says which step: `verify` or `enrol`); returns the row and the secret, shown once.
    `sso_identity_id` marks a sign-in that came by single sign-on, through the second factor to its session."""
    prefix = {"api_key": "sy_key_", "pending": "sy_pnd_"}.get(kind, "sy_tok_")
    secret = prefix + secrets.token_urlsafe(32)
    ttl = PENDING_TTL if kind == "pending" else timedelta(hours=get_settings().token_ttl_hours)
    expires = None if kind == "api_key" else utcnow() + ttl
    assert user.id is not None
    cred = Credential(user_id=user.id, kind=kind, name=name, secret_sha256=_sha256(secret), expires_at=expires,
                      sso_identity_id=sso_identity_id)
    session.add(cred)
    session.flush()
    return cred, secret


def revoke_token(session: Session, secret: str) -> Credential | None:
    """Revoke a sign-in token (never an API key: those are revoked on purpose, one by one); returns it."""
    cred = session.exec(select(Credential).where(Credential.secret_sha256 == _sha256(secret))).first()
    if cred is not None and cred.kind == "token":
        cred.revoked = True
        session.add(cred)
        return cred
    return None


def sso_identity_of(session: Session, secret: str | None) -> int | None:
    """The single sign-on identity a sign-in (a session token or a pending second step) came by, if any."""
    if not secret:
        return None
    cred = session.exec(select(Credential).where(Credential.secret_sha256 == _sha256(secret))).first()
    return cred.sso_identity_id if cred is not None else None


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
    cred = live_credential(session, secret, ("token", "api_key"))
    user = session.get(User, cred.user_id)
    if user is None or not user.is_active:
        raise NotAuthenticated("This account is disabled", zh="该账号已停用")
    if cred.kind == "token" and two_factor_required(get_settings(), user.role) and not has_two_factor(session, user):
        # A session from before two-factor became required (or an admin reset it): enrol first.
        raise TwoFactorEnrolmentRequired()
    _mark_used(cred)
    return replace(principal_for(session, user), scope=cred.scope,
                   member_scope=scopes.member_scope(session, user.id or 0, user.role))


def live_credential(session: Session, secret: str, kinds: tuple[str, ...]) -> Credential:
    """The unrevoked, unexpired credential of one of these kinds behind a secret, or a 401."""
    cred = session.exec(select(Credential).where(Credential.secret_sha256 == _sha256(secret))).first()
    if cred is None or cred.revoked or cred.kind not in kinds:
        raise NotAuthenticated("The token is unknown or revoked: sign in again", zh="登录凭证无效或已注销，请重新登录")
    if cred.expires_at is not None and _aware(cred.expires_at) < utcnow():
        raise NotAuthenticated("The token has expired: sign in again", zh="登录已过期，请重新登录")
    return cred


class TwoFactorEnrolmentRequired(NotAuthenticated):
    type = "two-factor-enrolment-required"
    title = "Two-factor sign-in must be set up"

    def __init__(self) -> None:
        super().__init__("Your role must sign in with a second factor: sign in in the browser and set up an "
                         "authenticator app first (API keys keep working)",
                         zh="您的角色必须使用双因素登录：请先在浏览器中登录并绑定身份验证器应用（API 密钥不受影响）")


def has_two_factor(session: Session, user: User) -> bool:
    """Whether the user has a confirmed authenticator."""
    row = session.get(TwoFactor, user.id)
    return row is not None and row.confirmed_at is not None


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


# --- Sign-in throttling -----------------------------------------------------------------------------------
# Failures are counted per account (the email, known or not) and per client address in a fixed window; at
# the limit the key is locked out for a while and an audit event says so. Failures are written in a unit
# of work of their own: the sign-in that fails rolls its request back, and the failure must still count.


def throttle_keys(email: str, address: str | None) -> list[str]:
    return [f"account:{email}"[:200]] + ([f"address:{address}"[:200]] if address else [])


def check_throttle(session: Session, keys: list[str]) -> None:
    """429 `too-many-attempts` with the seconds to wait, while any of the keys is locked out."""
    now = utcnow()
    rows = session.exec(select(SignInThrottle).where(col(SignInThrottle.key).in_(keys))).all()
    waits = [(_aware(r.locked_until) - now).total_seconds() for r in rows if r.locked_until is not None]
    wait = max([w for w in waits if w > 0], default=0.0)
    if wait > 0:
        raise TooManyAttempts(math.ceil(wait))


def note_failed_sign_in(keys: list[str]) -> None:
    """Count a failure against each key; lock a key out when its count reaches the limit."""
    settings = get_settings()
    now = utcnow()
    window_start = now - timedelta(seconds=settings.signin_window_seconds)
    with unit_of_work() as session:
        for key in keys:
            kind, _, who = key.partition(":")
            limit = settings.signin_max_failures if kind == "account" else settings.signin_max_failures_per_address
            _count_failure(session, key, now, window_start)
            locked = session.execute(
                update(SignInThrottle)
                .where(col(SignInThrottle.key) == key, col(SignInThrottle.failures) >= limit)
                .values(failures=0, window_started_at=now,
                        locked_until=now + timedelta(seconds=settings.signin_lockout_seconds)))
            if locked.rowcount:  # type: ignore[attr-defined]
                record(session, Actor.system(), "auth.locked_out", kind, who[:64],
                       {"failures": limit, "seconds": settings.signin_lockout_seconds})


def _count_failure(session: Session, key: str, now: datetime, window_start: datetime) -> None:
    """One more failure in the current window (a new window once the last one ended), as conditional UPDATEs
    so concurrent failures all count."""
    counted = session.execute(update(SignInThrottle).where(
        col(SignInThrottle.key) == key, col(SignInThrottle.window_started_at) >= window_start)
        .values(failures=col(SignInThrottle.failures) + 1))
    if counted.rowcount:  # type: ignore[attr-defined]
        return
    restarted = session.execute(update(SignInThrottle).where(col(SignInThrottle.key) == key)
                                .values(failures=1, window_started_at=now))
    if restarted.rowcount:  # type: ignore[attr-defined]
        return
    try:
        with session.begin_nested():
            session.add(SignInThrottle(key=key, failures=1, window_started_at=now))
    except IntegrityError:  # a concurrent failure created the row first
        _count_failure(session, key, now, window_start)


def note_signed_in(session: Session, keys: list[str]) -> None:
    """A correct password clears the account's count (never the address's: one known password must not
    reset an attacker's budget for guessing others). In the caller's unit of work: on SQLite a second
    writer beside a request that already wrote (registration signs its new user in) would wait on itself."""
    session.execute(update(SignInThrottle).where(col(SignInThrottle.key) == keys[0],
                                                 col(SignInThrottle.failures) > 0).values(failures=0))


def authenticate_password(session: Session, email: str, password: str, address: str | None = None) -> User:
    """The user whose password this is, or a 401 that does not say which part was wrong.

    Refused with 429 while the account or the address is locked out (see the throttle above). An unknown email
    costs the same argon2 verification as a known one, so response times do not tell which accounts exist.
    A correct password stored in an older format is re-hashed with argon2id on the spot."""
    email = email.strip().lower()
    keys = throttle_keys(email, address)
    check_throttle(session, keys)
    user = session.exec(select(User).where(User.email == email)).first()
    if user is None:
        verify_password(password, _dummy_hash())
    if user is None or not verify_password(password, user.password_hash) or not user.is_active:
        note_failed_sign_in(keys)
        raise NotAuthenticated("Wrong email or password", zh="邮箱或密码错误")
    note_signed_in(session, keys)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        session.add(user)
    return user


# scope="function": the unit of work commits (or fails) before the response is sent. With FastAPI's
# default scope it would commit after, so a client could be told 201 for a write that then failed.
SessionDep = Annotated[Session, Depends(session_dependency, scope="function")]

SESSION_COOKIE = "shuyu_session"


CSRF_COOKIE = "shuyu_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfRejected(Forbidden):
    type = "csrf-failed"
    title = "The form expired"


def csrf_signature(value: str) -> str:
    """The CSRF token for a browser's random CSRF cookie: an HMAC under a key derived from the master key,
    so a page on another site can neither read nor forge it."""
    key = hmac.new(get_settings().master_key_bytes(), b"shuyu web csrf v1", hashlib.sha256).digest()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def csrf_matches(cookie: str | None, sent: str | None) -> bool:
    return bool(cookie and sent and hmac.compare_digest(sent, csrf_signature(cookie)))


def _bearer(request: Request) -> str | None:
    """The caller's secret: a bearer header (scripts, exempt from CSRF: a browser never adds it by itself),
    or the session cookie, which a state change must back with the page's CSRF token in `X-CSRF-Token`."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie and request.method not in SAFE_METHODS and not csrf_matches(
            request.cookies.get(CSRF_COOKIE), request.headers.get(CSRF_HEADER)):
        raise CsrfRejected("A signed-in browser must send the page's CSRF token (X-CSRF-Token) to change "
                           "anything; scripts should use an API key as a bearer token",
                           zh="浏览器登录状态下的修改请求须附带页面的 CSRF 令牌（X-CSRF-Token）；脚本请使用 API 密钥")
    return cookie


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
