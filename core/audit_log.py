"""Reading the audit log as people do: filtered by who, what, which object and when, searched, named.

The chain itself (core.audit) is untouched: this only reads it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, func, or_
from sqlmodel import Session, col, select

from core.models import AuditEvent, Organization, User


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None  # an email (or part of it), or a role
    action: str | None = None  # an action or its prefix: "payment", "listing.review"
    subject_type: str | None = None
    subject_id: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    q: str | None = None  # anywhere in the action, the object or the data


@dataclass(frozen=True)
class Actor:
    email: str
    organization: str


def search(session: Session, where: AuditFilter, limit: int, offset: int) -> tuple[list[AuditEvent], int]:
    """Events matching every filter given, newest first, and how many match."""
    query = select(AuditEvent)
    if where.actor:
        users = select(User.id).where(col(User.email).ilike(f"%{where.actor.strip()}%"))
        query = query.where(or_(col(AuditEvent.actor_user_id).in_(users), col(AuditEvent.actor_role) == where.actor))
    if where.action:
        query = query.where(or_(col(AuditEvent.action) == where.action,
                                col(AuditEvent.action).startswith(where.action + ".")))
    if where.subject_type:
        query = query.where(AuditEvent.subject_type == where.subject_type)
    if where.subject_id:
        query = query.where(AuditEvent.subject_id == where.subject_id.strip())
    if where.start:
        query = query.where(col(AuditEvent.at) >= where.start)
    if where.end:
        query = query.where(col(AuditEvent.at) < where.end)
    if where.q:
        needle = f"%{where.q.strip().lower()}%"
        query = query.where(or_(func.lower(AuditEvent.action).like(needle),
                                func.lower(AuditEvent.subject_id).like(needle),
                                func.lower(cast(AuditEvent.data, String)).like(needle)))
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(col(AuditEvent.seq).desc()).limit(limit).offset(offset)).all()
    return list(rows), int(total)


def actors(session: Session, events: list[AuditEvent]) -> dict[int, Actor]:
    """user id → who that was (email and organization), for the events shown."""
    ids = {e.actor_user_id for e in events if e.actor_user_id is not None}
    if not ids:
        return {}
    rows = session.exec(select(User, Organization).join(Organization, col(Organization.id) == User.organization_id)
                        .where(col(User.id).in_(ids))).all()
    return {user.id or 0: Actor(user.email, org.name) for user, org in rows}


def actions(session: Session) -> list[str]:
    """Every action recorded so far, for the filter's list."""
    return sorted(session.exec(select(AuditEvent.action).distinct()).all())


def exact(value: Any) -> Any:
    """Numbers as people wrote them: 0.49999999999995007 is 0.5 that went through float arithmetic."""
    if isinstance(value, float):
        return float(f"{value:.10g}")
    if isinstance(value, dict):
        return {k: exact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [exact(v) for v in value]
    return value
