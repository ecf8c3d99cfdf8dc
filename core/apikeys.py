"""API keys: named, scoped (core.scopes), expiring, listed with their last use, revocable at once.

Only a key's SHA-256 is stored; the key itself is in the creation response and nowhere else. A revoked or
expired key is refused on its very next request (core.auth checks both on every call).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from core.audit import record
from core.auth import Principal, _aware, issue_credential
from core.errors import NotFound
from core.models import Credential, User, utcnow
from core.scopes import Scope


class ApiKeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    scope: Scope = Field(default=Scope.full, description="`read` (GET only), `query` (also runs DP queries) or "
                                                         "`full` (everything its owner may do)")
    expires_in_days: int | None = Field(default=90, ge=1, le=3650, description="null: never expires")


class ApiKeyCreated(BaseModel):
    id: int
    name: str
    scope: Scope
    expires_at: datetime | None
    key: str = Field(description="Shown once; only its hash is stored")


class ApiKeyRead(BaseModel):
    id: int
    name: str
    scope: Scope
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked: bool
    expired: bool


class ApiKeyPage(BaseModel):
    items: list[ApiKeyRead]
    total: int


class ApiKeyService:
    def create(self, session: Session, who: Principal, body: ApiKeyCreate) -> ApiKeyCreated:
        """A key for scripts; the secret is returned here once and never again."""
        user = session.get(User, who.user_id)
        assert user is not None
        cred, secret = issue_credential(session, user, "api_key", body.name)
        cred.scope = body.scope.value
        cred.expires_at = utcnow() + timedelta(days=body.expires_in_days) if body.expires_in_days else None
        session.add(cred)
        record(session, who.actor, "api_key.created", "credential", cred.id,
               {"name": body.name, "scope": cred.scope, "expires_at": cred.expires_at})
        return ApiKeyCreated(id=cred.id or 0, name=cred.name, scope=Scope(cred.scope), expires_at=cred.expires_at,
                             key=secret)

    def list(self, session: Session, who: Principal) -> ApiKeyPage:
        """The caller's keys, newest first, revoked ones included (so a leak can be traced to its last use)."""
        rows = session.exec(select(Credential).where(Credential.user_id == who.user_id, Credential.kind == "api_key")
                            .order_by(col(Credential.id).desc())).all()
        now = utcnow()
        items = [ApiKeyRead(id=c.id or 0, name=c.name, scope=Scope(c.scope), created_at=c.created_at,
                            expires_at=c.expires_at, last_used_at=c.last_used_at, revoked=c.revoked,
                            expired=c.expires_at is not None and _aware(c.expires_at) <= now) for c in rows]
        return ApiKeyPage(items=items, total=len(items))

    def revoke(self, session: Session, who: Principal, key_id: int) -> None:
        """Revoke one of the caller's keys; it is refused from the next request on."""
        cred = session.get(Credential, key_id)
        if cred is None or cred.kind != "api_key" or cred.user_id != who.user_id:
            raise NotFound(f"No API key {key_id} of yours", zh=f"没有编号为 {key_id} 的 API 密钥")
        if not cred.revoked:
            cred.revoked = True
            session.add(cred)
            record(session, who.actor, "api_key.revoked", "credential", cred.id, {"name": cred.name})


api_keys = ApiKeyService()
