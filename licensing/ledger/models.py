"""Ledger tables. Postings are append-only (the database refuses UPDATE and DELETE on them)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Column, Text
from sqlmodel import Field, SQLModel

import licensing.models  # noqa: F401  (payments, the target of a foreign key)
from core.models import ts_column


class LedgerAccount(SQLModel, table=True):
    __tablename__ = "ledger_accounts"
    code: str = Field(primary_key=True, max_length=10)
    name: str = Field(max_length=100)
    name_zh: str = Field(max_length=100)
    type: str = Field(max_length=10)  # asset | liability | equity | revenue | expense


class JournalEntry(SQLModel, table=True):
    __tablename__ = "journal_entries"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = ts_column()
    kind: str = Field(max_length=30)  # payment | refund | fee | payout | remittance | reversal | query_fee
    description: str = Field(sa_column=Column(Text, nullable=False))
    external_key: str | None = Field(default=None, unique=True, max_length=255)  # books each outside object once
    payment_id: int | None = Field(default=None, foreign_key="payments.id", index=True)
    reverses_entry_id: int | None = Field(default=None, foreign_key="journal_entries.id")
    created_by: int | None = None


class Posting(SQLModel, table=True):
    __tablename__ = "postings"
    __table_args__ = (
        CheckConstraint("debit_minor >= 0 AND credit_minor >= 0", name="ck_posting_nonnegative"),
        CheckConstraint("(debit_minor = 0) <> (credit_minor = 0)", name="ck_posting_one_side"),
    )
    id: int | None = Field(default=None, primary_key=True)
    entry_id: int = Field(foreign_key="journal_entries.id", index=True)
    account_code: str = Field(foreign_key="ledger_accounts.code", index=True)
    currency: str = Field(max_length=3)
    debit_minor: int = 0  # minor units (fen)
    credit_minor: int = 0  # minor units (fen)
