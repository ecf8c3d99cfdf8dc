"""The registration certificate (登记证书): a PDF with the code whose Chinese is real text, for the product's
provider and the data office, issued once the public notice has ended; linked from the public record's page."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from httpx import Response
from pypdf import PdfReader
from sqlalchemy import update
from sqlmodel import col

from core.auth import Role
from core.db import unit_of_work
from market.models import Registration
from tests.flow import World, ok, staff
from tests.market.steps import API, transition


def _text(pdf: bytes) -> str:
    return re.sub(r"[\s\x00]+", "", "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages))


def _end_notice(code: str) -> None:
    with unit_of_work() as session:
        session.execute(update(Registration).where(col(Registration.code) == code)
                        .values(notice_ends_at=datetime.now(UTC) - timedelta(minutes=1)))


def test_the_provider_and_the_office_download_a_certificate_with_the_code_once_the_notice_ends(
        client: TestClient) -> None:
    world = World(client)
    code = ok(client.get(f"{API}/catalog/{world.listing['id']}"))["registration_code"]
    path = f"{API}/registrations/{code}/certificate.pdf"
    early = client.get(path, headers=world.provider)
    assert early.status_code == 409 and early.json()["type"] == "registration-under-notice"
    assert "公示期" in early.json()["detail_zh"]
    _end_notice(code)
    for who in (world.provider, world.office):
        response = client.get(path, headers=who)
        assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
        text = _text(response.content)
        assert code in text and "公共数据资源登记证书" in text and "人口收入统计" in text
        assert "统计局" in text and "首次登记" in text and "国家" in text
    assert client.get(path).status_code == 401
    assert client.get(path, headers=world.enterprise()).status_code == 403
    other = staff(client, "other@gov.test", Role.provider, "税务局 Tax")
    assert client.get(path, headers=other).status_code == 404  # another department's record is not its to download
    assert client.get(f"{API}/registrations/SYDJ-1999-000001/certificate.pdf", headers=world.office).status_code == 404


def test_a_cancelled_registrations_certificate_says_so_and_lists_every_kind_of_event(client: TestClient) -> None:
    world = World(client)
    listing_id = world.listing["id"]
    code = ok(client.get(f"{API}/catalog/{listing_id}"))["registration_code"]
    ok(client.post(f"{API}/listings/{listing_id}/grade", headers=world.office,
                   json={"grade": "important", "reason_code": "regulation-change"}))
    ok(client.post(f"{API}/registrations/{code}/corrections", headers=world.office,
                   json={"title": "人口收入统计（更正）", "note": "登记标题笔误更正",
                         "reason_code": "registration-error"}))
    ok(transition(client, world.office, listing_id, "retire", "superseded"))
    record = ok(client.get(f"{API}/registrations/{code}"))
    assert [e["kind"] for e in record["events"]] == ["initial", "change", "correction", "cancellation"]
    text = _text(ok_pdf(client.get(f"{API}/registrations/{code}/certificate.pdf", headers=world.office)))
    assert "本登记已注销" in text
    assert all(kind in text for kind in ("首次登记", "变更登记", "更正登记", "注销登记"))


def ok_pdf(response: Response) -> bytes:
    assert response.status_code == 200, response.text
    return bytes(response.content)


def test_the_public_registration_page_shows_the_record_and_links_the_certificate(client: TestClient) -> None:
    world = World(client)
    code = ok(client.get(f"{API}/catalog/{world.listing['id']}"))["registration_code"]
    anonymous = TestClient(client.app)
    listing_page = anonymous.get(f"/listings/{world.listing['id']}")
    assert f'href="/registrations/{code}"' in listing_page.text
    page = anonymous.get(f"/registrations/{code}", headers={"accept-language": "zh-CN"})
    assert page.status_code == 200 and "公示中" in page.text and "公示期满后出具登记证书" in page.text
    assert f"/complaints/new?registration_code={code}" in page.text
    _end_notice(code)
    page = anonymous.get(f"/registrations/{code}")
    assert f'href="/api/v1/registrations/{code}/certificate.pdf"' in page.text
    assert code in anonymous.get("/registrations").text
