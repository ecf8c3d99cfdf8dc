"""Notifications: an inbox per person, e-mail through an outbox, and each person's choice of what they receive.

Domains say *what* deserves a notice; this module only delivers. A domain registers a watcher for audit
actions (`@on("license.review.approve")`) or a periodic scan (`@every_pump`), each returning `Notice`s. The
pump reads the audit log after its cursor — every state change that matters is already there, in order — and
runs the scans, delivering each notice once per person (`dedupe_key`). The cursor moves by compare-and-set in
the same transaction as the deliveries, so two API nodes pumping at once deliver everything exactly once.

E-mail is written to `mail_outbox` in that transaction and sent later by `core.mail`, with retries: a slow or
absent mail server never holds up a request, and a notice is never lost because one was down.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import Column, DateTime, Text, UniqueConstraint, update
from sqlmodel import Field, Session, SQLModel, col, func, select

from core.auth import Principal, Role
from core.config import get_settings
from core.errors import NotFound
from core.models import AuditEvent, User, ts_column, utcnow

# kind → (English, Chinese) name, as the preferences page lists them
KINDS: dict[str, tuple[str, str]] = {
    "license_approved": ("A licence was approved", "许可已获批准"),
    "license_paid": ("A payment was received and the licence is active", "已收到付款，许可已生效"),
    "license_expiring": ("A licence expires within 14 days", "许可将在 14 天内到期"),
    "budget_80": ("80% of a licence's privacy budget is spent", "许可的隐私预算已用去 80%"),
    "review_waiting": ("A review is waiting for the data office", "有事项等待数据主管部门审核"),
    "changes_requested": ("The data office asked for changes to a listing", "数据主管部门要求修改数据产品"),
    "reconciliation_mismatch": ("A reconciliation found differences", "对账发现差异"),
    "authorization_ended": ("The authorization of a licensed product ended", "所许可数据产品的授权运营已终止"),
}
KINDS_FOR_ROLE: dict[Role, tuple[str, ...]] = {
    Role.enterprise: ("license_approved", "license_paid", "license_expiring", "budget_80", "authorization_ended"),
    Role.data_office: ("review_waiting",),
    Role.provider: ("changes_requested",),
    Role.finance: ("reconciliation_mismatch",),
    Role.admin: (),
}
AUDIT_BATCH = 500


class Notification(SQLModel, table=True):
    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("user_id", "dedupe_key", name="uq_notifications_user_dedupe"),)
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    kind: str = Field(max_length=40)
    dedupe_key: str = Field(max_length=160)
    title_en: str = Field(max_length=300)
    title_zh: str = Field(max_length=300)
    body_en: str = Field(sa_column=Column(Text, nullable=False))
    body_zh: str = Field(sa_column=Column(Text, nullable=False))
    link: str = Field(default="", max_length=300)
    created_at: datetime = ts_column()
    read_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class MailOutbox(SQLModel, table=True):
    """One e-mail to send: pending → sent, or retried with back-off until it fails for good."""

    __tablename__ = "mail_outbox"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int | None = Field(default=None, foreign_key="users.id")
    to_address: str = Field(max_length=254)
    subject: str = Field(max_length=300)
    body_text: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default="pending", max_length=10, index=True)  # pending | sending | sent | failed
    attempts: int = 0
    next_attempt_at: datetime = ts_column()
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = ts_column()
    sent_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class NotificationPreference(SQLModel, table=True):
    """A person's choice for one kind of notice; without a row, both the inbox and e-mail are on."""

    __tablename__ = "notification_preferences"
    user_id: int = Field(foreign_key="users.id", primary_key=True)
    kind: str = Field(primary_key=True, max_length=40)
    in_app: bool = True
    email: bool = True


class NotifyCursor(SQLModel, table=True):
    __tablename__ = "notify_cursor"
    id: int = Field(default=1, primary_key=True)
    audit_seq: int = 0
    scanned_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


@dataclass(frozen=True)
class Notice:
    """Something to tell some people, in both languages. `key` makes it once per person (e.g. `license:7:paid`);
    `link` is a path on the site."""

    kind: str
    user_ids: tuple[int, ...]
    key: str
    title_en: str
    title_zh: str
    body_en: str
    body_zh: str
    link: str = ""


Watcher = Callable[[Session, AuditEvent], list[Notice]]
Scan = Callable[[Session], list[Notice]]
_WATCHERS: dict[str, list[Watcher]] = {}
_SCANS: list[Scan] = []


def on(*actions: str) -> Callable[[Watcher], Watcher]:
    """Register a watcher for audit actions."""
    def register(watcher: Watcher) -> Watcher:
        for action in actions:
            _WATCHERS.setdefault(action, []).append(watcher)
        return watcher
    return register


def every_pump(scan: Scan) -> Scan:
    """Register a scan run on every pump (deadlines, thresholds): its notices are deduplicated like any other."""
    _SCANS.append(scan)
    return scan


def active_users(session: Session, *, organization_id: int | None = None, role: Role | None = None) -> tuple[int, ...]:
    """Ids of the active users of an organization and/or role: who a notice goes to."""
    query = select(User.id).where(col(User.is_active).is_(True))
    if organization_id is not None:
        query = query.where(User.organization_id == organization_id)
    if role is not None:
        query = query.where(User.role == role.value)
    return tuple(int(uid) for uid in session.exec(query).all() if uid is not None)


class NotificationRead(BaseModel):
    id: int
    kind: str
    title: str
    body: str
    title_en: str
    title_zh: str
    body_en: str
    body_zh: str
    link: str
    created_at: datetime
    read_at: datetime | None


class NotificationPage(BaseModel):
    items: list[NotificationRead]
    total: int
    unread: int


class PreferenceRead(BaseModel):
    kind: str
    name_en: str
    name_zh: str
    in_app: bool
    email: bool


class PreferenceUpdate(BaseModel):
    kind: str
    in_app: bool
    email: bool


class NotificationService:
    def deliver(self, session: Session, notice: Notice) -> int:
        """File the notice in each recipient's inbox (once per key) and queue its e-mail if they want it."""
        delivered = 0
        for user_id in notice.user_ids:
            exists = session.exec(select(Notification.id).where(Notification.user_id == user_id,
                                                                Notification.dedupe_key == notice.key)).first()
            if exists is not None:
                continue
            pref = session.get(NotificationPreference, (user_id, notice.kind))
            now = utcnow()
            # With the inbox off for this kind the notice is still filed (it is the record that it was sent),
            # but as read: it does not ring the bell.
            session.add(Notification(user_id=user_id, kind=notice.kind, dedupe_key=notice.key,
                                     title_en=notice.title_en, title_zh=notice.title_zh, body_en=notice.body_en,
                                     body_zh=notice.body_zh, link=notice.link, created_at=now,
                                     read_at=None if pref is None or pref.in_app else now))
            user = session.get(User, user_id)
            if user is not None and (pref is None or pref.email) and get_settings().smtp_url:
                from core.mail import compose

                subject, body = compose(notice)
                session.add(MailOutbox(user_id=user_id, to_address=user.email, subject=subject, body_text=body))
            delivered += 1
        session.flush()
        return delivered

    def pump(self, session: Session) -> int:
        """Turn new audit events and due scans into notices. Returns how many were delivered; 0 as well when
        another node pumped the same events first (this transaction is then rolled back by the caller)."""
        cursor = session.get(NotifyCursor, 1)
        if cursor is None:
            cursor = NotifyCursor(id=1, audit_seq=0)
            session.add(cursor)
            session.flush()
        start = cursor.audit_seq
        events = session.exec(select(AuditEvent).where(AuditEvent.seq > start)
                              .order_by(col(AuditEvent.seq)).limit(AUDIT_BATCH)).all()
        delivered = 0
        for event in events:
            for watcher in _WATCHERS.get(event.action, []):
                delivered += sum(self.deliver(session, notice) for notice in watcher(session, event))
        for scan in _SCANS:
            delivered += sum(self.deliver(session, notice) for notice in scan(session))
        end = events[-1].seq if events else start
        moved = session.execute(update(NotifyCursor).where(col(NotifyCursor.id) == 1,
                                                           col(NotifyCursor.audit_seq) == start)
                                .values(audit_seq=end, scanned_at=utcnow())
                                .execution_options(synchronize_session=False))
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            raise PumpRace("another node pumped these events")
        return delivered

    def inbox(self, session: Session, who: Principal, locale: str, unread_only: bool, limit: int,
              offset: int) -> NotificationPage:
        """The caller's notices, newest first, in their language (both are included)."""
        query = select(Notification).where(Notification.user_id == who.user_id)
        if unread_only:
            query = query.where(col(Notification.read_at).is_(None))
        total = session.exec(select(func.count()).select_from(query.subquery())).one()
        rows = session.exec(query.order_by(col(Notification.id).desc()).limit(limit).offset(offset)).all()
        zh = locale == "zh-CN"
        items = [NotificationRead(id=n.id or 0, kind=n.kind, title=n.title_zh if zh else n.title_en,
                                  body=n.body_zh if zh else n.body_en, title_en=n.title_en, title_zh=n.title_zh,
                                  body_en=n.body_en, body_zh=n.body_zh, link=n.link, created_at=n.created_at,
                                  read_at=n.read_at) for n in rows]
        return NotificationPage(items=items, total=int(total), unread=self.unread(session, who.user_id))

    def unread(self, session: Session, user_id: int) -> int:
        """How many notices the bell counts."""
        return int(session.exec(select(func.count()).select_from(Notification).where(
            Notification.user_id == user_id, col(Notification.read_at).is_(None))).one())

    def mark_read(self, session: Session, who: Principal, notification_id: int | None) -> int:
        """Mark one notice (or, with None, all of them) read; returns how many changed."""
        query = update(Notification).where(col(Notification.user_id) == who.user_id,
                                           col(Notification.read_at).is_(None))
        if notification_id is not None:
            row = session.get(Notification, notification_id)
            if row is None or row.user_id != who.user_id:
                raise NotFound(f"No notification {notification_id}", zh=f"没有通知 {notification_id}")
            query = query.where(col(Notification.id) == notification_id)
        return int(session.execute(query.values(read_at=utcnow()).execution_options(synchronize_session=False)
                                   ).rowcount)  # type: ignore[attr-defined]

    def preferences(self, session: Session, who: Principal) -> list[PreferenceRead]:
        """The kinds of notice the caller's role gets, with their choice for each."""
        chosen = {p.kind: p for p in session.exec(select(NotificationPreference)
                                                  .where(NotificationPreference.user_id == who.user_id)).all()}
        return [PreferenceRead(kind=kind, name_en=KINDS[kind][0], name_zh=KINDS[kind][1],
                               in_app=chosen[kind].in_app if kind in chosen else True,
                               email=chosen[kind].email if kind in chosen else True)
                for kind in KINDS_FOR_ROLE[who.role]]

    def set_preferences(self, session: Session, who: Principal, choices: list[PreferenceUpdate]
                        ) -> list[PreferenceRead]:
        """Save the caller's choices; kinds their role never gets are refused."""
        from core.errors import InvalidInput

        allowed = KINDS_FOR_ROLE[who.role]
        for choice in choices:
            if choice.kind not in allowed:
                raise InvalidInput(f"{choice.kind!r} is not a notice you receive; yours are: {', '.join(allowed)}",
                                   zh=f"{choice.kind} 不是您会收到的通知类型")
            pref = session.get(NotificationPreference, (who.user_id, choice.kind)) or NotificationPreference(
                user_id=who.user_id, kind=choice.kind)
            pref.in_app, pref.email = choice.in_app, choice.email
            session.add(pref)
        session.flush()
        return self.preferences(session, who)


def queue_mail(session: Session, to: str, subject: str, body: str, user_id: int | None = None) -> bool:
    """Put one e-mail in the outbox (sent by the background job); False when no mail server is configured."""
    if not get_settings().smtp_url:
        return False
    session.add(MailOutbox(user_id=user_id, to_address=to, subject=subject, body_text=body))
    return True


class PumpRace(RuntimeError):
    """Another node moved the cursor first; roll back and let the next pump continue from there."""


notifications = NotificationService()
