"""What the effectiveness evaluation (效能评估) needs from the market: products published and how long
their first review took, with complaints counted by `market.service.complaints`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from market.models import ListingTransition


@dataclass(frozen=True)
class Published:
    listing_id: int
    at: datetime
    review_days: float | None  # first submission to publication


def published_between(session: Session, start: datetime, end: datetime) -> list[Published]:
    """Listings first published in [start, end), with the days from their first submission."""
    steps = session.exec(select(ListingTransition).where(col(ListingTransition.action).in_(("submit", "publish")))
                         .order_by(col(ListingTransition.id))).all()
    submitted: dict[int, datetime] = {}
    published: dict[int, datetime] = {}
    for step in steps:
        target = submitted if step.action == "submit" else published
        target.setdefault(step.listing_id, _aware(step.created_at))
    out = []
    for listing_id, at in published.items():
        if start <= at < end:
            first = submitted.get(listing_id)
            out.append(Published(listing_id, at, (at - first).total_seconds() / 86400 if first else None))
    return out


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)
