"""The append-only, hash-chained audit log.

Each event's hash covers its content and the previous event's hash, so editing, deleting or
reordering any stored event breaks every later link, and `verify()` names the first broken one.
Appending bumps the single `audit_head` row *before* reading the previous hash: on PostgreSQL that
row lock, on SQLite the database write lock, makes concurrent appenders queue instead of forking.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlmodel import Session, col, func, select

from core.models import AuditEvent, AuditHead, utcnow

GENESIS = "0" * 64


@dataclass(frozen=True)
class Actor:
    """Who did something: a user (with role and organization) or the system itself."""

    user_id: int | None
    role: str | None
    organization_id: int | None

    @classmethod
    def system(cls) -> Actor:
        return cls(None, "system", None)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _at_text(at: datetime) -> str:
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at.isoformat(timespec="microseconds")


def event_hash(event: AuditEvent) -> str:
    body = {
        "seq": event.seq,
        "at": _at_text(event.at),
        "actor_user_id": event.actor_user_id,
        "actor_role": event.actor_role,
        "organization_id": event.organization_id,
        "action": event.action,
        "subject_type": event.subject_type,
        "subject_id": event.subject_id,
        "data": event.data,
        "prev_hash": event.prev_hash,
    }
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


def record(
    session: Session, actor: Actor, action: str, subject_type: str, subject_id: object,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the chain, in the caller's unit of work."""
    row = session.execute(
        text("UPDATE audit_head SET length = length + 1 WHERE id = 1 RETURNING length, head_hash")
    ).one()
    event = AuditEvent(
        seq=row.length, at=utcnow(), actor_user_id=actor.user_id, actor_role=actor.role,
        organization_id=actor.organization_id, action=action, subject_type=subject_type,
        subject_id=str(subject_id), data=json.loads(canonical_json(data or {})), prev_hash=row.head_hash, hash="",
    )
    event.hash = event_hash(event)
    session.add(event)
    session.execute(text("UPDATE audit_head SET head_hash = :h WHERE id = 1"), {"h": event.hash})
    return event


def recent(session: Session, limit: int, offset: int) -> tuple[list[AuditEvent], int]:
    """A page of the log, newest first, and the log's length."""
    total = session.exec(select(func.count()).select_from(AuditEvent)).one()
    rows = session.exec(select(AuditEvent).order_by(col(AuditEvent.seq).desc()).offset(offset).limit(limit))
    return list(rows.all()), int(total)


@dataclass(frozen=True)
class Verification:
    ok: bool
    length: int
    head: str
    broken_at: int | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": self.ok, "length": self.length, "head": self.head}
        if not self.ok:
            out |= {"broken_at": self.broken_at, "reason": self.reason}
        return out


def verify(session: Session, batch: int = 1000) -> Verification:
    """Re-hash the whole chain; report the first event whose link or content does not check out."""
    prev, expected_seq, last = GENESIS, 1, 0
    while True:
        events = session.exec(
            select(AuditEvent).where(AuditEvent.seq >= expected_seq).order_by(col(AuditEvent.seq)).limit(batch)
        ).all()
        if not events:
            break
        for event in events:
            problem = _check(event, expected_seq, prev)
            if problem:
                return Verification(False, last, prev, event.seq, problem)
            prev, expected_seq, last = event.hash, expected_seq + 1, event.seq
    head = session.get(AuditHead, 1)
    if head is not None and (head.length != last or head.head_hash != prev):
        return Verification(False, last, prev, last + 1, "events are missing at the end of the chain")
    return Verification(True, last, prev)


def _check(event: AuditEvent, expected_seq: int, prev: str) -> str | None:
    if event.seq != expected_seq:
        return f"event {expected_seq} is missing"
    if event.prev_hash != prev:
        return "its previous-hash link does not match the event before it"
    if event.hash != event_hash(event):
        return "its content does not match its hash (edited)"
    return None


def checkpoint(session: Session) -> dict[str, Any]:
    """The chain's length and head hash now, signed with the platform's receipts key. Stored outside the
    database, it anchors the chain: a rewrite of the whole table with self-consistent hashes no longer
    passes through this head."""
    from core import receipts
    from core.config import get_settings

    head = session.get(AuditHead, 1)
    key = receipts.signing_key(get_settings())
    return receipts.sign(key, {"kind": "shuyu-audit-checkpoint", "length": head.length if head else 0,
                               "head": head.head_hash if head else GENESIS, "at": utcnow().isoformat()})


def check_checkpoint(session: Session, signed: dict[str, Any]) -> str | None:
    """None if `signed` is this platform's checkpoint and the chain still has that event with that hash."""
    from core import receipts
    from core.config import get_settings

    if not receipts.verify(receipts.public_pem(receipts.signing_key(get_settings())), signed):
        return "the checkpoint's signature is not this platform's"
    length = int(signed.get("length", 0))
    if length == 0:
        return None
    event = session.get(AuditEvent, length)
    if event is None:
        return f"event {length} of the checkpoint is gone"
    if event.hash != signed.get("head"):
        return f"event {length} no longer has the checkpoint's hash: the chain was rewritten"
    return None
