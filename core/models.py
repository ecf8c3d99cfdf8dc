"""Table models of the plumbing: organizations, users, credentials, audit events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, Text, event
from sqlalchemy import inspect as sa_inspect
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


@event.listens_for(SQLModel, "load", propagate=True)
@event.listens_for(SQLModel, "refresh", propagate=True)
def _utc_on_load(target: Any, *_: Any) -> None:
    """SQLite keeps no time zone: every timestamp Shuyu stores is UTC, so one read back is made UTC-aware
    (on PostgreSQL they already are). Responses then carry an offset, as `format: date-time` requires."""
    state = sa_inspect(target)
    for attr in state.mapper.column_attrs:
        value = state.dict.get(attr.key)
        if isinstance(value, datetime) and value.tzinfo is None:
            state.dict[attr.key] = value.replace(tzinfo=UTC)


def ts_column(**kw: Any) -> Any:
    """A timezone-aware timestamp column (SQLite stores it as text, PostgreSQL as timestamptz)."""
    return Field(default_factory=utcnow, sa_type=DateTime(timezone=True), **kw)


class Organization(SQLModel, table=True):
    __tablename__ = "organizations"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=200)
    kind: str = Field(max_length=20)  # provider | enterprise | operator
    credit_code: str | None = Field(default=None, unique=True, max_length=18)
    created_at: datetime = ts_column()


class User(SQLModel, table=True):
    __tablename__ = "users"
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True, index=True, max_length=254)
    password_hash: str = Field(max_length=200)
    role: str = Field(max_length=20)
    organization_id: int = Field(foreign_key="organizations.id", index=True)
    is_active: bool = True
    created_at: datetime = ts_column()


class Credential(SQLModel, table=True):
    """A bearer token or API key. Only its SHA-256 is stored; the secret is shown once."""

    __tablename__ = "credentials"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    kind: str = Field(max_length=10)  # token | api_key
    name: str = Field(default="", max_length=100)
    secret_sha256: str = Field(unique=True, max_length=64)
    created_at: datetime = ts_column()
    expires_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    revoked: bool = False
    scope: str = Field(default="full", max_length=10)  # API keys: read | query | full (core.scopes)
    last_used_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    sso_identity_id: int | None = None  # a session opened by single sign-on: its core.sso.OidcIdentity


class SignInThrottle(SQLModel, table=True):
    """Failed sign-ins counted per key (`account:<email>` or `address:<ip>`) in a window, and a lockout."""

    __tablename__ = "sign_in_throttle"
    key: str = Field(primary_key=True, max_length=200)
    failures: int = 0
    window_started_at: datetime = ts_column()
    locked_until: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class AuditHead(SQLModel, table=True):
    """One row: the chain's length and last hash. Appending updates it first, which serializes appenders."""

    __tablename__ = "audit_head"
    id: int = Field(default=1, primary_key=True)
    length: int = 0
    head_hash: str = Field(default="0" * 64, max_length=64)


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_events"
    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: datetime = ts_column()
    actor_user_id: int | None = None
    actor_role: str | None = Field(default=None, max_length=20)
    organization_id: int | None = None
    action: str = Field(max_length=60, index=True)
    subject_type: str = Field(max_length=40)
    subject_id: str = Field(max_length=64)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    note: str | None = Field(default=None, sa_column=Column(Text))


class TwoFactor(SQLModel, table=True):
    """A user's TOTP secret (encrypted under a key derived from the master key). `confirmed_at` is set once the
    first code was right; `last_step` is the time step of the last code accepted, so a code works only once."""

    __tablename__ = "two_factor"
    user_id: int = Field(foreign_key="users.id", primary_key=True)
    secret_sealed: str = Field(max_length=200)
    confirmed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    last_step: int | None = Field(default=None, sa_type=BigInteger)
    created_at: datetime = ts_column()


class RecoveryCode(SQLModel, table=True):
    """A one-time recovery code: only a keyed hash is stored; `used_at` is set by a conditional update."""

    __tablename__ = "recovery_codes"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    code_hash: str = Field(unique=True, max_length=64)
    used_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
