"""Per-query fees (按次计费): an industry offer may charge a price per query beside (or instead of) its price
for the term. A query's fee is booked to the treasury ledger in the unit of work that releases its result
(`sandbox.service.store_release`), keyed by the query, so it is charged exactly once and only for a release: a
job ends once, as released, refunded or failed, and a refunded or failed job released nothing and is never
charged. The fee is revenue when released and stays receivable (1101) until the enterprise pays it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import func
from sqlmodel import Session, col, select

from core.audit import Actor, record
from core.auth import Principal
from licensing.ledger.models import JournalEntry, Posting
from licensing.ledger.service import QUERY_FEES_RECEIVABLE, ledger, query_fee_prefix
from licensing.models import License
from licensing.service.licenses import license_service


class QueryFeesRead(BaseModel):
    """What a licence's released queries have cost so far at its per-query price."""

    license_id: int
    price_per_query_minor: int = Field(description="Fen per released query (0: the licence has no per-query price)")
    currency: str
    queries_charged: int
    accrued_minor: int = Field(description="Per-query fees booked so far, in minor units (fen)")


class QueryFeeService:
    def on_release(self, session: Session, actor: Actor, license_id: int, query_id: int) -> int:
        """Book the released query's fee (Dr 1101 / Cr 4001) in the caller's unit of work; the fee in fen, or 0."""
        licence = session.get(License, license_id)
        if licence is None or licence.price_per_query_minor <= 0:
            return 0
        entry = ledger.book_query_fee(session, license_id, query_id, licence.price_per_query_minor, licence.currency)
        record(session, actor, "license.query_fee_booked", "license", license_id,
               {"query_id": query_id, "amount_minor": licence.price_per_query_minor, "currency": licence.currency,
                "entry_id": entry.id})
        return licence.price_per_query_minor

    def accrued(self, session: Session, who: Principal, license_id: int) -> QueryFeesRead:
        """The caller's licence: how many queries were charged and what they cost."""
        licence = license_service.get(session, who, license_id)
        count, total = session.execute(
            select(func.count(col(JournalEntry.id)), func.coalesce(func.sum(col(Posting.debit_minor)), 0))
            .join(Posting, col(Posting.entry_id) == JournalEntry.id)
            .where(col(JournalEntry.kind) == "query_fee", col(Posting.account_code) == QUERY_FEES_RECEIVABLE,
                   col(JournalEntry.external_key).like(f"{query_fee_prefix(license_id)}%"))).one()
        return QueryFeesRead(license_id=licence.id, price_per_query_minor=licence.price_per_query_minor,
                             currency=licence.currency, queries_charged=int(count), accrued_minor=int(total))

    def booked_between(self, session: Session, start: datetime, end: datetime) -> int:
        """Per-query fees booked as revenue in [start, end), in fen: they count against the revenue ceiling
        when they are earned (on release), not when they are collected."""
        total = session.execute(
            select(func.coalesce(func.sum(col(Posting.debit_minor)), 0))
            .join(JournalEntry, col(Posting.entry_id) == JournalEntry.id)
            .where(col(JournalEntry.kind) == "query_fee", col(Posting.account_code) == QUERY_FEES_RECEIVABLE,
                   col(JournalEntry.at) >= start, col(JournalEntry.at) < end)).scalar_one()
        return int(total)


query_fees = QueryFeeService()
