"""Two-factor routes: your own authenticator (enrol, confirm, renew recovery codes, turn off) and the admin's reset."""

from __future__ import annotations

from fastapi import APIRouter, Response

from core.accounts import accounts
from core.auth import AdminUser, CurrentUser, SessionDep
from core.twofactor import CodeBody, Enrolment, RecoveryCodes, TwoFactorStatus, two_factor

router = APIRouter(tags=["two-factor"])


@router.get("/me/two-factor", response_model=TwoFactorStatus)
def status(session: SessionDep, who: CurrentUser) -> TwoFactorStatus:
    """Whether your two-factor sign-in is on, whether your role requires it, and recovery codes left."""
    return two_factor.status(session, accounts.get_user(session, who.user_id))


@router.post("/me/two-factor/enrolment", status_code=201, response_model=Enrolment)
def start(session: SessionDep, who: CurrentUser) -> Enrolment:
    """Start enrolling an authenticator app: a new secret, its otpauth URI and QR code (SVG). Not on until
    confirmed with a first code; 409 when two-factor is already on."""
    return two_factor.start(session, accounts.get_user(session, who.user_id))


@router.post("/me/two-factor/enrolment/confirm", response_model=RecoveryCodes)
def confirm(body: CodeBody, session: SessionDep, who: CurrentUser) -> RecoveryCodes:
    """Confirm the enrolment with the app's current code: two-factor is on; the ten recovery codes are shown
    this once. 422 `two-factor-code-wrong` for a wrong code."""
    return two_factor.confirm(session, accounts.get_user(session, who.user_id), body.code)


@router.post("/me/two-factor/recovery-codes", response_model=RecoveryCodes)
def renew_codes(body: CodeBody, session: SessionDep, who: CurrentUser) -> RecoveryCodes:
    """Ten new recovery codes (the old ones stop working); needs a current code."""
    return two_factor.new_recovery_codes(session, accounts.get_user(session, who.user_id), body.code)


@router.post("/me/two-factor/disable", status_code=204)
def disable(body: CodeBody, session: SessionDep, who: CurrentUser) -> Response:
    """Turn two-factor sign-in off with a current code; 409 where your role requires it."""
    two_factor.disable(session, accounts.get_user(session, who.user_id), body.code)
    return Response(status_code=204)


@router.post("/admin/users/{user_id}/two-factor/reset", status_code=204)
def reset(user_id: int, session: SessionDep, who: AdminUser) -> Response:
    """Remove a user's authenticator and recovery codes (a lost phone); audited."""
    two_factor.reset_by_admin(session, who, user_id)
    return Response(status_code=204)
