"""In a real browser: an enterprise's admin invites an analyst, the e-mailed link is accepted with a password, and
the analyst signs in and works — but may not apply for licences; then the admin makes them a viewer."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from playwright.sync_api import expect

from tests.flow import World
from tests.smtp import Mailbox, smtp_server
from tests.web.test_ui_notifications import _wait_for_mail
from tests.web.ui import VIEWPORT, sign_in, watch
from web.jobs import background_jobs

__all__ = ["smtp_server"]


def test_invite_accept_and_sign_in(client: TestClient, live_server: str, browser: Any,
                                   smtp_server: Mailbox) -> None:
    world = World(client)
    world.enterprise()
    admin = watch(browser.new_context(locale="zh-CN", viewport=VIEWPORT).new_page())
    sign_in(admin, live_server, "analyst@data.test")
    admin.click("a[href='/enterprise/team']")
    admin.fill("#invite-email", "colleague@data.test")
    admin.select_option("#invite-role", "analyst")
    with background_jobs(interval=0.2):
        admin.click("#invite")
        expect(admin.locator("#invited")).to_contain_text("colleague@data.test")
        _wait_for_mail(smtp_server, "colleague@data.test")
    link = re.search(r"https?://\S+/invitations/\S+", smtp_server.to("colleague@data.test")[0].get_content())
    assert link is not None

    invitee = watch(browser.new_context(locale="en-GB", viewport=VIEWPORT).new_page())
    invitee.goto(live_server + link.group(0)[link.group(0).index("/invitations/"):])
    invitee.fill("#password", "colleague password")
    invitee.click("#accept")
    expect(invitee).to_have_url(re.compile(r"/enterprise\?welcome=1$"))
    invitee.click("#signout")
    sign_in(invitee, live_server, "colleague@data.test", "colleague password")
    expect(invitee).to_have_url(f"{live_server}/enterprise")
    invitee.goto(f"{live_server}/listings/{world.listing['id']}")
    invitee.fill("#purpose", "regional income analysis")  # required now: the browser would not send it empty
    invitee.locator("form[action='/enterprise/licences'] button[type=submit]").first.click()
    expect(invitee.locator("main")).to_contain_text("ask its admin")

    admin.goto(live_server + "/enterprise/team")
    expect(admin.locator("#members")).to_contain_text("colleague@data.test")
    expect(admin.locator("#members")).to_contain_text("分析人员（可查询）")
    row = admin.locator("#members tbody tr", has_text="colleague@data.test")  # the admin makes them a viewer
    row.locator("select").select_option("viewer")
    row.locator("button").click()
    expect(admin.locator("#role-changed")).to_be_visible()
    expect(admin.locator("#members tbody tr", has_text="colleague@data.test").locator("select")).to_have_value("viewer")
    assert admin.errors == [] and invitee.errors == []
