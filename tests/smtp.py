"""A real SMTP server (aiosmtpd) on 127.0.0.1 for tests, with Shuyu configured to send to it."""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default
from typing import Any

import pytest
from aiosmtpd.controller import Controller


class Mailbox:
    """What the server received, parsed."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_server(db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Mailbox]:
    """An SMTP server on a free loopback port, SHUYU_SMTP_URL pointing at it; it stops with the test."""
    from core.config import get_settings

    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("SHUYU_SMTP_URL", f"smtp://127.0.0.1:{port}")
    monkeypatch.setenv("SHUYU_MAIL_FROM", "Shuyu 数域 <notices@shuyu.test>")
    get_settings.cache_clear()
    try:
        yield mailbox
    finally:
        controller.stop()
        monkeypatch.undo()
        get_settings.cache_clear()
