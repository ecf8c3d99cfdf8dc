"""In a real browser: a licence approval reaches the enterprise by e-mail (a real SMTP server on 127.0.0.1) and in
the inbox behind the header's bell, both sent by the background job."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient
from playwright.sync_api import expect

from tests.flow import World, ok
from tests.smtp import Mailbox, smtp_server
from tests.web.ui import VIEWPORT, sign_in, watch
from web.jobs import background_jobs

__all__ = ["smtp_server"]


def _wait_for_mail(mailbox: Mailbox, address: str, limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while not mailbox.to(address):
        assert time.monotonic() < deadline, f"no mail reached {address}"
        time.sleep(0.1)


def test_an_approval_arrives_by_email_and_rings_the_bell(client: TestClient, live_server: str, browser: Any,
                                                         smtp_server: Mailbox) -> None:
    world = World(client, grade="important")
    analyst = world.enterprise()
    licence = ok(client.post("/api/v1/licenses", json={"listing_id": world.listing["id"], "offer_id": world.offer_id,
                                                       "purpose": "交通规划"}, headers=analyst), 201)
    with background_jobs(interval=0.2):
        ok(client.post(f"/api/v1/licenses/{licence['id']}/review", json={"decision": "approve"},
                       headers=world.office))
        _wait_for_mail(smtp_server, "analyst@data.test")
    mail = smtp_server.to("analyst@data.test")[0]
    assert f"许可 {licence['id']} 已获批准" in str(mail["Subject"]) and "/enterprise/licences/" in mail.get_content()

    context = browser.new_context(locale="zh-CN", viewport=VIEWPORT)
    page = watch(context.new_page())
    sign_in(page, live_server, "analyst@data.test")
    expect(page.locator("#bell-count")).to_have_text("1")
    page.click("#bell")
    expect(page.locator("#inbox .notice.unread h2")).to_have_text(f"许可 {licence['id']} 已获批准")
    page.click("#inbox .notice button[id^=open-]")
    expect(page).to_have_url(f"{live_server}/enterprise/licences/{licence['id']}")
    expect(page.locator("#bell")).to_be_visible()
    expect(page.locator("#bell-count")).to_have_count(0)
    page.goto(live_server + "/account/notifications")
    page.uncheck("#license_approved-email")
    page.click("#save-preferences")
    expect(page.locator("#license_approved-email")).not_to_be_checked()
    expect(page.locator("#license_approved-in_app")).to_be_checked()
    context.close()
    assert page.errors == []
