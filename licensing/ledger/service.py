"""The treasury ledger: the only writer of postings, and the place every booking rule is written down.

Every entry is balanced per currency before it is written (and PostgreSQL re-checks at commit with a
deferred constraint trigger). Postings are never changed: a correction is a reversing entry. An entry
tied to an outside object (bank reference, Stripe charge, refund or payout, treasury receipt) carries it
as `external_key`, which is unique, so the same object can never be booked twice. docs/finance.md
explains each rule below to a finance officer.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from core.errors import Conflict, InvalidInput
from licensing.ledger.models import JournalEntry, LedgerAccount, Posting
from licensing.models import Payment, PaymentRefund, Remittance

BANK, STRIPE_CLEARING, TREASURY_PAYABLE, REMITTED = "1001", "1002", "2001", "3001"
RECEIVED_IN_PART = "2201"  # bank transfers received in part: held until the whole fee is in
QUERY_FEES_RECEIVABLE = "1101"  # per-query fees (按次计费) booked as revenue when released, not paid yet
NON_TAX_REVENUE, REVENUE_REFUNDS, PROCESSING_FEES = "4001", "4901", "5001"
SETTLED = ("succeeded", "partially_refunded", "refunded")


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


@dataclass(frozen=True)
class TreasuryPosition:
    """Non-tax revenue collected (net of refunds), remitted to the treasury, and still owed, in minor units."""

    currency: str
    collected_minor: int
    remitted_minor: int

    @property
    def owed_minor(self) -> int:
        return self.collected_minor - self.remitted_minor

    def as_dict(self) -> dict[str, Any]:
        return {"currency": self.currency, "collected_minor": self.collected_minor,
                "remitted_minor": self.remitted_minor, "owed_minor": self.owed_minor}


class LedgerService:
    def post(
        self, session: Session, kind: str, description: str, lines: list[Line], *, external_key: str | None = None,
        payment_id: int | None = None, created_by: int | None = None, reverses: int | None = None,
    ) -> JournalEntry:
        """Write one balanced entry; refuse an unbalanced one or a second booking of `external_key`."""
        check_balanced(lines)
        if external_key and self.entry_for(session, external_key) is not None:
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

    def entry_for(self, session: Session, external_key: str) -> JournalEntry | None:
        """The entry booked for an outside object, if any."""
        return session.exec(select(JournalEntry).where(JournalEntry.external_key == external_key)).first()

    # --- booking rules (docs/finance.md, "Booking rules") ---

    def book_bank_payment(self, session: Session, payment: Payment, created_by: int | None,
                          last_part: int | None = None) -> JournalEntry:
        """A bank transfer paid in full: Dr 1001 Bank / Cr 4001 非税收入, keyed by the bank reference.

        When earlier parts were held in 2201, the last part and the held parts become the revenue together:
        Dr 1001 Bank (last part) + Dr 2201 (held) / Cr 4001 (the whole fee), so revenue is booked once."""
        amount, cur = payment.amount_minor, payment.currency
        held = payment.received_minor
        cash = amount - held if last_part is None else last_part
        if cash + held != amount:
            raise UnbalancedEntry(f"The last part ({cash}) and the parts held ({held}) do not make the fee ({amount})")
        lines = [Line(BANK, cur, debit=cash), Line(RECEIVED_IN_PART, cur, debit=held),
                 Line(NON_TAX_REVENUE, cur, credit=amount)]
        return self.post(session, "payment", f"Licence {payment.license_id} fee, bank transfer "
                         f"{payment.bank_reference}", [line for line in lines if line.debit or line.credit],
                         external_key=f"bank:{payment.bank_reference}", payment_id=payment.id, created_by=created_by)

    def book_bank_part(self, session: Session, payment: Payment, amount: int, created_by: int | None,
                       key: str | None = None) -> JournalEntry:
        """Part of a bank transfer's fee arrived: Dr 1001 Bank / Cr 2201 received in part (not revenue yet).

        Keyed by the statement line when it came from one, so importing that statement again books nothing."""
        part = 1 + int(session.exec(select(func.count()).select_from(JournalEntry).where(
            JournalEntry.payment_id == payment.id, JournalEntry.kind == "part")).one())
        return self.post(session, "part", f"Licence {payment.license_id} fee, part {part} of bank transfer "
                         f"{payment.bank_reference}", [Line(BANK, payment.currency, debit=amount),
                                                       Line(RECEIVED_IN_PART, payment.currency, credit=amount)],
                         external_key=key or f"bank:{payment.bank_reference}:part:{part}", payment_id=payment.id,
                         created_by=created_by)

    def book_stripe_charge(self, session: Session, payment: Payment, charge_id: str, gross: int, fee: int,
                           currency: str) -> JournalEntry:
        """A Stripe charge, from its balance transaction: gross to the treasury, the fee as an expense.

        Dr 1002 Stripe clearing (net) + Dr 5001 fees / Cr 4001 非税收入 (gross), keyed by the charge id."""
        lines = [Line(STRIPE_CLEARING, currency, debit=gross - fee), Line(NON_TAX_REVENUE, currency, credit=gross)]
        if fee:
            lines.insert(1, Line(PROCESSING_FEES, currency, debit=fee))
        return self.post(session, "payment", f"Licence {payment.license_id} fee, Stripe charge {charge_id}", lines,
                         external_key=f"stripe:charge:{charge_id}", payment_id=payment.id)

    def book_refund(self, session: Session, payment: Payment, key: str, amount: int, currency: str,
                    created_by: int | None) -> JournalEntry:
        """A refund reverses (part of) the payment's revenue: Dr 4901 refunds / Cr the account the money left.

        Bank transfers leave 1001 Bank; Stripe refunds leave 1002 Stripe clearing."""
        paid_from = STRIPE_CLEARING if payment.method == "stripe" else BANK
        original = session.exec(select(JournalEntry.id).where(JournalEntry.payment_id == payment.id,
                                                              JournalEntry.kind == "payment")).first()
        return self.post(session, "refund", f"Refund on licence {payment.license_id} ({key})", [
            Line(REVENUE_REFUNDS, currency, debit=amount), Line(paid_from, currency, credit=amount),
        ], external_key=key, payment_id=payment.id, created_by=created_by, reverses=original)

    def book_query_fee(self, session: Session, license_id: int, query_id: int, amount: int,
                       currency: str) -> JournalEntry:
        """A per-query fee (按次计费), when the query's result is released: Dr 1101 per-query fees receivable /
        Cr 4001 非税收入, keyed by the licence and the query, so a query is charged at most once."""
        return self.post(session, "query_fee", f"Licence {license_id}, query {query_id}: per-query fee", [
            Line(QUERY_FEES_RECEIVABLE, currency, debit=amount), Line(NON_TAX_REVENUE, currency, credit=amount),
        ], external_key=query_fee_key(license_id, query_id))

    def book_payout(self, session: Session, payout_id: str, amount: int, currency: str) -> JournalEntry:
        """Stripe paid out to the bank: Dr 1001 Bank / Cr 1002 Stripe clearing, keyed by the payout id."""
        return self.post(session, "payout", f"Stripe payout {payout_id}", [
            Line(BANK, currency, debit=amount), Line(STRIPE_CLEARING, currency, credit=amount),
        ], external_key=f"stripe:payout:{payout_id}")

    def book_remittance(self, session: Session, reference: str, amount: int, currency: str,
                        created_by: int | None) -> JournalEntry:
        """Collected revenue handed to the treasury (上缴国库): Dr 3001 remitted / Cr 1001 Bank."""
        return self.post(session, "remittance", f"Remittance to the treasury, receipt {reference}", [
            Line(REMITTED, currency, debit=amount), Line(BANK, currency, credit=amount),
        ], external_key=f"remittance:{reference}", created_by=created_by)

    # --- reading the book ---

    def balances(self, session: Session, currency: str | None = None) -> dict[tuple[str, str], tuple[int, int]]:
        """(account, currency) → (debit total, credit total)."""
        query = select(Posting.account_code, Posting.currency, func.sum(Posting.debit_minor),
                       func.sum(Posting.credit_minor)).group_by(col(Posting.account_code), col(Posting.currency))
        if currency:
            query = query.where(Posting.currency == currency)
        return {(code, cur): (int(d or 0), int(c or 0)) for code, cur, d, c in session.exec(query).all()}

    def treasury_position(self, session: Session, currency: str) -> TreasuryPosition:
        """What was collected for the treasury, what was remitted, and (by difference) what is still owed."""
        totals = self.balances(session, currency)
        revenue_d, revenue_c = totals.get((NON_TAX_REVENUE, currency), (0, 0))
        refunds_d, refunds_c = totals.get((REVENUE_REFUNDS, currency), (0, 0))
        remitted_d, remitted_c = totals.get((REMITTED, currency), (0, 0))
        # Per-query fees are revenue once released but are collected only when paid: what 1101 still holds is owed
        # by enterprises, not cash that could be remitted.
        unpaid_d, unpaid_c = totals.get((QUERY_FEES_RECEIVABLE, currency), (0, 0))
        return TreasuryPosition(currency, (revenue_c - revenue_d) - (refunds_d - refunds_c) - (unpaid_d - unpaid_c),
                                remitted_d - remitted_c)

    def currencies(self, session: Session) -> list[str]:
        """Every currency with postings."""
        return sorted(session.exec(select(Posting.currency).distinct()).all())

    def trial_balance(self, session: Session) -> dict[str, Any]:
        """Debit and credit totals per account and currency, and whether the whole book balances."""
        totals = sorted(self.balances(session).items())
        accounts = {a.code: a for a in session.exec(select(LedgerAccount)).all()}
        rows = [{"code": code, "name": accounts[code].name, "name_zh": accounts[code].name_zh,
                 "type": accounts[code].type, "currency": cur, "debit_minor": d, "credit_minor": c}
                for (code, cur), (d, c) in totals]
        per_currency: dict[str, int] = defaultdict(int)
        for (_, cur), (d, c) in totals:
            per_currency[cur] += d - c
        return {"accounts": rows, "balanced": all(v == 0 for v in per_currency.values()),
                "treasury": [self.treasury_position(session, cur).as_dict() for cur in sorted(per_currency)]}

    def entries(self, session: Session, limit: int, offset: int) -> dict[str, Any]:
        """Journal entries with their postings, newest first."""
        total = session.exec(select(func.count()).select_from(JournalEntry)).one()
        page = select(JournalEntry).order_by(col(JournalEntry.id).desc()).limit(limit).offset(offset)
        entries = session.exec(page).all()
        return {"items": self.with_postings(session, list(entries)), "total": int(total)}

    def with_postings(self, session: Session, entries: list[JournalEntry]) -> list[dict[str, Any]]:
        """Entries as dicts, each with its postings."""
        postings = self.postings_of(session, [e.id or 0 for e in entries])
        return [{**e.model_dump(), "postings": [p.model_dump(exclude={"entry_id"}) for p in postings[e.id or 0]]}
                for e in entries]

    def postings_of(self, session: Session, entry_ids: list[int]) -> dict[int, list[Posting]]:
        """entry id → its postings."""
        postings: dict[int, list[Posting]] = defaultdict(list)
        query = select(Posting).where(col(Posting.entry_id).in_(entry_ids)).order_by(col(Posting.id))
        for p in session.exec(query).all():
            postings[p.entry_id].append(p)
        return postings

    def verify(self, session: Session) -> list[str]:
        """Every invariant over the whole book; returns the breaks found (empty when sound)."""
        return [*self._unbalanced(session), *self._payments_booked_once(session), *self._refunds_agree(session),
                *self._reversals_point_back(session), *self._remittances_covered(session),
                *self._parts_held(session)]

    def _parts_held(self, session: Session) -> list[str]:
        """What 2201 holds for a payment equals what was received of it while it is pending, and 0 once paid."""
        held: dict[int, int] = defaultdict(int)
        rows = session.execute(sa_select(col(JournalEntry.payment_id), col(Posting.debit_minor),
                                         col(Posting.credit_minor))
                               .join(Posting, col(Posting.entry_id) == JournalEntry.id)
                               .where(col(Posting.account_code) == RECEIVED_IN_PART)).all()
        for payment_id, debit, credit in rows:
            held[payment_id or 0] += credit - debit
        problems = []
        for payment in session.exec(select(Payment).where(Payment.method == "bank_transfer")).all():
            expected = payment.received_minor if payment.status == "pending" else 0
            if held.get(payment.id or 0, 0) != expected:
                problems.append(f"payment {payment.id}: {held.get(payment.id or 0, 0)} held as received in part, "
                                f"{expected} expected")
        return problems

    def _unbalanced(self, session: Session) -> list[str]:
        problems = [f"entry {entry_id} does not balance in {cur}: {d} debit vs {c} credit"
                    for entry_id, cur, d, c in session.exec(
                        select(Posting.entry_id, Posting.currency, func.sum(Posting.debit_minor),
                               func.sum(Posting.credit_minor)).group_by(col(Posting.entry_id), col(Posting.currency))
                    ).all() if d != c]
        empty = session.exec(select(JournalEntry.id).where(
            ~select(Posting.id).where(Posting.entry_id == JournalEntry.id).exists())).all()
        return problems + [f"entry {entry_id} has no postings" for entry_id in empty]

    def _revenue_by_payment(self, session: Session, kind: str, account: str) -> dict[int, tuple[int, int]]:
        """payment id → (number of `kind` entries, net amount on `account` in those entries)."""
        rows = session.execute(sa_select(col(JournalEntry.payment_id), col(JournalEntry.id), col(Posting.account_code),
                                         col(Posting.debit_minor), col(Posting.credit_minor))
                               .join(Posting, col(Posting.entry_id) == JournalEntry.id)
                               .where(col(JournalEntry.kind) == kind, col(JournalEntry.payment_id).is_not(None))).all()
        entries: dict[int, set[int]] = defaultdict(set)
        amounts: dict[int, int] = defaultdict(int)
        for payment_id, entry_id, code, debit, credit in rows:
            entries[payment_id or 0].add(entry_id or 0)
            if code == account:
                amounts[payment_id or 0] += (credit - debit) if account == NON_TAX_REVENUE else (debit - credit)
        return {p: (len(ids), amounts[p]) for p, ids in entries.items()}

    def _payments_booked_once(self, session: Session) -> list[str]:
        booked = self._revenue_by_payment(session, "payment", NON_TAX_REVENUE)
        problems = []
        for payment in session.exec(select(Payment)).all():
            count, amount = booked.get(payment.id or 0, (0, 0))
            settled = payment.status in SETTLED
            if settled and count != 1:
                problems.append(f"payment {payment.id} is {payment.status} but has {count} revenue entries")
            elif not settled and count:
                problems.append(f"payment {payment.id} is {payment.status} yet its revenue is booked")
            elif settled and payment.method == "bank_transfer" and amount != payment.amount_minor:
                problems.append(f"payment {payment.id}: {amount} booked as revenue, {payment.amount_minor} received")
        return problems

    def _refunds_agree(self, session: Session) -> list[str]:
        booked = self._revenue_by_payment(session, "refund", REVENUE_REFUNDS)
        revenue = self._revenue_by_payment(session, "payment", NON_TAX_REVENUE)
        recorded: dict[int, int] = defaultdict(int)
        for refund in session.exec(select(PaymentRefund)).all():
            recorded[refund.payment_id] += refund.amount_minor
        problems = []
        for payment in session.exec(select(Payment).order_by(col(Payment.id))).all():
            pid = payment.id or 0
            in_ledger, in_records = booked.get(pid, (0, 0))[1], recorded.get(pid, 0)
            if not payment.refunded_minor == in_ledger == in_records:
                problems.append(f"payment {pid}: refunded {payment.refunded_minor}, refund records {in_records}, "
                                f"refunds booked {in_ledger}")
            if in_ledger > revenue.get(pid, (0, 0))[1]:
                problems.append(f"payment {pid}: refunds ({in_ledger}) exceed the revenue booked for it")
        return problems

    def _reversals_point_back(self, session: Session) -> list[str]:
        reversing = session.exec(select(JournalEntry).where(col(JournalEntry.reverses_entry_id).is_not(None))).all()
        problems = []
        for entry in reversing:
            original = session.get(JournalEntry, entry.reverses_entry_id)
            if original is None or original.payment_id != entry.payment_id:
                problems.append(f"entry {entry.id} reverses entry {entry.reverses_entry_id} of another payment")
        return problems

    def _remittances_covered(self, session: Session) -> list[str]:
        problems = []
        for remittance in session.exec(select(Remittance)).all():
            entry = session.get(JournalEntry, remittance.entry_id)
            if entry is None or entry.external_key != f"remittance:{remittance.reference}":
                problems.append(f"remittance {remittance.reference} is not booked under its own key")
        for cur in self.currencies(session):
            position = self.treasury_position(session, cur)
            if position.owed_minor < 0:
                problems.append(f"more {cur} was remitted to the treasury ({position.remitted_minor}) than "
                                f"collected ({position.collected_minor})")
        return problems


def query_fee_prefix(license_id: int) -> str:
    """Every per-query fee of a licence is keyed under this prefix."""
    return f"query-fee:{license_id}:"


def query_fee_key(license_id: int, query_id: int) -> str:
    return f"{query_fee_prefix(license_id)}{query_id}"


def check_balanced(lines: list[Line]) -> None:
    """Refuse an entry unless every line is one-sided and non-negative and each currency balances."""
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
