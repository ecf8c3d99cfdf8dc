"""The effectiveness evaluation (效能评估) of authorized operation, month by month, and what feeds it:
enterprises rate a product after using it; finance records what operating the platform cost.

Every figure is a count or a sum over the platform's own records — listings published, licences granted,
enterprises served, queries, revenue against operating costs, review and licence-approval lead times,
satisfaction, complaints — never anything about the data. Query outcomes come from the audit log (each query
is charged, released, refunded or refused there exactly once), so licensing need not read the sandbox's
tables. The public sees the year's totals; the data office and finance also see each month and a CSV.

Months are calendar months in China Standard Time (UTC+8), like the annual disclosure.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.audit import record
from core.auth import DataOffice, EnterpriseUser, FinanceUser, MaybeUser, Principal, Role, SessionDep, require
from core.errors import Conflict, NotFound
from core.models import AuditEvent
from licensing.disclosure import CST, PAID, year_bounds
from licensing.models import License, OperatingCost, Payment, Rating, RevenueCeiling
from licensing.service.query_fees import query_fees
from market.service.complaints import complaints
from market.service.evaluation import published_between

router = APIRouter(tags=["evaluation"])
QUERY_OUTCOMES = {"query.released": "released", "query.refunded": "refunded", "query.failed": "failed",
                  "query.refused": "refused"}


class RatingCreate(BaseModel):
    score: int = Field(ge=1, le=5, description="1 (poor) to 5 (excellent)")
    comment: str = Field(default="", max_length=2000)


class RatingRead(RatingCreate):
    id: int
    license_id: int
    listing_id: int
    created_at: datetime


class CostCreate(BaseModel):
    month: str = Field(pattern=r"^20\d\d-(0[1-9]|1[0-2])$", description="YYYY-MM (China Standard Time)")
    category: str = Field(min_length=1, max_length=40, description="e.g. 人员, 云资源, 安全运维")
    amount_minor: int = Field(ge=-(10**15), le=10**15, description="Fen; negative to correct an earlier line")
    currency: Literal["CNY"] = "CNY"
    note: str = Field(default="", max_length=2000)


class CostRead(CostCreate):
    id: int
    created_at: datetime


class CostPage(BaseModel):
    items: list[CostRead]
    total: int


class CeilingCreate(BaseModel):
    year: int = Field(ge=2000, le=2100)
    ceiling_minor: int = Field(gt=0, le=10**15, description="The approved revenue ceiling for the year (fen)")
    basis: str = Field(min_length=2, max_length=4000, description="The approval document and the cost basis")


class CeilingYear(BaseModel):
    """One year of revenue against the approved ceiling; what exceeds it is deducted from the next year's."""

    year: int
    ceiling_minor: int | None = Field(description="The approved ceiling (fen); null when none was set")
    basis: str = ""
    deduction_minor: int = Field(description="Carried from the previous year's excess (fen)")
    allowed_minor: int | None = Field(description="Ceiling less the deduction (fen)")
    revenue_minor: int = Field(description="Payments received in the year, net of refunds on them (fen)")
    excess_minor: int = Field(description="Revenue above what was allowed, deducted next year (fen)")
    share_of_allowed: float | None = None


class CeilingReport(BaseModel):
    currency: Literal["CNY"] = "CNY"
    years: list[CeilingYear]


class Period(BaseModel):
    """One month's (or the year's) figures."""

    period: str
    listings_published: int = 0
    licences_granted: int = 0
    enterprises_served: int = 0
    queries_released: int = 0
    queries_refunded: int = 0
    queries_failed: int = 0
    queries_refused: int = 0
    query_success_rate: float | None = Field(default=None, description="Released / (released + refunded + "
                                             "failed); refusals of SQL that is not allowed are not failures")
    revenue_minor: int = Field(default=0, description="Payments received (CNY fen), net of refunds on them")
    costs_minor: int = Field(default=0, description="Operating costs recorded by finance (CNY fen)")
    review_days_median: float | None = None
    licence_approval_days_median: float | None = None
    ratings: int = 0
    rating_mean: float | None = None
    complaints_received: int = 0
    complaints_handled: int = 0


class Effectiveness(BaseModel):
    year: int
    generated_at: datetime
    summary: Period
    months: list[Period] = Field(default=[], description="Each month (data office and finance only)")


class _Month:
    """The raw material of one period, reduced to a `Period` at the end."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = defaultdict(int)
        self.enterprises: set[int] = set()
        self.review_days: list[float] = []
        self.approval_days: list[float] = []
        self.scores: list[int] = []

    def period(self, name: str) -> Period:
        c = self.counts
        tried = c["released"] + c["refunded"] + c["failed"]
        return Period(
            period=name, listings_published=c["published"], licences_granted=c["granted"],
            enterprises_served=len(self.enterprises), queries_released=c["released"],
            queries_refunded=c["refunded"], queries_failed=c["failed"], queries_refused=c["refused"],
            query_success_rate=round(c["released"] / tried, 4) if tried else None, revenue_minor=c["revenue"],
            costs_minor=c["costs"], review_days_median=_median(self.review_days),
            licence_approval_days_median=_median(self.approval_days), ratings=len(self.scores),
            rating_mean=round(statistics.fmean(self.scores), 2) if self.scores else None,
            complaints_received=c["complaints"], complaints_handled=c["handled"])


class EvaluationService:
    def year(self, session: Session, who: Principal | None, year: int) -> Effectiveness:
        """The year's figures; each month as well for the data office and finance."""
        start, end = year_bounds(year)
        months: dict[str, _Month] = {f"{year}-{m:02d}": _Month() for m in range(1, 13)}
        whole = _Month()

        def add(at: datetime, counter: str, amount: int = 1) -> None:
            key = _month(at)
            if key in months:
                months[key].counts[counter] += amount
                whole.counts[counter] += amount

        for item in published_between(session, start, end):
            add(item.at, "published")
            for bucket in (months[_month(item.at)], whole):
                if item.review_days is not None:
                    bucket.review_days.append(item.review_days)
        self._licences(session, start, end, months, whole, add)
        for event in session.exec(select(AuditEvent).where(col(AuditEvent.action).in_(tuple(QUERY_OUTCOMES)),
                                                           col(AuditEvent.at) >= start, col(AuditEvent.at) < end)):
            add(_aware(event.at), QUERY_OUTCOMES[event.action])
        for payment in self._paid(session, start, end):
            add(_aware(payment.confirmed_at or payment.created_at), "revenue", payment.amount_minor
                - payment.refunded_minor)
        for cost in session.exec(select(OperatingCost).where(col(OperatingCost.month).startswith(f"{year}-"))):
            months[cost.month].counts["costs"] += cost.amount_minor
            whole.counts["costs"] += cost.amount_minor
        for rating in session.exec(select(Rating).where(col(Rating.created_at) >= start, col(Rating.created_at) < end)):
            for bucket in (months[_month(_aware(rating.created_at))], whole):
                bucket.scores.append(rating.score)
        for key, bucket in months.items():
            month_start = datetime(year, int(key[5:]), 1, tzinfo=CST)
            month_end = datetime(year + (key[5:] == "12"), int(key[5:]) % 12 + 1, 1, tzinfo=CST)
            counted = complaints.counts_between(session, month_start, month_end)
            bucket.counts["complaints"] = counted["complaints_received"] + counted["objections_received"]
            bucket.counts["handled"] = counted["handled"]
            whole.counts["complaints"] += bucket.counts["complaints"]
            whole.counts["handled"] += bucket.counts["handled"]
        detailed = who is not None and who.role in (Role.data_office, Role.finance)
        return Effectiveness(year=year, generated_at=datetime.now(UTC), summary=whole.period(str(year)),
                             months=[b.period(k) for k, b in months.items()] if detailed else [])

    def _licences(self, session: Session, start: datetime, end: datetime, months: dict[str, _Month], whole: _Month,
                  add: Callable[[datetime, str], None]) -> None:
        granted = session.exec(select(License).where(col(License.activated_at) >= start,
                                                     col(License.activated_at) < end)).all()
        for licence in granted:
            at = _aware(licence.activated_at) if licence.activated_at else start
            add(at, "granted")
            for bucket in (months[_month(at)], whole):
                bucket.enterprises.add(licence.organization_id)
        approved = session.exec(select(License).where(col(License.approved_at) >= start,
                                                      col(License.approved_at) < end)).all()
        for licence in approved:
            at = _aware(licence.approved_at) if licence.approved_at else start
            days = (at - _aware(licence.created_at)).total_seconds() / 86400
            for bucket in (months[_month(at)], whole):
                bucket.approval_days.append(days)

    def _paid(self, session: Session, start: datetime, end: datetime) -> Iterable[Payment]:
        rows = session.exec(select(Payment).where(col(Payment.status).in_(PAID), Payment.currency == "CNY")).all()
        return [p for p in rows if start <= _aware(p.confirmed_at or p.created_at) < end]

    def set_ceiling(self, session: Session, who: Principal, body: CeilingCreate) -> CeilingReport:
        """Set (or set again) the operator's approved revenue ceiling for a year."""
        session.add(RevenueCeiling(year=body.year, ceiling_minor=body.ceiling_minor, basis=body.basis.strip(),
                                   set_by=who.user_id))
        session.flush()
        record(session, who.actor, "ceiling.set", "revenue_ceiling", body.year,
               {"ceiling_minor": body.ceiling_minor})
        return self.ceilings(session, body.year)

    def ceilings(self, session: Session, up_to: int) -> CeilingReport:
        """Revenue against the ceiling for every year from the first ceiling set to `up_to`; each year's excess
        over what it was allowed is deducted from the next year's ceiling (超出部分在下一周期扣减)."""
        rows = session.exec(select(RevenueCeiling).order_by(col(RevenueCeiling.id))).all()
        latest = {row.year: row for row in rows}  # the latest setting of each year wins
        if not latest:
            return CeilingReport(years=[])
        years, carried = [], 0
        for year in range(min(latest), max(up_to, max(latest)) + 1):
            start, end = year_bounds(year)
            revenue = (sum(p.amount_minor - p.refunded_minor for p in self._paid(session, start, end))
                       + query_fees.booked_between(session, start, end))
            ceiling = latest.get(year)
            allowed = ceiling.ceiling_minor - carried if ceiling else None
            excess = max(0, revenue - allowed) if allowed is not None else 0
            years.append(CeilingYear(
                year=year, ceiling_minor=ceiling.ceiling_minor if ceiling else None,
                basis=ceiling.basis if ceiling else "", deduction_minor=carried, allowed_minor=allowed,
                revenue_minor=revenue, excess_minor=excess,
                share_of_allowed=round(revenue / allowed, 4) if allowed and allowed > 0 else None))
            carried = excess
        return CeilingReport(years=years)

    def rate(self, session: Session, who: Principal, license_id: int, body: RatingCreate) -> RatingRead:
        """An enterprise rates the product of one of its licences, once, after using it."""
        licence = session.get(License, license_id)
        if licence is None or licence.organization_id != who.organization_id:
            raise NotFound(f"No licence {license_id} of yours", zh=f"没有编号为 {license_id} 的许可")
        if licence.queries_used < 1:
            raise Conflict("Rate a product after using it: run at least one query on this licence first",
                           zh="请在使用后再评价：先在该许可下完成至少一次查询")
        rating = Rating(license_id=license_id, listing_id=licence.listing_id, organization_id=who.organization_id,
                        score=body.score, comment=body.comment.strip())
        try:
            with session.begin_nested():
                session.add(rating)
        except IntegrityError:
            raise Conflict("This licence's product is rated already", zh="该许可对应的产品已经评价过了") from None
        record(session, who.actor, "licence.rated", "license", license_id, {"score": body.score})
        return RatingRead.model_validate(rating, from_attributes=True)

    def rating_of(self, session: Session, who: Principal, license_id: int) -> tuple[License, RatingRead | None]:
        """One of the caller's licences and the rating given to its product, if any."""
        licence = session.get(License, license_id)
        if licence is None or licence.organization_id != who.organization_id:
            raise NotFound(f"No licence {license_id} of yours", zh=f"没有编号为 {license_id} 的许可")
        rating = session.exec(select(Rating).where(Rating.license_id == license_id)).first()
        return licence, RatingRead.model_validate(rating, from_attributes=True) if rating else None

    def add_cost(self, session: Session, who: Principal, body: CostCreate) -> CostRead:
        cost = OperatingCost(**body.model_dump(), recorded_by=who.user_id)
        session.add(cost)
        session.flush()
        record(session, who.actor, "cost.recorded", "operating_cost", cost.id,
               {"month": body.month, "amount_minor": body.amount_minor, "category": body.category})
        return CostRead.model_validate(cost, from_attributes=True)

    def costs(self, session: Session, year: int) -> CostPage:
        rows = session.exec(select(OperatingCost).where(col(OperatingCost.month).startswith(f"{year}-"))
                            .order_by(col(OperatingCost.month), col(OperatingCost.id))).all()
        return CostPage(items=[CostRead.model_validate(r, from_attributes=True) for r in rows], total=len(rows))


def evaluation_csv(result: Effectiveness) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    fields = list(Period.model_fields)
    writer.writerow(fields)
    for period in [*result.months, result.summary]:
        writer.writerow(["" if v is None else v for v in period.model_dump().values()])
    return "\ufeff" + out.getvalue()  # a BOM, so that Excel in China opens the UTF-8 as UTF-8


def _month(at: datetime) -> str:
    return at.astimezone(CST).strftime("%Y-%m")


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


evaluation = EvaluationService()
Year = Annotated[int, Path(ge=2000, le=2100)]


@router.get("/metrics/effectiveness/{year}", response_model=Effectiveness)
def effectiveness(session: SessionDep, who: MaybeUser, year: Year,
                  format: Literal["json", "csv"] = "json") -> Any:
    """The effectiveness evaluation of a calendar year: the public sees the totals; the data office and finance
    each month too. `?format=csv` for a spreadsheet."""
    result = evaluation.year(session, who, year)
    if format == "csv":
        return Response(evaluation_csv(result), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="effectiveness-{year}.csv"'})
    return result


@router.get("/metrics/effectiveness", response_model=Effectiveness)
def effectiveness_this_year(session: SessionDep, who: MaybeUser) -> Effectiveness:
    """This year's effectiveness evaluation (see `/metrics/effectiveness/{year}`)."""
    return evaluation.year(session, who, datetime.now(CST).year)


@router.post("/licenses/{license_id}/rating", status_code=201, response_model=RatingRead)
def rate_licence(license_id: Annotated[int, Path(ge=1, le=2**62)], body: RatingCreate, session: SessionDep,
                 who: EnterpriseUser) -> RatingRead:
    """Rate the product of one of your licences (1–5), once, after running at least one query on it."""
    return evaluation.rate(session, who, license_id, body)


@router.post("/costs", status_code=201, response_model=CostRead)
def record_cost(body: CostCreate, session: SessionDep, who: FinanceUser) -> CostRead:
    """Record a month's operating cost (a negative amount corrects an earlier line)."""
    return evaluation.add_cost(session, who, body)


@router.get("/costs", response_model=CostPage)
def list_costs(session: SessionDep, who: FinanceUser,
               year: Annotated[int | None, Query(ge=2000, le=2100)] = None) -> CostPage:
    """The operating costs recorded for a year (this year by default), by month."""
    return evaluation.costs(session, year or datetime.now(CST).year)


CeilingReader = Annotated[Principal, Depends(require(Role.data_office, Role.finance))]


@router.post("/revenue-ceilings", status_code=201, response_model=CeilingReport)
def set_ceiling(body: CeilingCreate, session: SessionDep, who: DataOffice) -> CeilingReport:
    """Set the operator's approved revenue ceiling (最高准许收入) for a year (again to change it: the latest
    setting wins, every setting stays on record)."""
    return evaluation.set_ceiling(session, who, body)


@router.get("/reports/revenue-ceiling", response_model=CeilingReport)
def ceiling_report(session: SessionDep, who: CeilingReader,
                   year: Annotated[int | None, Query(ge=2000, le=2100)] = None) -> CeilingReport:
    """Revenue against the approved ceiling, year by year up to `year` (this year by default), with the excess
    of each year carried as a deduction into the next."""
    return evaluation.ceilings(session, year or datetime.now(CST).year)
