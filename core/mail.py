"""E-mail: bilingual messages from notices, and the outbox sender (SMTP with retries and back-off).

`SHUYU_SMTP_URL` is `smtp://host:port` (plain, or `?starttls=1` to upgrade), or `smtps://host:port` (TLS from
the first byte); `user:password@` before the host logs in. Sending claims a row by conditional UPDATE before
talking to the server, so two senders never send one message twice; a sender that dies mid-send leaves the
row claimable again after `CLAIM_TIMEOUT` (mail is delivered at least once, never lost).
"""

from __future__ import annotations

import smtplib
import ssl
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import update
from sqlmodel import col, select

from core.config import get_settings
from core.db import unit_of_work
from core.models import utcnow
from core.notify import MailOutbox, Notice

CLAIM_TIMEOUT = timedelta(minutes=10)
RETRY_BACKOFF = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10), timedelta(hours=1),
                 timedelta(hours=4))
MAX_ATTEMPTS = len(RETRY_BACKOFF) + 1

TEMPLATE = """{title_zh}

{body_zh}
{link_line_zh}
——
{title_en}

{body_en}
{link_line_en}
--
数域 Shuyu · 选择接收哪些通知 / Choose which notices you receive: {prefs}
"""


def compose(notice: Notice) -> tuple[str, str]:
    """Subject and plain-text body, Chinese first, then English."""
    base = get_settings().base_url.rstrip("/")
    link = base + notice.link if notice.link else ""
    body = TEMPLATE.format(title_zh=notice.title_zh, body_zh=notice.body_zh, title_en=notice.title_en,
                           body_en=notice.body_en, link_line_zh=f"查看：{link}" if link else "",
                           link_line_en=f"Open: {link}" if link else "", prefs=base + "/account/notifications")
    return f"[数域 Shuyu] {notice.title_zh} / {notice.title_en}", body


class MailError(RuntimeError):
    """SMTP is not configured as a URL this module understands."""


def _connect() -> smtplib.SMTP:
    url = get_settings().smtp_url
    if not url:
        raise MailError("SHUYU_SMTP_URL is not set")
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise MailError("SHUYU_SMTP_URL must look like smtp://host:port or smtps://host:port")
    context = ssl.create_default_context()
    if parts.scheme == "smtps":
        server: smtplib.SMTP = smtplib.SMTP_SSL(parts.hostname, parts.port or 465, timeout=15, context=context)
    else:
        server = smtplib.SMTP(parts.hostname, parts.port or 25, timeout=15)
        if parse_qs(parts.query).get("starttls", ["0"])[0] in ("1", "true", "yes"):
            server.starttls(context=context)
    if parts.username:
        server.login(unquote(parts.username), unquote(parts.password or ""))
    return server


def _claim(limit: int) -> list[MailOutbox]:
    now = utcnow()
    with unit_of_work() as session:
        due = session.exec(select(MailOutbox).where(col(MailOutbox.status).in_(("pending", "sending")),
                                                    col(MailOutbox.next_attempt_at) <= now)
                           .order_by(col(MailOutbox.id)).limit(limit)).all()
        claimed = []
        for row in due:
            taken = session.execute(update(MailOutbox).where(
                col(MailOutbox.id) == row.id, col(MailOutbox.status).in_(("pending", "sending")),
                col(MailOutbox.next_attempt_at) <= now)
                .values(status="sending", next_attempt_at=now + CLAIM_TIMEOUT)
                .execution_options(synchronize_session=False))
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                claimed.append(row)
        return claimed


def _finish(row_id: int | None, error: str | None, attempts: int) -> None:
    now = utcnow()
    with unit_of_work() as session:
        row = session.get(MailOutbox, row_id)
        assert row is not None
        row.attempts = attempts
        if error is None:
            row.status, row.sent_at, row.last_error = "sent", now, None
        elif attempts >= MAX_ATTEMPTS:
            row.status, row.last_error = "failed", error
        else:
            row.status, row.last_error = "pending", error
            row.next_attempt_at = now + RETRY_BACKOFF[attempts - 1]
        session.add(row)


def send_due(limit: int = 50) -> tuple[int, int]:
    """Send what is due in the outbox; returns (sent, failed this round). Nothing is sent without SMTP settings."""
    settings = get_settings()
    if not settings.smtp_url:
        return 0, 0
    rows = _claim(limit)
    if not rows:
        return 0, 0
    sent = failed = 0
    try:
        server = _connect()
    except (OSError, smtplib.SMTPException, MailError) as exc:
        for row in rows:
            _finish(row.id, f"cannot reach the mail server: {exc}", row.attempts + 1)
        return 0, len(rows)
    with server:
        for row in rows:
            message = EmailMessage()
            message["From"], message["To"], message["Subject"] = settings.mail_from, row.to_address, row.subject
            message["Message-ID"] = make_msgid(domain="shuyu")
            message.set_content(row.body_text)
            try:
                server.send_message(message)
            except (OSError, smtplib.SMTPException) as exc:
                _finish(row.id, str(exc), row.attempts + 1)
                failed += 1
            else:
                _finish(row.id, None, row.attempts + 1)
                sent += 1
    return sent, failed
