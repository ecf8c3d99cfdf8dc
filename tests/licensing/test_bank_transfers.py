"""Bank transfers people can make: the treasury account from settings, partial payments that keep the rest due,
and a bank statement (UTF-8 or GBK, as banks export it) matched to transfers by reference and amount."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.config import ConfigError, Settings, check_production, get_settings
from core.db import unit_of_work
from licensing.ledger.service import ledger
from tests.flow import World, ok
from tests.licensing.helpers import apply

API = "/api/v1"


def _checkout(world: World, headers: dict[str, str], licence_id: int) -> dict[str, Any]:
    return dict(ok(world.client.post(f"{API}/licenses/{licence_id}/checkout", json={"method": "bank_transfer"},
                                     headers=headers)))


def _balance(code: str) -> int:
    with unit_of_work() as session:
        debit, credit = ledger.balances(session, "CNY").get((code, "CNY"), (0, 0))
    return debit - credit


def test_checkout_names_the_treasury_account_from_the_settings(client: TestClient,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHUYU_TREASURY_ACCOUNT_NUMBER", "3501 0000 1234 5678")
    get_settings.cache_clear()
    world = World(client)
    enterprise = world.enterprise()
    pay = _checkout(world, enterprise, apply(client, enterprise, world.listing)["id"])
    assert pay["bank_account"]["account_number"] == "3501 0000 1234 5678"
    assert set(pay["bank_account"]) == {"account_name", "bank", "account_number"}
    assert pay["bank_reference"].startswith("SY")


def test_production_refuses_the_demo_treasury_account(tmp_path: Any) -> None:
    import base64

    key = base64.b64encode(b"k" * 32).decode()
    with pytest.raises(ConfigError, match="SHUYU_TREASURY_ACCOUNT_NAME"):
        check_production(Settings(env="production", data_dir=tmp_path, master_key=key))
    real = Settings(env="production", data_dir=tmp_path, master_key=key, treasury_account_name="某市财政局非税收入专户",
                    treasury_bank="某银行某支行", treasury_account_number="1234 5678 9012")
    check_production(real)


def test_a_short_payment_is_held_and_the_rest_stays_due_until_it_arrives(client: TestClient) -> None:
    world = World(client)
    enterprise = world.enterprise()
    licence = apply(client, enterprise, world.listing)
    pay = _checkout(world, enterprise, licence["id"])
    confirm = f"{API}/payments/{pay['payment_id']}/confirm"
    part = ok(client.post(confirm, headers=world.finance, json={"bank_reference": pay["bank_reference"],
                                                                "amount_minor": 20_000}))
    assert (part["status"], part["received_minor"]) == ("pending", 20_000)
    assert ok(client.get(f"{API}/licenses/{licence['id']}", headers=enterprise))["status"] == "awaiting_payment"
    assert (_balance("1001"), _balance("2201"), _balance("4001")) == (20_000, -20_000, 0)
    over = client.post(confirm, headers=world.finance, json={"bank_reference": pay["bank_reference"],
                                                             "amount_minor": 30_001})
    assert over.status_code == 422 and "¥300.00" in over.json()["detail_zh"] and "minor" not in over.json()["detail"]
    again = _checkout(world, enterprise, licence["id"])
    assert again["received_minor"] == 20_000 and again["bank_reference"] == pay["bank_reference"]
    done = ok(client.post(confirm, headers=world.finance, json={"bank_reference": pay["bank_reference"],
                                                                "amount_minor": 30_000}))
    assert done["status"] == "succeeded"
    assert ok(client.get(f"{API}/licenses/{licence['id']}", headers=enterprise))["status"] == "active"
    assert (_balance("1001"), _balance("2201"), _balance("4001")) == (50_000, 0, -50_000)
    with unit_of_work() as session:
        assert ledger.verify(session) == []


STATEMENT = """账号:,3501000012345678
户名:,数域公共数据授权运营非税收入专户
交易日期,摘要,借方金额,贷方金额,余额,对方户名,对方账号
2026-11-28,转账 {ref1},,"500.00","1,500.00",数据公司,6222000011112222
2026-11-28,货款 {ref2},,200.00,1700.00,闽数科技,6222000033334444
2026-11-28,手续费,5.00,,1695.00,,
2026-11-29,汇款 SY0000000000,,80.00,1775.00,不认识的公司,6222000055556666
2026-11-29,没有参考号的汇款,,99.00,1874.00,某公司,6222000077778888
"""


@pytest.mark.parametrize("encoding", ["gbk", "utf-8-sig"])
def test_a_bank_statement_confirms_matching_transfers_and_lists_what_did_not_match(
        client: TestClient, encoding: str) -> None:
    world = World(client)
    first = world.enterprise()
    pay1 = _checkout(world, first, apply(client, first, world.listing)["id"])
    licence2 = apply(client, first, world.listing)
    pay2 = _checkout(world, first, licence2["id"])
    text = STATEMENT.format(ref1=pay1["bank_reference"], ref2=pay2["bank_reference"].lower())
    files = {"file": ("statement.csv", text.encode(encoding), "text/csv")}
    result = ok(client.post(f"{API}/payments/bank-statement", headers=world.finance, files=files))
    assert result["encoding"] == ("gb18030" if encoding == "gbk" else "utf-8")
    assert [(m["reference"], m["amount_minor"], m["outcome"]) for m in result["matched"]] == [
        (pay1["bank_reference"], 50_000, "paid"), (pay2["bank_reference"], 20_000, "partial")]
    assert [(u["amount_minor"], u["outcome"]) for u in result["unmatched"]] == [
        (8_000, "unknown-reference"), (9_900, "no-reference")]
    assert result["matched"][0]["payer"] == "数据公司" and result["matched"][0]["date"] == "2026-11-28"
    assert ok(client.get(f"{API}/licenses/{licence2['id']}", headers=first))["status"] == "awaiting_payment"
    again = ok(client.post(f"{API}/payments/bank-statement", headers=world.finance, files=files))
    assert again["matched"] == []  # importing the same statement twice books nothing twice
    assert [u["outcome"] for u in again["unmatched"]] == ["not-pending", "already-imported", "unknown-reference",
                                                          "no-reference"]
    with unit_of_work() as session:
        assert ledger.verify(session) == []


def test_a_file_that_is_not_a_statement_is_refused_in_chinese(client: TestClient) -> None:
    world = World(client)
    refused = client.post(f"{API}/payments/bank-statement", headers=world.finance,
                          files={"file": ("x.csv", b"a,b\n1,2\n", "text/csv")})
    assert refused.status_code == 422 and "金额列" in refused.json()["detail_zh"]
