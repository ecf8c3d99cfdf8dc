"""The ledger balances by construction, books each outside object once, and never changes a posting."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from core.config import get_settings
from core.db import get_engine, unit_of_work
from licensing.ledger.service import BANK, NON_TAX_REVENUE, AlreadyBooked, Line, UnbalancedEntry, ledger


def _book(key: str | None = "bank:REF1", amount: int = 10_000) -> None:
    with unit_of_work() as session:
        ledger.post(session, "payment", "test", [Line(BANK, "CNY", debit=amount),
                                                  Line(NON_TAX_REVENUE, "CNY", credit=amount)], external_key=key)


def test_an_unbalanced_entry_is_refused(db: str) -> None:
    with pytest.raises(UnbalancedEntry), unit_of_work() as session:
        ledger.post(session, "payment", "bad", [Line(BANK, "CNY", debit=100), Line(NON_TAX_REVENUE, "CNY", credit=99)])
    with pytest.raises(UnbalancedEntry), unit_of_work() as session:
        ledger.post(session, "payment", "mixed currencies", [Line(BANK, "CNY", debit=100),
                                                             Line(NON_TAX_REVENUE, "USD", credit=100)])


def test_an_outside_object_books_once(db: str) -> None:
    _book()
    with pytest.raises(AlreadyBooked):
        _book()
    with unit_of_work() as session:
        balance = ledger.trial_balance(session)
    assert balance["balanced"] and sum(a["debit_minor"] for a in balance["accounts"]) == 10_000


def test_postings_are_append_only_in_the_database(db: str) -> None:
    _book()
    for statement in ("UPDATE postings SET debit_minor = 1", "DELETE FROM postings",
                      "DELETE FROM journal_entries"):
        with pytest.raises(DBAPIError, match="append-only"), get_engine().begin() as conn:
            conn.execute(text(statement))


def test_postgres_refuses_an_unbalanced_entry_at_commit(db: str) -> None:
    if get_settings().is_sqlite:
        pytest.skip("the deferred balance trigger is PostgreSQL's; on SQLite the service check above holds")
    with pytest.raises(DBAPIError, match="does not balance"), get_engine().begin() as conn:
        entry = conn.execute(text("INSERT INTO journal_entries (at, kind, description) "
                                  "VALUES (now(), 'payment', 'raw') RETURNING id")).scalar_one()
        conn.execute(text("INSERT INTO postings (entry_id, account_code, currency, debit_minor, credit_minor) "
                          "VALUES (:e, '1001', 'CNY', 500, 0), (:e, '4001', 'CNY', 0, 400)"), {"e": entry})


def test_ledger_verify_finds_no_problem_in_a_sound_book(db: str) -> None:
    _book("bank:A")
    _book("bank:B", 2_500)
    with unit_of_work() as session:
        assert ledger.verify(session) == []
