"""Account routes: sign-in tokens, the caller's identity, API keys, and the audit chain check."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from pydantic import BaseModel, Field

from core import audit
from core.accounts import accounts
from core.auth import CurrentUser, DataOffice, SessionDep, authenticate_password, issue_credential

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


class ApiKeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)


class ApiKeyRead(BaseModel):
    id: int
    name: str
    key: str = Field(description="Shown once; only its hash is stored")


@router.post("/auth/token", response_model=Token)
def token(request: Request, session: SessionDep, username: Annotated[str, Form()],
          password: Annotated[str, Form()]) -> Token:
    """OAuth2 password flow: `username` is the email. Repeated failures for an account or from an address
    lock it out for a while: 429 `too-many-attempts` with `Retry-After`."""
    user = authenticate_password(session, username, password, request.client.host if request.client else None)
    _, secret = issue_credential(session, user, "token")
    return Token(access_token=secret)


@router.get("/me", response_model=Me)
def me(who: CurrentUser) -> Me:
    """Who you are signed in as."""
    return Me(id=who.user_id, email=who.email, role=who.role.value,
              organization=OrganizationRef(id=who.organization_id, name=who.organization_name,
                                           kind=who.organization_kind))


@router.post("/api-keys", status_code=201, response_model=ApiKeyRead)
def create_api_key(body: ApiKeyCreate, session: SessionDep, who: CurrentUser) -> ApiKeyRead:
    """An API key for scripts; send it as a bearer token. It is shown only in this response."""
    user = accounts.get_user(session, who.user_id)
    cred, secret = issue_credential(session, user, "api_key", body.name)
    audit.record(session, who.actor, "api_key.created", "credential", cred.id, {"name": body.name})
    return ApiKeyRead(id=cred.id or 0, name=body.name, key=secret)


@router.get("/audit/verify")
def verify_audit(session: SessionDep, who: DataOffice) -> dict[str, Any]:
    """Re-hash the whole audit chain; report its length and head, or the first broken link."""
    return audit.verify(session).as_dict()
