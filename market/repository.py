"""Market queries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from market.models import Dataset, DatasetVersion, Listing, ListingReview, Offer


def latest_version(session: Session, dataset_id: int) -> DatasetVersion | None:
    return session.exec(
        select(DatasetVersion).where(DatasetVersion.dataset_id == dataset_id)
        .order_by(col(DatasetVersion.version).desc())
    ).first()


def dataset_by_name(session: Session, name: str) -> Dataset | None:
    return session.exec(select(Dataset).where(func.lower(Dataset.name) == name.lower())).first()


def offers_of(session: Session, listing_id: int) -> Sequence[Offer]:
    return session.exec(select(Offer).where(Offer.listing_id == listing_id).order_by(col(Offer.id))).all()


def search_published(
    session: Session, q: str | None, sector: str | None, grade: str | None, limit: int, offset: int
) -> tuple[Sequence[Listing], int]:
    query = select(Listing).where(Listing.status == "published")
    if q:
        like = f"%{q.strip()}%"
        query = query.where(or_(col(Listing.title).ilike(like), col(Listing.description).ilike(like),
                                col(Listing.sector).ilike(like)))
    if sector:
        query = query.where(Listing.sector == sector)
    if grade:
        query = query.where(Listing.grade == grade)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(col(Listing.published_at).desc(), col(Listing.id)).limit(limit).offset(offset))
    return rows.all(), int(total)


def approved_since(session: Session, listing_id: int, user_id: int, since: datetime) -> bool:
    return session.exec(select(ListingReview.id).where(
        ListingReview.listing_id == listing_id, ListingReview.reviewer_id == user_id,
        ListingReview.decision == "approve", col(ListingReview.created_at) >= since,
    )).first() is not None
