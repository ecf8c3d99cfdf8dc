"""In a real browser: an enterprise's admin invites a colleague, who accepts the e-mailed link, sets up an
authenticator app from the QR code page, and signs in again with password and TOTP code."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from playwright.sync_api import expect

from tests.flow import World
from tests.smtp import Mailbox, smtp_server
from tests.twofactor_codes import code
from tests.web.test_ui_notifications import _wait_for_mail
from tests.web.ui import VIEWPORT, shot, sign_in, watch
from web.jobs import background_jobs

__all__ = ["smtp_server"]


def test_invite_accept_enrol_and_sign_in_with_totp(client: TestClient, live_server: str, browser: Any,
                                                    smtp_server: Mailbox) -> None:
    world = World(client)
    world.enterprise()
    admin = watch(browser.new_context(locale="zh-CN", viewport=VIEWPORT).new_page())
    sign_in(admin, live_server, "analyst@data.test")
    admin.goto(live_server + "/enterprise/team")
    admin.fill("#invite-email", "colleague@data.test")
    admin.select_option("#invite-role", "analyst")
    with background_jobs(interval=0.2):
        admin.click("#invite")
        expect(admin.locator("#invited")).to_contain_text("colleague@data.test")
        _wait_for_mail(smtp_server, "colleague@data.test")
    link = re.search(r"https?://\S+/invitations/\S+", smtp_server.to("colleague@data.test")[0].get_content())
    assert link is not None

    person = watch(browser.new_context(locale="en-GB", viewport=VIEWPORT).new_page())
    person.goto(live_server + link.group(0)[link.group(0).index("/invitations/"):])
    person.fill("#password", "colleague password")
    person.click("#accept")
    expect(person).to_have_url(re.compile(r"/enterprise\?welcome=1$"))

    person.click("#account-security")
    person.click("#account-two-factor")
    person.click("#start-two-factor")
    expect(person.locator("#totp-qr svg")).to_be_visible()
    secret = person.locator("#totp-secret").inner_text().strip()
    shot(person, "two-factor-enrolment")
    person.fill("#totp-code", code(secret, steps_back=1))  # an app shows this code until a moment ago
    person.click("#confirm-two-factor")
    expect(person.locator("#recovery-codes li")).to_have_count(10)
    person.click("#continue")
    expect(person.locator("#two-factor-status")).to_contain_text("Recovery codes left: 10")

    person.click("#signout")
    sign_in(person, live_server, "colleague@data.test", "colleague password")
    expect(person).to_have_url(f"{live_server}/signin/code")
    person.fill("#code", "000000")
    person.click("#verify")
    expect(person.locator("[role=alert]")).to_be_visible()
    person.fill("#code", code(secret))
    person.click("#verify")
    expect(person).to_have_url(f"{live_server}/enterprise")
    expect(person.locator(".who")).to_contain_text("colleague@data.test")
    assert admin.errors == [] and person.errors == []
