"""Two-factor sign-in: TOTP (RFC 6238, with pyotp) and one-time recovery codes.

Enrolment stores a fresh secret unconfirmed and shows it as a QR code drawn here (segno, inline SVG: no outside
service ever sees the secret); the first right code confirms it and yields ten recovery codes, shown once and
stored as keyed hashes. A code is accepted for the current 30-second step or the one either side, and only if its
step is later than the last one accepted: a conditional UPDATE records the step, so a code seen over someone's
shoulder (or sent twice at once) cannot be used again. A recovery code is spent the same way.

Signing in with a password alone gives an enrolled person a `pending` credential (core.auth) that can only be
exchanged, with a code, for a session; a person whose role must use two factors (core.config) and has none gets a
pending credential that can only enrol. Wrong codes count against the sign-in throttle like wrong passwords.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time

import pyotp
import segno
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import BaseModel, Field
from sqlalchemy import delete, update
from sqlmodel import Session, col, func, select

from core.accounts import accounts
from core.audit import Actor, record
from core.auth import (
    Principal,
    TwoFactorEnrolmentRequired,
    check_throttle,
    has_two_factor,
    issue_credential,
    live_credential,
    note_failed_sign_in,
    note_signed_in,
    throttle_keys,
)
from core.config import get_settings, two_factor_required
from core.errors import Conflict, InvalidInput, NotAuthenticated
from core.models import Credential, RecoveryCode, TwoFactor, User, utcnow

RECOVERY_CODES = 10
STEP_SECONDS = 30
_SEAL_INFO = b"shuyu totp secret v1"
_RECOVERY_INFO = b"shuyu recovery code v1"


class TwoFactorStatus(BaseModel):
    enabled: bool
    required: bool = Field(description="Whether your role must use a second factor here")
    recovery_codes_left: int


class Enrolment(BaseModel):
    secret: str = Field(description="Base32, for typing into an authenticator app by hand")
    otpauth_uri: str
    qr_svg: str = Field(description="The same URI as a QR code, an inline SVG element")


class RecoveryCodes(BaseModel):
    codes: list[str] = Field(description="Shown once: each signs in once when the authenticator is lost")


class CodeBody(BaseModel):
    code: str = Field(min_length=6, max_length=20, description="A 6-digit code, or a recovery code")


class WrongCode(InvalidInput):
    type = "two-factor-code-wrong"
    title = "Wrong code"


class TwoFactorRequired(NotAuthenticated):
    type = "two-factor-required"
    title = "A second factor is needed"


def _key(info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(
        get_settings().master_key_bytes())


def _seal(secret: str) -> str:
    nonce = os.urandom(12)
    return base64.b64encode(nonce + AESGCM(_key(_SEAL_INFO)).encrypt(nonce, secret.encode(), _SEAL_INFO)).decode()


def _open(sealed: str) -> str:
    raw = base64.b64decode(sealed)
    return AESGCM(_key(_SEAL_INFO)).decrypt(raw[:12], raw[12:], _SEAL_INFO).decode()


def _recovery_hash(code: str) -> str:
    normal = code.strip().lower().replace("-", "").replace(" ", "")
    return hmac.new(_key(_RECOVERY_INFO), normal.encode(), hashlib.sha256).hexdigest()


def _new_recovery_code() -> str:
    raw = base64.b32encode(secrets.token_bytes(10)).decode().lower()  # 80 bits
    return "-".join(raw[i:i + 4] for i in range(0, 16, 4))


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step (current, previous or next) whose TOTP code this is, or None."""
    code = code.strip().replace(" ", "")
    if not (code.isascii() and code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    step = int((time.time() if now is None else now) // STEP_SECONDS)
    for candidate in (step - 1, step, step + 1):
        if hmac.compare_digest(totp.at(candidate * STEP_SECONDS), code):
            return candidate
    return None


class TwoFactorService:
    def status(self, session: Session, user: User) -> TwoFactorStatus:
        left = session.exec(select(func.count()).select_from(RecoveryCode).where(
            RecoveryCode.user_id == user.id, col(RecoveryCode.used_at).is_(None))).one()
        return TwoFactorStatus(enabled=has_two_factor(session, user), required=self.required(user),
                               recovery_codes_left=int(left))

    def required(self, user: User) -> bool:
        return two_factor_required(get_settings(), user.role)

    def start(self, session: Session, user: User) -> Enrolment:
        """A fresh secret, unconfirmed until a first right code (a second start replaces it)."""
        row = session.get(TwoFactor, user.id)
        if row is not None and row.confirmed_at is not None:
            raise Conflict("Two-factor sign-in is already on: turn it off first to enrol another authenticator",
                           zh="双因素登录已启用：如需更换身份验证器，请先停用")
        secret = pyotp.random_base32()
        row = row or TwoFactor(user_id=user.id or 0, secret_sealed="")
        row.secret_sealed, row.last_step, row.created_at = _seal(secret), None, utcnow()
        session.add(row)
        record(session, _actor(user), "user.two_factor_enrolment_started", "user", user.id, {})
        return _enrolment(user, secret)

    def waiting(self, session: Session, user: User) -> Enrolment | None:
        """The enrolment started and not yet confirmed, shown again (a wrong first code, a reload)."""
        row = session.get(TwoFactor, user.id)
        return None if row is None or row.confirmed_at is not None else _enrolment(user, _open(row.secret_sealed))

    def confirm(self, session: Session, user: User, code: str) -> RecoveryCodes:
        """Confirm the enrolment with a first code; returns the recovery codes (shown once)."""
        row = session.get(TwoFactor, user.id)
        if row is None or row.confirmed_at is not None:
            raise Conflict("There is no enrolment waiting: start one first", zh="没有待确认的绑定，请先开始绑定")
        if not self._spend_step(session, row, code):
            raise WrongCode("That code is not right: check the authenticator app's clock and enter the current code",
                            zh="验证码不正确：请检查身份验证器的时间，并输入当前显示的验证码")
        row.confirmed_at = utcnow()
        session.add(row)
        codes = self._new_recovery_codes(session, user)
        record(session, _actor(user), "user.two_factor_enabled", "user", user.id, {})
        return RecoveryCodes(codes=codes)

    def new_recovery_codes(self, session: Session, user: User, code: str) -> RecoveryCodes:
        """Replace the recovery codes (the old ones stop working); needs a current code."""
        self._require_code(session, user, code)
        codes = self._new_recovery_codes(session, user)
        record(session, _actor(user), "user.two_factor_recovery_codes_renewed", "user", user.id, {})
        return RecoveryCodes(codes=codes)

    def disable(self, session: Session, user: User, code: str) -> None:
        """Turn two-factor off with a current code (or a recovery code); refused where the role requires it."""
        if self.required(user):
            raise Conflict("Your role must sign in with a second factor: it cannot be turned off (an admin can "
                           "reset it if the authenticator is lost)",
                           zh="您的角色必须使用双因素登录，不能停用（如身份验证器丢失，可请管理员重置）")
        self._require_code(session, user, code)
        self._remove(session, user)
        record(session, _actor(user), "user.two_factor_disabled", "user", user.id, {})

    def reset_by_admin(self, session: Session, who: Principal, user_id: int) -> None:
        """An admin removes a user's authenticator and recovery codes (a lost phone); their next sign-in
        enrols again where the role requires it."""
        user = accounts.get_user(session, user_id)
        had = has_two_factor(session, user)
        self._remove(session, user)
        record(session, who.actor, "admin.two_factor_reset", "user", user.id, {"email": user.email, "had": had})

    def verify(self, session: Session, user: User, code: str) -> str | None:
        """Spend a TOTP code or a recovery code: `totp`, `recovery`, or None when it is neither."""
        row = session.get(TwoFactor, user.id)
        if row is None or row.confirmed_at is None:
            return None
        if self._spend_step(session, row, code):
            return "totp"
        spent = session.execute(update(RecoveryCode).where(
            col(RecoveryCode.user_id) == user.id, col(RecoveryCode.code_hash) == _recovery_hash(code),
            col(RecoveryCode.used_at).is_(None)).values(used_at=utcnow()))
        if spent.rowcount:  # type: ignore[attr-defined]
            record(session, _actor(user), "user.two_factor_recovery_code_used", "user", user.id, {})
            return "recovery"
        return None

    # --- sign-in -------------------------------------------------------------------------------------------

    def next_step(self, session: Session, user: User) -> str | None:
        """After a right password: `verify` (ask for a code), `enrol` (must enrol first) or None (signed in)."""
        if has_two_factor(session, user):
            return "verify"
        return "enrol" if self.required(user) else None

    def pending(self, session: Session, user: User, step: str, sso_identity_id: int | None = None) -> str:
        """A ten-minute credential that can only finish this step of the sign-in (the page's cookie); it
        remembers the single sign-on identity the sign-in came by, for the session it becomes."""
        _, secret = issue_credential(session, user, "pending", name=step, sso_identity_id=sso_identity_id)
        return secret

    def pending_user(self, session: Session, secret: str | None, step: str) -> User:
        """The person half-way through signing in, for this step, or a 401."""
        if not secret:
            raise NotAuthenticated("Sign in with your password first", zh="请先用密码登录")
        cred = live_credential(session, secret, ("pending",))
        if cred.name != step:
            raise NotAuthenticated("Sign in with your password first", zh="请先用密码登录")
        user = session.get(User, cred.user_id)
        if user is None or not user.is_active:
            raise NotAuthenticated("This account is disabled", zh="该账号已停用")
        return user

    def finish(self, session: Session, secret: str | None, code: str, address: str | None) -> User:
        """The second step: a right code turns the pending sign-in into a session (the caller issues it).
        Wrong codes count against the throttle for the account and the address, like wrong passwords."""
        user = self.pending_user(session, secret, "verify")
        keys = throttle_keys(user.email, address)
        method = self._counted(session, user, code, keys)
        note_signed_in(session, keys)
        self.end_pending(session, secret)
        record(session, _actor(user), "auth.two_factor_passed", "user", user.id, {"method": method})
        return user

    def check_for_token(self, session: Session, user: User, code: str | None, address: str | None) -> None:
        """The API's password flow: the second factor travels with the password (`otp`)."""
        step = self.next_step(session, user)
        if step == "enrol":
            raise TwoFactorEnrolmentRequired()
        if step is None:
            return
        if not code:
            raise TwoFactorRequired("This account signs in with a second factor: send the authenticator's current "
                                    "code as `otp`",
                                    zh="该账号启用了双因素登录：请在 otp 字段中提供身份验证器的当前验证码")
        method = self._counted(session, user, code, throttle_keys(user.email, address))
        record(session, _actor(user), "auth.two_factor_passed", "user", user.id, {"method": method, "via": "api"})

    def _counted(self, session: Session, user: User, code: str, keys: list[str]) -> str:
        check_throttle(session, keys)
        method = self.verify(session, user, code)
        if method is None:
            session.rollback()  # on SQLite the failed conditional UPDATEs hold the write lock the count needs
            note_failed_sign_in(keys)
            raise WrongCode("That code is not right (or was already used): enter the current code from your "
                            "authenticator app, or a recovery code",
                            zh="验证码不正确或已使用：请输入身份验证器当前显示的验证码，或一个恢复码")
        return method

    def end_pending(self, session: Session, secret: str | None) -> None:
        if secret:
            session.execute(update(Credential).where(
                col(Credential.secret_sha256) == hashlib.sha256(secret.encode()).hexdigest(),
                col(Credential.kind) == "pending").values(revoked=True).execution_options(synchronize_session=False))

    # --- pieces --------------------------------------------------------------------------------------------

    def _spend_step(self, session: Session, row: TwoFactor, code: str) -> bool:
        step = matching_step(_open(row.secret_sealed), code)
        if step is None:
            return False
        # Conditional: two requests with the same code cannot both see an older last_step.
        done = session.execute(update(TwoFactor).where(
            col(TwoFactor.user_id) == row.user_id,
            (col(TwoFactor.last_step).is_(None)) | (col(TwoFactor.last_step) < step))
            .values(last_step=step).execution_options(synchronize_session=False))
        if not done.rowcount:  # type: ignore[attr-defined]
            return False
        row.last_step = step
        return True

    def _require_code(self, session: Session, user: User, code: str) -> None:
        """A current code to change the second factor: wrong ones count against the account like at sign-in, so a
        borrowed session cannot guess its way to turning two-factor off."""
        self._counted(session, user, code, throttle_keys(user.email, None))

    def _new_recovery_codes(self, session: Session, user: User) -> list[str]:
        session.execute(delete(RecoveryCode).where(col(RecoveryCode.user_id) == user.id))
        codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
        session.add_all([RecoveryCode(user_id=user.id or 0, code_hash=_recovery_hash(c)) for c in codes])
        return codes

    def _remove(self, session: Session, user: User) -> None:
        session.execute(delete(RecoveryCode).where(col(RecoveryCode.user_id) == user.id))
        session.execute(delete(TwoFactor).where(col(TwoFactor.user_id) == user.id))
        session.expire_all()


def _enrolment(user: User, secret: str) -> Enrolment:
    uri = pyotp.TOTP(secret, interval=STEP_SECONDS).provisioning_uri(
        name=user.email, issuer_name=get_settings().two_factor_issuer)
    svg = segno.make(uri, error="m").svg_inline(scale=5, dark="#111", light="#fff", title="otpauth QR")
    return Enrolment(secret=secret, otpauth_uri=uri, qr_svg=svg)


def _actor(user: User) -> Actor:
    return Actor(user.id, user.role, user.organization_id)


two_factor = TwoFactorService()
