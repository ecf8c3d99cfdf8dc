"""The annual disclosure (年度公开) and providers' view of how their listings are used.

Public-data rules require the operator to publish, each year, what it was authorized to operate, the
products and their prices (the ceiling and what was actually charged), the licences granted by
scenario, and the revenue. Licences and payments are licensing's own tables, read here; everything
about a listing comes from market's services. A provider sees, for its own listings, how many
licences, queries and how much ε were used, never who asked what: no enterprise name, no query text.

A year is the calendar year in China Standard Time (UTC+8). Revenue is booked in the year a payment
succeeded, net of what was refunded on it (`amount_minor − refunded_minor`).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from core.accounts import OPERATOR_ORG
from core.auth import Principal, Role, SessionDep, require
from core.config import get_settings
from core.models import utcnow
from licensing.models import License, Payment
from market.policy import epsilon_of
from market.schemas import ListingRead, Rights
from market.service import listings as listing_service
from market.service.complaints import complaints

CST = timezone(timedelta(hours=8), "CST")
PAID = ("succeeded", "partially_refunded", "refunded")  # money was received; refunds are netted below
GRANTED = ("active", "expired", "suspended", "revoked", "refunded")


class Money(BaseModel):
    currency: str
    gross_minor: int = Field(description="Received, in minor units (fen)")
    refunds_minor: int
    net_minor: int


class ProductLine(BaseModel):
    """One offer of a listing: its list price and what licences granted this year actually cost."""

    offer_id: int
    name: str
    scenario: str
    price_minor: int
    currency: str
    active: bool
    licences_granted: int
    actual_min_price_minor: int | None
    actual_max_price_minor: int | None
    revenue: list[Money]


class ResourceLine(BaseModel):
    """A data resource authorized for operation in the year, with its products."""

    listing_id: int
    registration_code: str | None
    title: str
    provider: str
    dataset: str
    grade: str | None
    sector: str
    status: str
    published_at: datetime | None
    retired_at: datetime | None
    ceiling_price_minor: int | None
    scenarios: list[str]
    products: list[ProductLine]
    rights: Rights | None = None


class ScenarioLine(BaseModel):
    scenario: str
    licences_granted: int
    revenue: list[Money]


class ComplaintCounts(BaseModel):
    """Complaints and objections the public filed in the year, and how many the data office answered."""

    complaints_received: int = 0
    objections_received: int = 0
    handled: int = 0
    upheld: int = 0


class Operator(BaseModel):
    """Who operates the platform under the authorization, and where its revenue goes."""

    name: str
    role: str = "运营机构 operator of the authorized public data"
    revenue_account: str = Field(description="The treasury account licence fees are paid into (非税收入)")


class RevenueCap(BaseModel):
    """The approved revenue ceiling (最高准许收入) of the year and the revenue against it (CNY, fen)."""

    ceiling_minor: int | None
    deduction_minor: int
    allowed_minor: int | None
    revenue_minor: int
    excess_minor: int


class OpenStatisticLine(BaseModel):
    """Differentially private tables published free to everyone in the year (数据社会化)."""

    id: int
    listing_id: int
    listing_title: str
    title: str
    tables: int
    epsilon_total: float
    published_at: datetime


class AgreementLine(BaseModel):
    """An authorization agreement (授权运营协议) in force at some time in the year."""

    id: int
    title: str
    authorizing_body: str
    operator: str
    scope: str = Field(description="The departments, datasets and sectors it covers, joined by '；'")
    starts_on: date
    ends_on: date
    status: str = Field(description="active, not_started, expired or revoked, as of when the report is made")


class Disclosure(BaseModel):
    year: int
    generated_at: datetime
    deadline: date = Field(description="The report is due by the end of March of the following year")
    operator: Operator | None = None
    agreements: list[AgreementLine] = Field(default_factory=list)
    resources: list[ResourceLine]
    licences_by_scenario: list[ScenarioLine]
    revenue: list[Money]
    revenue_cap: RevenueCap | None = Field(default=None, description="Null when no ceiling was approved for the year")
    complaints: ComplaintCounts = Field(default_factory=lambda: ComplaintCounts())
    open_statistics: list[OpenStatisticLine] = Field(default_factory=list)
    notes: list[str]
    notes_zh: list[str] = Field(default_factory=list)


class DisclosureDue(BaseModel):
    """The annual report the data office must publish next, and how many days are left."""

    year: int
    deadline: date
    days_left: int


class ListingUsage(BaseModel):
    listing_id: int
    title: str
    status: str
    licences: int
    licences_by_status: dict[str, int]
    licences_by_scenario: dict[str, int]
    queries_used: int
    epsilon_spent: float
    epsilon_budget: float
    revenue: list[Money]


class UsagePage(BaseModel):
    items: list[ListingUsage]
    total: int


NOTES = [
    "Years are calendar years in China Standard Time (UTC+8).",
    "A licence is counted as granted in the year it became active.",
    "Revenue is counted in the year the payment succeeded, net of refunds on it; it belongs to the treasury "
    "(非税收入).",
    "Amounts are integer minor units (fen) of their currency.",
    "The report is due by the end of March of the following year.",
    "Open statistics are differentially private tables published free to everyone; their ε is charged to each "
    "dataset's total privacy budget.",
]
NOTES_ZH = [
    "年度按北京时间（UTC+8）的自然年计算。",
    "许可按生效的年份计为授予。",
    "收入按付款到账的年份计算，扣除相应退款；收入属于国库（非税收入）。",
    "金额以分为单位（整数）。",
    "本报告应于次年 3 月底前公开。",
    "公开统计是向社会免费公开的差分隐私统计表，其 ε 计入相应数据集的隐私预算总额。",
]


@dataclass
class _Tally:
    gross: int = 0
    refunds: int = 0


def _money(tallies: dict[str, _Tally]) -> list[Money]:
    return [Money(currency=c, gross_minor=t.gross, refunds_minor=t.refunds, net_minor=t.gross - t.refunds)
            for c, t in sorted(tallies.items())]


def deadline_of(year: int) -> date:
    """A year's report is due by the end of March of the following year (次年3月底前)."""
    return date(year + 1, 3, 31)


def due(today: date) -> DisclosureDue:
    """The report due next: last year's until its deadline has passed, then this year's."""
    year = today.year - 1 if today <= deadline_of(today.year - 1) else today.year
    return DisclosureDue(year=year, deadline=deadline_of(year), days_left=(deadline_of(year) - today).days)


def year_bounds(year: int) -> tuple[datetime, datetime]:
    """[1 January, next 1 January) of `year` in China Standard Time, as UTC instants."""
    return (datetime(year, 1, 1, tzinfo=CST).astimezone(UTC), datetime(year + 1, 1, 1, tzinfo=CST).astimezone(UTC))


class DisclosureService:
    def annual(self, session: Session, year: int) -> Disclosure:
        """The disclosure for one calendar year: resources, products and prices, licences, revenue."""
        start, end = year_bounds(year)
        granted = self._granted(session, start, end)
        paid = self._paid(session, start, end)
        resources = [self._resource(listing, granted, paid)
                     for listing in listing_service.authorized_between(session, start, end)]
        return Disclosure(year=year, generated_at=utcnow(), deadline=deadline_of(year), operator=_operator(),
                          agreements=self._agreements(session, start, end), resources=resources,
                          licences_by_scenario=self._by_scenario(granted, paid),
                          revenue=self._total(paid), revenue_cap=self._cap(session, year),
                          complaints=ComplaintCounts(**complaints.counts_between(session, start, end)),
                          open_statistics=self._open_statistics(session, start, end), notes=NOTES, notes_zh=NOTES_ZH)

    def _agreements(self, session: Session, start: datetime, end: datetime) -> list[AgreementLine]:
        from market.service.agreements import agreements

        def in_force(a: Any) -> bool:
            ended = min(_aware(a.ends_at), _aware(a.revoked_at)) if a.revoked_at else _aware(a.ends_at)
            return _aware(a.starts_at) < end and ended > start

        return [AgreementLine(id=a.id, title=a.title, authorizing_body=a.authorizing_body, operator=a.operator,
                              scope="；".join([*a.departments, *a.datasets, *a.sectors]), starts_on=a.starts_on,
                              ends_on=a.ends_on, status=a.status)
                for a in reversed(agreements.list(session, limit=10_000).items) if in_force(a)]

    def _cap(self, session: Session, year: int) -> RevenueCap | None:
        from licensing.metrics import evaluation  # metrics reads this module's year bounds

        line = next((y for y in evaluation.ceilings(session, year).years if y.year == year), None)
        if line is None or line.ceiling_minor is None:
            return None
        return RevenueCap(ceiling_minor=line.ceiling_minor, deduction_minor=line.deduction_minor,
                          allowed_minor=line.allowed_minor, revenue_minor=line.revenue_minor,
                          excess_minor=line.excess_minor)

    def _open_statistics(self, session: Session, start: datetime, end: datetime) -> list[OpenStatisticLine]:
        from sandbox.statistics import open_statistics  # the sandbox's own service (it depends on licensing)

        return [OpenStatisticLine(id=s.id, listing_id=s.listing_id, listing_title=s.listing_title, title=s.title,
                                  tables=len(s.tables), epsilon_total=s.epsilon_total, published_at=s.created_at)
                for s in open_statistics.published_between(session, start, end)]

    def _granted(self, session: Session, start: datetime, end: datetime) -> list[License]:
        return list(session.exec(select(License).where(
            col(License.activated_at) >= start, col(License.activated_at) < end,
            col(License.status).in_(GRANTED))).all())

    def _paid(self, session: Session, start: datetime, end: datetime) -> list[tuple[Payment, License]]:
        rows = session.exec(select(Payment, License).join(License, col(License.id) == col(Payment.license_id))
                            .where(col(Payment.status).in_(PAID))).all()
        return [(p, lic) for p, lic in rows if start <= _aware(p.confirmed_at or p.created_at) < end]

    def _resource(self, listing: ListingRead, granted: list[License],
                  paid: list[tuple[Payment, License]]) -> ResourceLine:
        products = []
        for offer in listing.offers:
            mine = [lic for lic in granted if lic.offer_id == offer.id]
            prices = [lic.price_minor for lic in mine]
            products.append(ProductLine(
                offer_id=offer.id, name=offer.name, scenario=offer.scenario, price_minor=offer.price_minor,
                currency=offer.currency, active=offer.active, licences_granted=len(mine),
                actual_min_price_minor=min(prices) if prices else None,
                actual_max_price_minor=max(prices) if prices else None,
                revenue=_money(_tally(p for p, lic in paid if lic.offer_id == offer.id))))
        return ResourceLine(
            listing_id=listing.id, registration_code=listing.registration_code, title=listing.title,
            provider=listing.provider, dataset=listing.dataset_name, grade=listing.grade, sector=listing.sector,
            status=listing.status, published_at=listing.published_at, retired_at=listing.retired_at,
            ceiling_price_minor=listing.ceiling_price_minor, scenarios=listing.scenarios, products=products,
            rights=listing.rights)

    def _by_scenario(self, granted: list[License], paid: list[tuple[Payment, License]]) -> list[ScenarioLine]:
        scenarios = sorted({lic.scenario for lic in granted} | {lic.scenario for _, lic in paid})
        return [ScenarioLine(scenario=s, licences_granted=sum(lic.scenario == s for lic in granted),
                             revenue=_money(_tally(p for p, lic in paid if lic.scenario == s))) for s in scenarios]

    def _total(self, paid: list[tuple[Payment, License]]) -> list[Money]:
        return _money(_tally(p for p, _ in paid))

    def usage(self, session: Session, who: Principal) -> UsagePage:
        """Usage of the provider's own listings (the data office sees every provider's): counts, never content."""
        mine = (listing_service.of_provider(session, who.organization_id) if who.role is Role.provider
                else listing_service.authorized_between(session, datetime(2000, 1, 1, tzinfo=UTC), utcnow()))
        ids = [listing.id for listing in mine]
        licences = session.exec(select(License).where(col(License.listing_id).in_(ids))).all()
        payments = session.exec(select(Payment, License).join(License, col(License.id) == col(Payment.license_id))
                                .where(col(License.listing_id).in_(ids), col(Payment.status).in_(PAID))).all()
        items = [self._usage(listing, [lic for lic in licences if lic.listing_id == listing.id],
                             [p for p, lic in payments if lic.listing_id == listing.id]) for listing in mine]
        return UsagePage(items=items, total=len(items))

    def _usage(self, listing: ListingRead, licences: list[License], payments: list[Payment]) -> ListingUsage:
        by_status: dict[str, int] = defaultdict(int)
        by_scenario: dict[str, int] = defaultdict(int)
        for licence in licences:
            by_status[_status(licence)] += 1
            by_scenario[licence.scenario] += 1
        return ListingUsage(
            listing_id=listing.id, title=listing.title, status=listing.status, licences=len(licences),
            licences_by_status=dict(by_status), licences_by_scenario=dict(by_scenario),
            queries_used=sum(lic.queries_used for lic in licences),
            epsilon_spent=epsilon_of(sum(lic.epsilon_spent_micro for lic in licences)),
            epsilon_budget=epsilon_of(sum(lic.epsilon_budget_micro for lic in licences)),
            revenue=_money(_tally(payments)))


CSV_COLUMNS = ("year", "registration_code", "listing_id", "title", "provider", "grade", "sector", "status",
               "ceiling_price_minor", "offer_id", "offer", "scenario", "price_minor", "currency",
               "licences_granted", "actual_min_price_minor", "actual_max_price_minor", "gross_minor",
               "refunds_minor", "net_minor", "section", "item", "value")


def disclosure_csv(disclosure: Disclosure) -> str:
    """One line per product (offer), then one TOTAL line per currency (`section` product and total); then the
    report's other parts as `section`, `item`, `value` lines: operator, deadline, revenue_cap, complaints and
    open_statistics (one line per statistic, its listing in `listing_id` and `title`)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for resource in disclosure.resources:
        for product in resource.products:
            for money in product.revenue or [Money(currency=product.currency, gross_minor=0, refunds_minor=0,
                                                   net_minor=0)]:
                writer.writerow([
                    disclosure.year, resource.registration_code or "", resource.listing_id, resource.title,
                    resource.provider, resource.grade or "", resource.sector, resource.status,
                    _blank(resource.ceiling_price_minor), product.offer_id, product.name, product.scenario,
                    product.price_minor, money.currency, product.licences_granted,
                    _blank(product.actual_min_price_minor), _blank(product.actual_max_price_minor),
                    money.gross_minor, money.refunds_minor, money.net_minor, "product", "", ""])
    for money in disclosure.revenue:
        writer.writerow([disclosure.year, "TOTAL", *[""] * 11, money.currency,
                         sum(s.licences_granted for s in disclosure.licences_by_scenario), "", "",
                         money.gross_minor, money.refunds_minor, money.net_minor, "total", "", ""])
    blank = [""] * (len(CSV_COLUMNS) - 4)
    for section, item, value in _parts(disclosure):
        writer.writerow([disclosure.year, *blank, section, item, value])
    for line in disclosure.open_statistics:
        writer.writerow([disclosure.year, "", line.listing_id, line.title, *[""] * 16, "open_statistics",
                         f"{line.tables} tables", line.epsilon_total])
    return out.getvalue()


def _parts(disclosure: Disclosure) -> list[tuple[str, str, Any]]:
    parts: list[tuple[str, str, Any]] = [("deadline", "due", disclosure.deadline.isoformat())]
    if disclosure.operator is not None:
        parts += [("operator", "name", disclosure.operator.name),
                  ("operator", "revenue_account", disclosure.operator.revenue_account)]
    parts += [("agreement", str(a.id), f"{a.title} | {a.authorizing_body} | {a.operator} | {a.scope} | "
                                       f"{a.starts_on.isoformat()}–{a.ends_on.isoformat()} | {a.status}")
              for a in disclosure.agreements]
    if disclosure.revenue_cap is not None:
        parts += [("revenue_cap", key, _blank(value)) for key, value in disclosure.revenue_cap.model_dump().items()]
    parts += [("complaints", key, value) for key, value in disclosure.complaints.model_dump().items()]
    return parts


def _operator() -> Operator:
    return Operator(name=OPERATOR_ORG, revenue_account=get_settings().treasury_account_name)


def _blank(value: int | None) -> Any:
    return "" if value is None else value


def _tally(payments: Any) -> dict[str, _Tally]:
    tallies: dict[str, _Tally] = defaultdict(_Tally)
    for payment in payments:
        tallies[payment.currency].gross += payment.amount_minor
        tallies[payment.currency].refunds += payment.refunded_minor
    return tallies


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _status(licence: License) -> str:
    expires = _aware(licence.expires_at) if licence.expires_at else None
    return "expired" if licence.status == "active" and expires is not None and expires <= utcnow() else licence.status


disclosures = DisclosureService()
router = APIRouter(tags=["disclosure"])
UsageReader = Annotated[Principal, Depends(require(Role.provider, Role.data_office))]
DataOfficeUser = Annotated[Principal, Depends(require(Role.data_office))]


@router.get("/disclosures/due", response_model=DisclosureDue)
def disclosure_due(who: DataOfficeUser) -> DisclosureDue:
    """The annual report due next (last year's until the end of March, then this year's) and the days left."""
    return due(datetime.now(CST).date())


@router.get("/disclosures/{year}", response_model=Disclosure,
            responses={200: {"content": {"text/csv": {}, "application/pdf": {}}}})
def annual_disclosure(session: SessionDep, year: Annotated[int, Path(ge=2000, le=2100)],
                      format: Literal["json", "csv", "pdf"] = "json") -> Any:
    """The annual disclosure for a calendar year (public): the operator, authorized resources, products with
    ceiling and actual prices, licences granted by scenario, revenue against the approved ceiling, complaints
    and open statistics, and the report's deadline. `?format=csv` for a spreadsheet, `?format=pdf` for the
    bilingual report."""
    disclosure = disclosures.annual(session, year)
    if format == "pdf":
        from licensing.disclosure_pdf import render_disclosure

        return Response(render_disclosure(disclosure), media_type="application/pdf", headers={
            "Content-Disposition": f'attachment; filename="shuyu-disclosure-{year}.pdf"'})
    if format == "csv":
        return Response("\ufeff" + disclosure_csv(disclosure), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="shuyu-disclosure-{year}.csv"'})
    return disclosure


@router.get("/usage/listings", response_model=UsagePage)
def listing_usage(session: SessionDep, who: UsageReader, limit: Annotated[int, Query(ge=1, le=500)] = 50,
                  offset: Annotated[int, Query(ge=0)] = 0) -> UsagePage:
    """How your listings are used: licences by status and scenario, queries, ε spent, revenue. Never
    who the licensees are or what they asked."""
    page = disclosures.usage(session, who)
    return UsagePage(items=page.items[offset:offset + limit], total=page.total)
