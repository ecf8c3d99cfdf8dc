"""Market queries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_
from sqlmodel import Session, col, select

from core.models import Organization
from market import search
from market.models import (
    Complaint,
    Dataset,
    DatasetVersion,
    Listing,
    ListingReview,
    ListingTransition,
    Offer,
    Registration,
    RegistrationEvent,
)

CATALOG_STATUSES = ("published", "ordering_paused")


def latest_version(session: Session, dataset_id: int) -> DatasetVersion | None:
    return session.exec(
        select(DatasetVersion).where(DatasetVersion.dataset_id == dataset_id)
        .order_by(col(DatasetVersion.version).desc())
    ).first()


def budget_version_id(session: Session, version: DatasetVersion) -> int:
    """The first version of the dataset holding the same data (same plaintext digest) as this one.

    The privacy budget is counted per budget version: a new upload with unchanged data keeps spending the
    old budget, since re-querying the same rows under a fresh budget would leak."""
    first = session.exec(select(func.min(DatasetVersion.id)).where(
        DatasetVersion.dataset_id == version.dataset_id, DatasetVersion.sha256 == version.sha256)).one()
    return int(first or version.id or 0)


def versions_of(session: Session, dataset_id: int) -> Sequence[DatasetVersion]:
    return session.exec(select(DatasetVersion).where(DatasetVersion.dataset_id == dataset_id)
                        .order_by(col(DatasetVersion.version).desc())).all()


def dataset_by_name(session: Session, name: str) -> Dataset | None:
    return session.exec(select(Dataset).where(func.lower(Dataset.name) == name.lower())).first()


def datasets_of(session: Session, org_id: int, limit: int, offset: int) -> tuple[Sequence[Dataset], int]:
    query = select(Dataset).where(Dataset.provider_org_id == org_id)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    return session.exec(query.order_by(col(Dataset.id).desc()).limit(limit).offset(offset)).all(), int(total)


def listings_of_dataset(session: Session, dataset_id: int) -> Sequence[Listing]:
    return session.exec(select(Listing).where(Listing.dataset_id == dataset_id).order_by(col(Listing.id))).all()


def offers_of(session: Session, listing_id: int) -> Sequence[Offer]:
    return session.exec(select(Offer).where(Offer.listing_id == listing_id).order_by(col(Offer.id))).all()


def offers_of_many(session: Session, listing_ids: Sequence[int]) -> Sequence[Offer]:
    return session.exec(select(Offer).where(col(Offer.listing_id).in_(listing_ids)).order_by(col(Offer.id))).all()


@dataclass(frozen=True)
class CatalogFilter:
    q: str | None = None
    sector: str | None = None
    grade: str | None = None
    scenario: str | None = None
    provider: str | None = None
    provider_id: int | None = None
    min_price_minor: int | None = None
    max_price_minor: int | None = None
    sort: str = "relevance"


def search_published(session: Session, where: CatalogFilter, limit: int, offset: int) -> tuple[Sequence[Listing], int]:
    """Published listings matching the filter, ranked (by relevance when there is a query)."""
    prices = (select(col(Offer.listing_id).label("listing_id"), func.min(Offer.price_minor).label("price"))
              .where(col(Offer.active)).group_by(col(Offer.listing_id)).subquery("prices"))
    query: Select[Any] = (select(Listing).join(prices, prices.c.listing_id == Listing.id, isouter=True)
                          .where(col(Listing.status).in_(CATALOG_STATUSES)))
    order: list[Any] = []
    if where.q and where.q.strip():
        scores = search.scores(where.q)
        if scores is None:
            return [], 0
        hits = scores.subquery("scores")
        query = query.join(hits, hits.c.listing_id == Listing.id)
        order.append((hits.c.score + search.title_bonus(Listing.title, where.q)).desc())
    query = _filtered(query, where, prices.c.price)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    order = _sorted(where.sort, order, prices.c.price)
    rows = session.exec(query.order_by(*order).limit(limit).offset(offset))  # type: ignore[call-overload]
    return list(rows), int(total)


def _filtered(query: Select[Any], where: CatalogFilter, price: Any) -> Select[Any]:
    if where.sector:
        query = query.where(col(Listing.sector) == where.sector)
    if where.grade:
        query = query.where(col(Listing.grade) == where.grade)
    if where.provider_id is not None:
        query = query.where(col(Listing.provider_org_id) == where.provider_id)
    if where.provider:
        org_ids = select(Organization.id).where(Organization.name == where.provider)
        query = query.where(col(Listing.provider_org_id).in_(org_ids))
    if where.scenario:
        offered = select(Offer.listing_id).where(col(Offer.active), Offer.scenario == where.scenario)
        query = query.where(col(Listing.id).in_(offered))
    if where.min_price_minor is not None:
        query = query.where(price >= where.min_price_minor)
    if where.max_price_minor is not None:
        query = query.where(price <= where.max_price_minor)
    return query


def _sorted(sort: str, relevance: list[Any], price: Any) -> list[Any]:
    newest = [col(Listing.published_at).desc(), col(Listing.id).desc()]
    if sort == "price_asc":
        return [price.asc(), *newest]
    if sort == "price_desc":
        return [price.desc(), *newest]
    if sort == "title":
        return [col(Listing.title).asc(), col(Listing.id)]
    if sort == "newest":
        return newest
    return [*relevance, *newest]


def published_between(session: Session, start: datetime, end: datetime) -> Sequence[Listing]:
    """Listings that were published at some time in [start, end)."""
    return session.exec(select(Listing).where(
        col(Listing.published_at).is_not(None), col(Listing.published_at) < end,
        or_(col(Listing.retired_at).is_(None), col(Listing.retired_at) >= start),
    ).order_by(col(Listing.id))).all()


def listings_of_provider(session: Session, org_id: int) -> Sequence[Listing]:
    return session.exec(select(Listing).where(Listing.provider_org_id == org_id).order_by(col(Listing.id))).all()


def listings_for(session: Session, org_id: int | None, status: str | None, queue: bool, limit: int,
                 offset: int) -> tuple[Sequence[Listing], int]:
    """A provider's own listings (org_id set), or every listing past draft for the data office."""
    query = select(Listing)
    query = query.where(Listing.provider_org_id == org_id) if org_id is not None else query.where(
        Listing.status != "draft")
    if status:
        query = query.where(Listing.status == status)
    if queue:
        query = query.where(or_(col(Listing.status) == "submitted", col(Listing.revision_status) == "submitted"))
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(col(Listing.submitted_at).desc(), col(Listing.id).desc())
                        .limit(limit).offset(offset)).all()
    return rows, int(total)


def approved_since(session: Session, listing_id: int, user_id: int, since: datetime) -> bool:
    return session.exec(select(ListingReview.id).where(
        ListingReview.listing_id == listing_id, ListingReview.reviewer_id == user_id,
        ListingReview.decision == "approve", col(ListingReview.created_at) >= since,
    )).first() is not None


def reviews_of(session: Session, listing_id: int) -> Sequence[ListingReview]:
    return session.exec(select(ListingReview).where(ListingReview.listing_id == listing_id)
                        .order_by(col(ListingReview.id))).all()


def transitions_of(session: Session, listing_id: int) -> Sequence[ListingTransition]:
    return session.exec(select(ListingTransition).where(ListingTransition.listing_id == listing_id)
                        .order_by(col(ListingTransition.id))).all()


def last_transition(session: Session, listing_id: int, action: str) -> ListingTransition | None:
    return session.exec(select(ListingTransition).where(
        ListingTransition.listing_id == listing_id, ListingTransition.action == action,
    ).order_by(col(ListingTransition.id).desc())).first()


def registration_of(session: Session, listing_id: int) -> Registration | None:
    return session.exec(select(Registration).where(Registration.listing_id == listing_id)
                        .order_by(col(Registration.id))).first()


def registrations_of_many(session: Session, listing_ids: Sequence[int]) -> dict[int, Registration]:
    """Each listing's registration, as `registration_of` finds it, in one query."""
    found: dict[int, Registration] = {}
    for row in session.exec(select(Registration).where(col(Registration.listing_id).in_(listing_ids))
                            .order_by(col(Registration.id))):
        found.setdefault(row.listing_id, row)
    return found


def registration_by_code(session: Session, code: str) -> Registration | None:
    return session.exec(select(Registration).where(Registration.code == code.strip().upper())).first()


def registrations(session: Session, listing_id: int | None, limit: int,
                  offset: int) -> tuple[Sequence[Registration], int]:
    query = select(Registration)
    if listing_id is not None:
        query = query.where(Registration.listing_id == listing_id)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    return session.exec(query.order_by(col(Registration.id).desc()).limit(limit).offset(offset)).all(), int(total)


def registration_events(session: Session, registration_id: int) -> Sequence[RegistrationEvent]:
    return session.exec(select(RegistrationEvent).where(RegistrationEvent.registration_id == registration_id)
                        .order_by(col(RegistrationEvent.id))).all()


def published_offers(session: Session) -> Sequence[tuple[Listing, Offer]]:
    """Every active offer of every listing in the catalog, by listing then offer."""
    rows = session.exec(select(Listing, Offer).join(Offer, col(Offer.listing_id) == col(Listing.id))
                        .where(col(Listing.status).in_(CATALOG_STATUSES), col(Offer.active).is_(True))
                        .order_by(col(Listing.id), col(Offer.id))).all()
    return [(listing, offer) for listing, offer in rows]


def open_objections(session: Session, code: str) -> int:
    """Objections to a registration that the data office has not answered yet."""
    return int(session.exec(select(func.count()).select_from(Complaint).where(
        Complaint.registration_code == code, Complaint.status == "open")).one())
