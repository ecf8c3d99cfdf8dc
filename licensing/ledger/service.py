"""The treasury ledger: the only writer of postings.

Every entry is balanced per currency before it is written (and PostgreSQL re-checks at commit with a
deferred constraint trigger). Postings are never changed: a correction is a reversing entry. An entry
tied to an outside object (bank reference, Stripe event, payout) carries it as `external_key`, which
is unique, so the same object can never be booked twice.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from core.errors import Conflict, InvalidInput
from licensing.ledger.models import JournalEntry, LedgerAccount, Posting

BANK, STRIPE_CLEARING, TREASURY_PAYABLE = "1001", "1002", "2001"
NON_TAX_REVENUE, REVENUE_REFUNDS, PROCESSING_FEES = "4001", "4901", "5001"


class UnbalancedEntry(InvalidInput):
    type = "unbalanced-entry"
    title = "A journal entry must balance"


class AlreadyBooked(Conflict):
    type = "already-booked"
    title = "This outside object is booked already"


@dataclass(frozen=True)
class Line:
    account: str
    currency: str
    debit: int = 0  # minor units
    credit: int = 0  # minor units


class LedgerService:
    def post(
        self, session: Session, kind: str, description: str, lines: list[Line], *, external_key: str | None = None,
        payment_id: int | None = None, created_by: int | None = None, reverses: int | None = None,
    ) -> JournalEntry:
        """Write one balanced entry; refuse an unbalanced one or a second booking of `external_key`."""
        check_balanced(lines)
        booked = select(JournalEntry.id).where(JournalEntry.external_key == external_key)
        if external_key and session.exec(booked).first():
            raise AlreadyBooked(f"{external_key} is booked already")
        entry = JournalEntry(kind=kind, description=description, external_key=external_key, payment_id=payment_id,
                             created_by=created_by, reverses_entry_id=reverses)
        session.add(entry)
        session.flush()
        for line in lines:
            session.add(Posting(entry_id=entry.id or 0, account_code=line.account, currency=line.currency,
                                debit_minor=line.debit, credit_minor=line.credit))
        session.flush()
        return entry

    def trial_balance(self, session: Session) -> dict[str, Any]:
        """Debit and credit totals per account and currency, and whether the whole book balances."""
        totals = session.exec(
            select(Posting.account_code, Posting.currency, func.sum(Posting.debit_minor),
                   func.sum(Posting.credit_minor))
            .group_by(col(Posting.account_code), col(Posting.currency)).order_by(col(Posting.account_code))
        ).all()
        accounts = {a.code: a for a in session.exec(select(LedgerAccount)).all()}
        rows = [{"code": code, "name": accounts[code].name, "name_zh": accounts[code].name_zh,
                 "type": accounts[code].type, "currency": cur, "debit_minor": int(d or 0), "credit_minor": int(c or 0)}
                for code, cur, d, c in totals]
        per_currency: dict[str, int] = defaultdict(int)
        for _, cur, d, c in totals:
            per_currency[cur] += int(d or 0) - int(c or 0)
        return {"accounts": rows, "balanced": all(v == 0 for v in per_currency.values())}

    def entries(self, session: Session, limit: int, offset: int) -> dict[str, Any]:
        total = session.exec(select(func.count()).select_from(JournalEntry)).one()
        page = select(JournalEntry).order_by(col(JournalEntry.id).desc()).limit(limit).offset(offset)
        entries = session.exec(page).all()
        ids = [e.id for e in entries]
        postings: dict[int, list[Posting]] = defaultdict(list)
        for p in session.exec(select(Posting).where(col(Posting.entry_id).in_(ids)).order_by(col(Posting.id))).all():
            postings[p.entry_id].append(p)
        items = [{**e.model_dump(), "postings": [p.model_dump(exclude={"entry_id"}) for p in postings[e.id or 0]]}
                 for e in entries]
        return {"items": items, "total": int(total)}

    def verify(self, session: Session) -> list[str]:
        """Every invariant over the whole book; returns the breaks found (empty when sound)."""
        problems = [f"entry {entry_id} does not balance in {cur}: {d} debit vs {c} credit"
                    for entry_id, cur, d, c in session.exec(
                        select(Posting.entry_id, Posting.currency, func.sum(Posting.debit_minor),
                               func.sum(Posting.credit_minor)).group_by(col(Posting.entry_id), col(Posting.currency))
                    ).all() if d != c]
        empty = session.exec(select(JournalEntry.id).where(
            ~select(Posting.id).where(Posting.entry_id == JournalEntry.id).exists())).all()
        problems += [f"entry {entry_id} has no postings" for entry_id in empty]
        return problems


def check_balanced(lines: list[Line]) -> None:
    if len(lines) < 2:
        raise UnbalancedEntry("A journal entry needs at least two postings")
    totals: dict[str, int] = defaultdict(int)
    for line in lines:
        if line.debit < 0 or line.credit < 0 or (line.debit == 0) == (line.credit == 0):
            raise UnbalancedEntry(f"Posting to {line.account}: exactly one of debit or credit, and not negative")
        totals[line.currency] += line.debit - line.credit
    unbalanced = {cur: diff for cur, diff in totals.items() if diff}
    if unbalanced:
        raise UnbalancedEntry(f"Debits and credits differ by {unbalanced} (minor units)")


ledger = LedgerService()
