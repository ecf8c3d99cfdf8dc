"""Account routes: sign-in tokens, the caller's identity, and the audit chain check (API keys: web/apikeys.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from pydantic import BaseModel

from core import audit
from core.auth import CurrentUser, DataOffice, SessionDep, authenticate_password, issue_credential
from core.twofactor import two_factor

router = APIRouter(tags=["accounts"])


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"


class OrganizationRef(BaseModel):
    id: int
    name: str
    kind: str


class Me(BaseModel):
    id: int
    email: str
    role: str
    organization: OrganizationRef


@router.post("/auth/token", response_model=Token)
def token(request: Request, session: SessionDep, username: Annotated[str, Form()],
          password: Annotated[str, Form()], otp: Annotated[str | None, Form(max_length=20)] = None) -> Token:
    """OAuth2 password flow: `username` is the email. Repeated failures for an account or from an address
    lock it out for a while: 429 `too-many-attempts` with `Retry-After`. With two-factor on, `otp` carries the
    authenticator's current code (or a recovery code): without it 401 `two-factor-required`, wrong 422
    `two-factor-code-wrong` (counted like a wrong password). A role that must use two factors and has not
    enrolled gets 401 `two-factor-enrolment-required`. API keys need none of this."""
    address = request.client.host if request.client else None
    user = authenticate_password(session, username, password, address)
    two_factor.check_for_token(session, user, otp, address)
    _, secret = issue_credential(session, user, "token")
    return Token(access_token=secret)


@router.get("/me", response_model=Me)
def me(who: CurrentUser) -> Me:
    """Who you are signed in as."""
    return Me(id=who.user_id, email=who.email, role=who.role.value,
              organization=OrganizationRef(id=who.organization_id, name=who.organization_name,
                                           kind=who.organization_kind))


@router.get("/audit/verify")
def verify_audit(session: SessionDep, who: DataOffice) -> dict[str, Any]:
    """Re-hash the whole audit chain; report its length and head, or the first broken link."""
    return audit.verify(session).as_dict()
