"""Notifications: the inbox, e-mail through a real SMTP server with retries, each person's choices, and the
events that produce them (licences, reviews, budgets, deadlines, reconciliations)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from core.auth import _aware
from core.db import unit_of_work
from core.models import AuditEvent, utcnow
from core.notify import MailOutbox, notifications
from licensing.models import License
from licensing.notices import reconciliation_mismatch
from tests.flow import World, ok
from tests.smtp import Mailbox, free_port, smtp_server
from web.jobs import run_once

__all__ = ["smtp_server"]


def _inbox(client: TestClient, headers: dict[str, str], lang: str = "zh-CN") -> dict[str, object]:
    return dict(ok(client.get("/api/v1/notifications", headers={**headers, "Accept-Language": lang})))


def _apply(world: World, headers: dict[str, str]) -> dict[str, object]:
    return dict(ok(world.client.post("/api/v1/licenses", json={
        "listing_id": world.listing["id"], "offer_id": world.offer_id, "purpose": "城市交通规划研究"},
        headers=headers), 201))


def test_an_approved_licence_reaches_the_inbox_and_the_mailbox_in_both_languages(
        client: TestClient, smtp_server: Mailbox) -> None:
    world = World(client, grade="important")
    analyst = world.enterprise()
    licence = _apply(world, analyst)
    run_once()
    waiting = _inbox(client, world.office)  # the listing waited for review too, before it was published
    assert waiting["unread"] == 2 and "等待审批" in waiting["items"][0]["title"]  # type: ignore[index]
    assert any("waits for approval" in str(m["Subject"]) for m in smtp_server.to("office@gov.test"))

    ok(client.post(f"/api/v1/licenses/{licence['id']}/review", json={"decision": "approve"}, headers=world.office))
    assert run_once() == (1, 1)
    inbox = _inbox(client, analyst)
    assert inbox["unread"] == 1
    item = inbox["items"][0]  # type: ignore[index]
    assert item["kind"] == "license_approved" and item["title"] == f"许可 {licence['id']} 已获批准"
    assert item["link"] == f"/enterprise/licences/{licence['id']}"
    mail = smtp_server.to("analyst@data.test")
    assert len(mail) == 1 and "许可" in str(mail[0]["Subject"]) and "approved" in str(mail[0]["Subject"])
    body = mail[0].get_content()
    assert "数据主管部门已批准" in body and "The data office approved" in body
    assert f"/enterprise/licences/{licence['id']}" in body

    assert run_once() == (0, 0)  # nothing is told twice
    ok(client.post(f"/api/v1/notifications/{item['id']}/read", headers=analyst))
    assert _inbox(client, analyst)["unread"] == 0
    other = client.post(f"/api/v1/notifications/{item['id']}/read", headers=world.office)
    assert other.status_code == 404


def test_paying_for_a_licence_tells_the_enterprise(client: TestClient) -> None:
    world = World(client)
    analyst = world.enterprise()
    world.active_licence(analyst)
    run_once()
    kinds = [n["kind"] for n in _inbox(client, analyst, "en")["items"]]  # type: ignore[attr-defined]
    assert kinds == ["license_paid"]


def test_mail_is_retried_when_the_server_is_down_and_sent_once_it_is_back(
        client: TestClient, smtp_server: Mailbox, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.config import get_settings

    world = World(client, grade="important")
    analyst = world.enterprise()
    good_url = get_settings().smtp_url
    monkeypatch.setenv("SHUYU_SMTP_URL", f"smtp://127.0.0.1:{free_port()}")  # nothing listens there
    get_settings.cache_clear()
    _apply(world, analyst)
    assert run_once() == (4, 0)  # the listing and the licence wait for review, told to both office users
    with unit_of_work() as session:
        rows = session.exec(select(MailOutbox)).all()
        assert [(r.status, r.attempts) for r in rows] == [("pending", 1)] * 4
        assert all(_aware(r.next_attempt_at) > utcnow() and "cannot reach" in (r.last_error or "") for r in rows)
        for row in rows:  # the back-off has passed
            row.next_attempt_at = utcnow() - timedelta(seconds=1)
            session.add(row)
    monkeypatch.setenv("SHUYU_SMTP_URL", str(good_url))
    get_settings.cache_clear()
    assert run_once() == (0, 4)
    assert len(smtp_server.to("office@gov.test")) == 2 and len(smtp_server.to("office2@gov.test")) == 2
    with unit_of_work() as session:
        assert {r.status for r in session.exec(select(MailOutbox)).all()} == {"sent"}


def test_each_person_chooses_what_reaches_their_inbox_and_their_email(
        client: TestClient, smtp_server: Mailbox) -> None:
    world = World(client, grade="important")
    analyst = world.enterprise()
    ok(client.put("/api/v1/notifications/preferences", json=[
        {"kind": "review_waiting", "in_app": False, "email": True}], headers=world.office))
    ok(client.put("/api/v1/notifications/preferences", json=[
        {"kind": "review_waiting", "in_app": True, "email": False}], headers=world.office2))
    refused = client.put("/api/v1/notifications/preferences", json=[
        {"kind": "budget_80", "in_app": False, "email": False}], headers=world.office)
    assert refused.status_code == 422 and refused.json()["detail_zh"]
    _apply(world, analyst)
    run_once()
    assert _inbox(client, world.office)["unread"] == 0 and _inbox(client, world.office)["total"] == 2
    assert len(smtp_server.to("office@gov.test")) == 2
    assert _inbox(client, world.office2)["unread"] == 2 and smtp_server.to("office2@gov.test") == []
    prefs = ok(client.get("/api/v1/notifications/preferences", headers=world.office2))
    assert prefs == [{"kind": "review_waiting", "name_en": "A review is waiting for the data office",
                      "name_zh": "有事项等待数据主管部门审核", "in_app": True, "email": False}]


def test_a_licence_near_its_end_or_its_budget_is_announced_once(client: TestClient) -> None:
    world = World(client)
    analyst = world.enterprise()
    licence = world.active_licence(analyst)
    run_once()
    with unit_of_work() as session:
        row = session.get(License, licence["id"])
        assert row is not None
        row.expires_at = utcnow() + timedelta(days=10)
        row.epsilon_spent_micro = int(0.85 * row.epsilon_budget_micro)  # budgets are exact integer units
        session.add(row)
    run_once()
    run_once()
    kinds = sorted(n["kind"] for n in _inbox(client, analyst, "en")["items"])  # type: ignore[attr-defined]
    assert kinds == ["budget_80", "license_expiring", "license_paid"]


def test_a_provider_is_told_when_changes_are_requested(client: TestClient) -> None:
    from tests.flow import listing_body

    world = World(client)
    listing = ok(client.post("/api/v1/listings", json=listing_body(world.dataset["id"]), headers=world.provider), 201)
    ok(client.post(f"/api/v1/listings/{listing['id']}/submit", headers=world.provider))
    ok(client.post(f"/api/v1/listings/{listing['id']}/review", headers=world.office, json={
        "decision": "request_changes", "grade": "general", "reason_code": "dictionary-incomplete",
        "comment": "describe the columns"}))
    run_once()
    items = _inbox(client, world.provider, "en")["items"]
    assert [n["kind"] for n in items] == ["changes_requested"]  # type: ignore[index]
    assert _inbox(client, world.office, "en")["total"] == 2  # both listings waited for review


def test_a_reconciliation_with_differences_goes_to_finance(client: TestClient) -> None:
    world = World(client)
    with unit_of_work() as session:
        event = AuditEvent(seq=0, action="reconciliation.run", subject_type="reconciliation", subject_id="4",
                           data={"ok": False, "summary": {"mismatches": 2, "missing_in_ledger": 0}},
                           prev_hash="", hash="")
        notices = reconciliation_mismatch(session, event)
        assert len(notices) == 1 and "mismatches: 2" in notices[0].body_en
        assert notifications.deliver(session, notices[0]) == 1
        matched = AuditEvent(seq=0, action="reconciliation.run", subject_type="reconciliation", subject_id="5",
                             data={"ok": True, "summary": {}}, prev_hash="", hash="")
        assert reconciliation_mismatch(session, matched) == []
    assert _inbox(client, world.finance, "en")["items"][0]["link"] == "/finance/reconciliations/4"  # type: ignore[index]
