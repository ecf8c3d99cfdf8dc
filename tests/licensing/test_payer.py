"""Money seen by the payer: its own payments and refunds, and a PDF receipt whose Chinese is real text."""

from __future__ import annotations

import io
import re

from fastapi.testclient import TestClient
from pypdf import PdfReader

from licensing.receipt_pdf import amount_in_words
from tests.flow import World, ok
from tests.web.test_pages import browser_sign_in

OTHER_CODE = "91110000MA0123456P"


def _text(pdf: bytes) -> str:
    """The PDF's text with the spacing extractors put between CJK glyphs removed."""
    return re.sub(r"[\s\x00]+", "", "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages))


def test_an_enterprise_lists_its_own_payments_and_refunds_only(client: TestClient) -> None:
    world = World(client)
    analyst = world.enterprise()
    licence = world.active_licence(analyst)
    paid = ok(client.get("/api/v1/payments/mine", headers=analyst))
    assert paid["total"] == 1 and paid["items"][0]["license_id"] == licence["id"]
    payment_id = paid["items"][0]["id"]
    ok(client.post(f"/api/v1/payments/{payment_id}/refund", json={"amount_minor": 10_000, "reason": "partial"},
                   headers=world.finance))
    item = ok(client.get("/api/v1/payments/mine", headers=analyst))["items"][0]
    assert item["refunded_minor"] == 10_000 and item["refunds"][0]["amount_minor"] == 10_000
    assert client.get("/api/v1/payments/mine", headers=world.finance).status_code == 403


def test_the_receipt_names_amount_licence_payee_and_booking_in_chinese(client: TestClient) -> None:
    world = World(client)
    analyst = world.enterprise()
    licence = world.active_licence(analyst)
    payment = ok(client.get("/api/v1/payments/mine", headers=analyst))["items"][0]
    response = client.get(f"/api/v1/payments/{payment['id']}/receipt.pdf", headers=analyst)
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    text = _text(response.content)
    assert "收据" in text and "非税收入" in text and "数据公司" in text  # the payer's Chinese name
    assert "¥500.00" in text and "人民币伍佰元整" in text
    assert f"Licence{licence['id']}" in text and "人口收入统计" in text
    assert f"bank:{payment['bank_reference']}" in text
    assert client.get(f"/api/v1/payments/{payment['id']}/receipt.pdf", headers=world.finance).status_code == 403


def test_no_receipt_before_the_money_arrives_nor_for_someone_elses_payment(client: TestClient) -> None:
    world = World(client)
    analyst = world.enterprise()
    licence = ok(client.post("/api/v1/licenses", json={"listing_id": world.listing["id"], "offer_id": world.offer_id,
                                                       "purpose": "x"}, headers=analyst), 201)
    pay = ok(client.post(f"/api/v1/licenses/{licence['id']}/checkout", json={"method": "bank_transfer"},
                         headers=analyst))
    pending = client.get(f"/api/v1/payments/{pay['payment_id']}/receipt.pdf", headers=analyst)
    assert pending.status_code == 409 and pending.json()["detail_zh"]
    other = world.enterprise("别的公司 Other Co", OTHER_CODE, "other@other.test")
    assert client.get(f"/api/v1/payments/{pay['payment_id']}/receipt.pdf", headers=other).status_code == 404
    assert ok(client.get("/api/v1/payments/mine", headers=other))["total"] == 0


def test_amounts_in_words_follow_chinese_financial_writing() -> None:
    assert amount_in_words(123450) == "壹仟贰佰叁拾肆元伍角"
    assert amount_in_words(50000) == "伍佰元整"
    assert amount_in_words(100505) == "壹仟零伍元零伍分"
    assert amount_in_words(1000100) == "壹万零壹元整"
    assert amount_in_words(10000000) == "壹拾万元整"
    assert amount_in_words(5) == "伍分"
    assert amount_in_words(0) == "零元整"


def test_the_payments_page_links_the_receipt(client: TestClient) -> None:
    world = World(client)
    analyst = world.enterprise()
    world.active_licence(analyst)
    browser_sign_in(client, "analyst@data.test")
    page = client.get("/enterprise/payments", headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 200 and "我的付款" in page.text
    link = re.search(r'href="(/enterprise/payments/\d+/receipt.pdf)"', page.text)
    assert link is not None
    pdf = client.get(link.group(1))
    assert pdf.status_code == 200 and "收据" in _text(pdf.content)
