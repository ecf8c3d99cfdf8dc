"""Revenue reports, read from the ledger: gross (4001), refunds (4901) and net, by listing, provider,
scenario or month. Processor fees are an expense (5001) and are not netted here."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from core.config import get_settings
from core.models import Organization
from licensing.ledger.models import JournalEntry, Posting
from licensing.ledger.service import NON_TAX_REVENUE, REVENUE_REFUNDS, ledger
from licensing.models import License, Payment
from licensing.schemas import RevenueReport, RevenueRow, TreasuryRead

GroupBy = Literal["listing", "provider", "scenario", "month"]
SCENARIOS = {"industry": "产业 Industry", "public_welfare": "公益 Public welfare",
             "public_governance": "治理 Public governance"}


@dataclass
class _Bucket:
    label: str
    gross: int = 0
    refunds: int = 0
    payments: set[int] = field(default_factory=set)


def _bounds(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    """[start 00:00, end + 1 day 00:00) in the reporting time zone, as UTC instants."""
    zone = ZoneInfo(get_settings().report_timezone)

    def instant(day: date) -> datetime:
        return datetime.combine(day, time(), zone).astimezone(UTC)

    return (instant(start) if start else None), (instant(end + timedelta(days=1)) if end else None)


class ReportService:
    def revenue(self, session: Session, group_by: GroupBy, start: date | None, end: date | None,
                currency: str = "CNY") -> RevenueReport:
        """Gross, refunds and net revenue for the period, grouped; `from`/`to` are inclusive days."""
        lines = self._lines(session, currency, *_bounds(start, end))
        labels = self._labels(session, group_by, {pid for _, pid, _, *_ in lines if pid is not None})
        labels |= self._fee_labels(session, group_by, {lid for _, _, lid, *_ in lines if lid is not None})
        zone = ZoneInfo(get_settings().report_timezone)
        buckets: dict[str, _Bucket] = {}
        for at, payment_id, fee_licence, account, debit, credit in lines:
            key, label = self._key(group_by, labels, payment_id if fee_licence is None else -fee_licence, at, zone)
            bucket = buckets.setdefault(key, _Bucket(label))
            if account == NON_TAX_REVENUE:
                bucket.gross += credit - debit
                if payment_id is not None:
                    bucket.payments.add(payment_id)
            else:
                bucket.refunds += debit - credit
        rows = [RevenueRow(key=k, label=b.label, gross_minor=b.gross, refunds_minor=b.refunds,
                           net_minor=b.gross - b.refunds, payments=len(b.payments)) for k, b in buckets.items()]
        rows.sort(key=(lambda r: r.key) if group_by == "month" else (lambda r: (-r.net_minor, r.key)))
        gross, refunds = sum(r.gross_minor for r in rows), sum(r.refunds_minor for r in rows)
        position = ledger.treasury_position(session, currency).as_dict()
        return RevenueReport(currency=currency, from_=start, to=end, group_by=group_by, gross_minor=gross,
                             refunds_minor=refunds, net_minor=gross - refunds, rows=rows,
                             treasury=TreasuryRead.model_validate(position))

    def revenue_csv(self, session: Session, group_by: GroupBy, start: date | None, end: date | None,
                    currency: str = "CNY") -> str:
        """The same report as CSV (amounts in minor units), with a TOTAL line."""
        report = self.revenue(session, group_by, start, end, currency)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([group_by, "label", "currency", "gross_minor", "refunds_minor", "net_minor", "payments"])
        for row in report.rows:
            writer.writerow([row.key, row.label, currency, row.gross_minor, row.refunds_minor, row.net_minor,
                             row.payments])
        writer.writerow(["TOTAL", "", currency, report.gross_minor, report.refunds_minor, report.net_minor,
                         sum(r.payments for r in report.rows)])
        return out.getvalue()

    def _lines(self, session: Session, currency: str, start: datetime | None, end: datetime | None
               ) -> list[tuple[datetime, int | None, int | None, str, int, int]]:
        """(time, payment id, licence id of a per-query fee, account, debit, credit) of revenue postings."""
        query = (sa_select(col(JournalEntry.at), col(JournalEntry.payment_id), col(JournalEntry.external_key),
                           col(Posting.account_code), col(Posting.debit_minor), col(Posting.credit_minor))
                 .join(Posting, col(Posting.entry_id) == JournalEntry.id)
                 .where(col(Posting.account_code).in_([NON_TAX_REVENUE, REVENUE_REFUNDS]),
                        col(Posting.currency) == currency))
        if start:
            query = query.where(col(JournalEntry.at) >= start)
        if end:
            query = query.where(col(JournalEntry.at) < end)
        return [(at, pid, _fee_licence(key), code, debit, credit)
                for at, pid, key, code, debit, credit in session.execute(query).all()]

    def _fee_labels(self, session: Session, group_by: GroupBy, licence_ids: set[int]) -> dict[int, tuple[str, str]]:
        """-licence id → (group key, label) for per-query fees, which belong to a licence and no payment."""
        if group_by == "month" or not licence_ids:
            return {}
        orgs = {o.id: o.name for o in session.exec(select(Organization)).all()} if group_by == "provider" else {}
        out: dict[int, tuple[str, str]] = {}
        for licence in session.exec(select(License).where(col(License.id).in_(licence_ids))).all():
            out[-(licence.id or 0)] = _label(group_by, licence.listing_id, licence.listing_title,
                                             licence.provider_org_id, licence.scenario, orgs)
        return out

    def _labels(self, session: Session, group_by: GroupBy, payment_ids: set[int]) -> dict[int, tuple[str, str]]:
        """payment id → (group key, label) for the non-time groupings."""
        if group_by == "month" or not payment_ids:
            return {}
        rows = session.execute(sa_select(col(Payment.id), col(License.listing_id), col(License.listing_title),
                                         col(License.provider_org_id), col(License.scenario))
                               .join(License, col(License.id) == Payment.license_id)
                               .where(col(Payment.id).in_(payment_ids))).all()
        orgs = {o.id: o.name for o in session.exec(select(Organization)).all()} if group_by == "provider" else {}
        out: dict[int, tuple[str, str]] = {}
        for pid, listing_id, title, provider_id, scenario in rows:
            out[pid or 0] = _label(group_by, listing_id, title, provider_id, scenario, orgs)
        return out

    def _key(self, group_by: GroupBy, labels: dict[int, tuple[str, str]], payment_id: int | None, at: datetime,
             zone: ZoneInfo) -> tuple[str, str]:
        if group_by == "month":
            month = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(zone).strftime("%Y-%m")
            return month, month
        return labels.get(payment_id or 0, ("unassigned", "Not tied to a payment"))


def _label(group_by: GroupBy, listing_id: int, title: str | None, provider_id: int | None, scenario: str,
           orgs: dict[int | None, str]) -> tuple[str, str]:
    if group_by == "listing":
        return str(listing_id), title or f"Listing {listing_id}"
    if group_by == "provider":
        return str(provider_id), orgs.get(provider_id, f"Organization {provider_id}")
    return scenario, SCENARIOS.get(scenario, scenario)


def _fee_licence(key: str | None) -> int | None:
    """The licence of a per-query fee entry (keyed `query-fee:<licence>:<query>`), else None."""
    if key is None or not key.startswith("query-fee:"):
        return None
    return int(key.split(":")[1])


reports = ReportService()
