"""Reconciliation: the ledger against Stripe's balance transactions and payouts.

Every Stripe balance transaction is matched to the ledger entry booked for its source object (a charge,
refund or payout id is the entry's external key) and its amount, fee and net are compared with the
entry's postings. Ledger entries for Stripe objects that Stripe does not list are reported too, and
each payout is checked against the sum of the transactions it paid out. A report is saved as run.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlmodel import Session, col, func, select

from core.audit import record
from core.auth import Principal
from core.errors import NotFound
from licensing.errors import InvalidStatement
from licensing.ledger.models import JournalEntry, Posting
from licensing.ledger.service import NON_TAX_REVENUE, PROCESSING_FEES, REVENUE_REFUNDS, STRIPE_CLEARING, ledger
from licensing.models import Reconciliation
from licensing.schemas import ReconciliationCreate, ReconciliationItem, ReconciliationPage, ReconciliationRead
from licensing.stripe.client import gateway

KIND_OF_TYPE = {"charge": "charge", "payment": "charge", "refund": "refund", "payment_refund": "refund",
                "payout": "payout"}
ZERO_DECIMAL = {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF",
                "XOF", "XPF"}
SECTIONS = ("matched", "missing_in_ledger", "missing_in_stripe", "mismatches", "payout_mismatches")


@dataclass(frozen=True)
class StripeLine:
    """One Stripe balance transaction, amounts in minor units (negative when money leaves the balance)."""

    id: str
    type: str
    source: str | None
    amount: int
    fee: int
    net: int
    currency: str
    created: datetime
    payout: str | None = None

    def describe(self) -> dict[str, Any]:
        return {**asdict(self), "created": self.created.isoformat()}


def _utc(at: datetime | None) -> datetime | None:
    if at is None:
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _from_api(txn: dict[str, Any]) -> StripeLine:
    source = txn.get("source")
    return StripeLine(id=txn["id"], type=str(txn.get("type")), source=source if isinstance(source, str) else None,
                      amount=int(txn["amount"]), fee=int(txn.get("fee") or 0), net=int(txn["net"]),
                      currency=str(txn["currency"]).upper(), created=datetime.fromtimestamp(txn["created"], UTC))


class ReconciliationService:
    def run(self, session: Session, who: Principal, body: ReconciliationCreate) -> ReconciliationRead:
        """Pull Stripe's balance transactions (every page) for the period and compare them with the ledger."""
        start, end = _utc(body.from_), _utc(body.to)
        stripe = gateway()
        lines = [_from_api(t) for t in stripe.balance_transactions(start, end)]
        members = {line.source: [_from_api(t) for t in stripe.balance_transactions(payout=line.source)]
                   for line in lines if line.type == "payout" and line.source}
        report = self._compare(session, lines, members, start, end, stripe.source_transaction)
        return self._save(session, who, "api", start, end, report)

    def import_csv(self, session: Session, who: Principal, data: bytes, start: datetime | None,
                   end: datetime | None) -> ReconciliationRead:
        """Compare a balance-transactions CSV exported from Stripe (dashboard or report format) with the ledger."""
        start, end = _utc(start), _utc(end)
        lines = [line for line in parse_statement(data)
                 if (start is None or line.created >= start) and (end is None or line.created < end)]
        members: dict[str, list[StripeLine]] = {}
        for line in lines:
            if line.payout and line.type != "payout":
                members.setdefault(line.payout, []).append(line)
        report = self._compare(session, lines, members, start, end, None)
        return self._save(session, who, "csv", start, end, report)

    def _compare(self, session: Session, lines: list[StripeLine], members: dict[str, list[StripeLine]],
                 start: datetime | None, end: datetime | None, lookup: Any) -> dict[str, Any]:
        report: dict[str, list[dict[str, Any]]] = {name: [] for name in SECTIONS}
        seen: set[str] = set()
        for line in lines:
            self._match(session, line, report, seen)
        report["missing_in_stripe"] = self._missing_in_stripe(session, seen, start, end, lookup)
        report["payout_mismatches"] = _payout_mismatches(lines, members)
        summary: dict[str, Any] = {name: len(report[name]) for name in SECTIONS}
        summary |= {"stripe_transactions": len(lines), "payouts_checked": sum(1 for x in lines if x.type == "payout"),
                    "stripe_net_minor": _net_by_currency(lines)}
        return {**report, "summary": summary, "ok": all(not report[n] for n in SECTIONS if n != "matched")}

    def _match(self, session: Session, line: StripeLine, report: dict[str, list[dict[str, Any]]], seen: set[str]
               ) -> None:
        kind = KIND_OF_TYPE.get(line.type)
        key = f"stripe:{kind}:{line.source}" if kind and line.source else None
        entry = ledger.entry_for(session, key) if key else None
        if entry is None or key is None:
            reason = "no ledger entry for this Stripe object" if key else \
                f"Stripe '{line.type}' transactions are not booked automatically: book or explain it"
            report["missing_in_ledger"].append({**line.describe(), "reason": reason})
            return
        seen.add(key)
        differences = _differences(line, kind or "", ledger.postings_of(session, [entry.id or 0])[entry.id or 0])
        item = {**line.describe(), "entry_id": entry.id}
        if differences:
            report["mismatches"] += [{**item, **d} for d in differences]
        else:
            report["matched"].append(item)

    def _missing_in_stripe(self, session: Session, seen: set[str], start: datetime | None, end: datetime | None,
                           lookup: Any) -> list[dict[str, Any]]:
        query = select(JournalEntry).where(col(JournalEntry.external_key).like("stripe:%"))
        if start:
            query = query.where(JournalEntry.at >= start)
        if end:
            query = query.where(JournalEntry.at < end)
        missing = []
        for entry in session.exec(query.order_by(col(JournalEntry.id))).all():
            if entry.external_key in seen:
                continue
            _, kind, source = (entry.external_key or "").split(":", 2)
            if lookup is not None and _belongs_elsewhere(lookup(kind, source), start, end):
                continue  # Stripe dates it just outside the period: it is reconciled with that period
            missing.append({"entry_id": entry.id, "external_key": entry.external_key, "kind": kind,
                            "source": source, "booked_at": str(_utc(entry.at)),
                            "reason": "booked in the ledger but not in Stripe's transactions for the period"})
        return missing

    def _save(self, session: Session, who: Principal, source: str, start: datetime | None, end: datetime | None,
              report: dict[str, Any]) -> ReconciliationRead:
        row = Reconciliation(source=source, period_from=start, period_to=end, ok=report["ok"], report=report,
                             created_by=who.user_id)
        session.add(row)
        session.flush()
        record(session, who.actor, "reconciliation.run", "reconciliation", row.id,
               {"source": source, "ok": row.ok, "summary": report["summary"]})
        return self.read(row)

    def read(self, row: Reconciliation) -> ReconciliationRead:
        """The API view of a saved reconciliation."""
        return ReconciliationRead.model_validate({
            "id": row.id, "source": row.source, "period_from": _utc(row.period_from), "period_to": _utc(row.period_to),
            "ok": row.ok, "created_at": _utc(row.created_at), **{n: row.report.get(n, []) for n in SECTIONS},
            "summary": row.report.get("summary", {})})

    def get(self, session: Session, reconciliation_id: int) -> ReconciliationRead:
        """One saved reconciliation, in full."""
        row = session.get(Reconciliation, reconciliation_id)
        if row is None:
            raise NotFound(f"No reconciliation {reconciliation_id}")
        return self.read(row)

    def list(self, session: Session, limit: int, offset: int) -> ReconciliationPage:
        """Saved reconciliations, newest first, with their counts."""
        total = session.exec(select(func.count()).select_from(Reconciliation)).one()
        rows = session.exec(select(Reconciliation).order_by(col(Reconciliation.id).desc()).limit(limit)
                            .offset(offset)).all()
        items = [ReconciliationItem(id=r.id or 0, source=r.source, period_from=_utc(r.period_from),
                                    period_to=_utc(r.period_to), ok=r.ok, created_at=_utc(r.created_at) or r.created_at,
                                    summary=r.report.get("summary", {}))
                 for r in rows]
        return ReconciliationPage(items=items, total=int(total))

    def csv(self, session: Session, reconciliation_id: int) -> str:
        """A saved reconciliation as CSV: one line per matched item, difference or missing object."""
        report = self.get(session, reconciliation_id)
        out = io.StringIO()
        fields = ["section", "balance_transaction", "type", "source", "currency", "amount_minor", "fee_minor",
                  "net_minor", "entry_id", "field", "stripe_minor", "ledger_minor", "difference_minor", "reason"]
        writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        for section in SECTIONS:
            for item in getattr(report, section):
                writer.writerow({**item, "section": section, "balance_transaction": item.get("id"),
                                 "amount_minor": item.get("amount"), "fee_minor": item.get("fee"),
                                 "net_minor": item.get("net")})
        return out.getvalue()


def _belongs_elsewhere(txn: dict[str, Any] | None, start: datetime | None, end: datetime | None) -> bool:
    if txn is None:
        return False
    created = datetime.fromtimestamp(txn["created"], UTC)
    return (start is not None and created < start) or (end is not None and created >= end)


def _sum(postings: list[Posting], account: str, currency: str, debit: bool) -> int:
    return sum((p.debit_minor if debit else p.credit_minor) for p in postings
               if p.account_code == account and p.currency == currency)


def _differences(line: StripeLine, kind: str, postings: list[Posting]) -> list[dict[str, Any]]:
    cur = line.currency
    if not any(p.currency == cur for p in postings):
        return [{"field": "currency", "stripe_minor": line.amount, "ledger_minor": None, "difference_minor": None,
                 "reason": f"the ledger booked it in {postings[0].currency if postings else '?'}, Stripe in {cur}"}]
    if kind == "charge":
        booked = {"amount": _sum(postings, NON_TAX_REVENUE, cur, False),
                  "fee": _sum(postings, PROCESSING_FEES, cur, True), "net": _sum(postings, STRIPE_CLEARING, cur, True)}
    elif kind == "refund":
        booked = {"amount": -_sum(postings, REVENUE_REFUNDS, cur, True), "fee": 0,
                  "net": -_sum(postings, STRIPE_CLEARING, cur, False)}
    else:
        cleared = -_sum(postings, STRIPE_CLEARING, cur, False)
        booked = {"amount": cleared, "fee": 0, "net": cleared}
    actual = {"amount": line.amount, "fee": line.fee, "net": line.net}
    return [{"field": name, "stripe_minor": actual[name], "ledger_minor": booked[name],
             "difference_minor": actual[name] - booked[name], "reason": f"{name} differs"}
            for name in ("amount", "fee", "net") if actual[name] != booked[name]]


def _payout_mismatches(lines: list[StripeLine], members: dict[str, list[StripeLine]]) -> list[dict[str, Any]]:
    out = []
    for line in lines:
        if line.type != "payout" or not line.source or line.source not in members:
            continue
        paid = [m for m in members[line.source] if m.type != "payout"]
        total, expected = sum(m.net for m in paid), -line.amount
        if total != expected:
            out.append({"payout": line.source, "currency": line.currency, "amount_minor": expected,
                        "transactions_minor": total, "difference_minor": expected - total, "transactions": len(paid),
                        "reason": "the payout does not equal the sum of the transactions it paid out"})
    return out


def _net_by_currency(lines: list[StripeLine]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for line in lines:
        totals[line.currency] = totals.get(line.currency, 0) + line.net
    return totals


# --- Stripe's balance-transaction CSV exports ---

COLUMNS = {"id": ("id", "balance_transaction_id"), "type": ("type", "reporting_category"),
           "source": ("source", "source_id"), "amount": ("amount", "gross"), "fee": ("fee",), "net": ("net",),
           "currency": ("currency",), "created": ("created (utc)", "created_utc", "created"),
           "payout": ("transfer", "automatic_payout_id", "payout", "payout_id")}
REQUIRED = ("id", "type", "amount", "net", "currency", "created")


def parse_statement(data: bytes) -> list[StripeLine]:
    """Rows of a Stripe balance-transactions export (the dashboard's or the Reports API's column names).

    Amounts in those files are in major units ("500.00"); they are converted to minor units."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidStatement("The statement is not UTF-8 text; export it from Stripe again as CSV") from None
    reader = csv.DictReader(io.StringIO(text))
    header = {name.strip().lower(): name for name in reader.fieldnames or []}
    columns = {key: next((header[n] for n in names if n in header), None) for key, names in COLUMNS.items()}
    absent = [key for key in REQUIRED if columns[key] is None]
    if absent:
        raise InvalidStatement(f"The statement has no column for {', '.join(absent)}: export Stripe's balance "
                               "transactions (itemized) as CSV")
    return [_statement_line(row, columns, number) for number, row in enumerate(reader, start=2)]


def _statement_line(row: dict[str, str], columns: dict[str, str | None], number: int) -> StripeLine:
    def get(key: str) -> str:
        name = columns[key]
        return (row.get(name) or "").strip() if name else ""

    currency = get("currency").upper()
    try:
        created = datetime.fromisoformat(get("created"))
        money = {k: _minor(get(k) or "0", currency) for k in ("amount", "fee", "net")}
    except (ValueError, InvalidOperation):
        raise InvalidStatement(f"Line {number} of the statement has a date or amount that cannot be read") from None
    return StripeLine(id=get("id"), type=get("type").lower(), source=get("source") or None, amount=money["amount"],
                      fee=money["fee"], net=money["net"], currency=currency, created=_utc(created) or created,
                      payout=get("payout") or None)


def _minor(value: str, currency: str) -> int:
    amount = Decimal(value.replace(",", "")) * (1 if currency in ZERO_DECIMAL else 100)
    if amount != amount.to_integral_value():
        raise ValueError(value)
    return int(amount)


reconciliations = ReconciliationService()
