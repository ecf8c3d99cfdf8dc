"""Data security reviews (数据安全审查): the data office's record of the risks it found in one dataset
version and whether it passed. Important data (重要数据) is published, or moves to a new version, only on
a version whose latest review passed; a failed review blocks it until a later one passes. Reviews are
append-only (the database refuses changes), so the record of who judged what stays as it was."""

from __future__ import annotations

from sqlmodel import Session, col, select

from core.audit import record
from core.auth import Principal
from market.errors import ListingStateConflict, SecurityReviewRequired
from market.models import DatasetVersion, Listing, SecurityReview
from market.schemas import SecurityReviewCreate, SecurityReviewPage, SecurityReviewRead
from market.service.common import get_listing


def version_under_review(listing: Listing) -> int:
    """The version a decision would publish: the proposed one if a round proposes one, else the current."""
    return listing.proposed_version_id or listing.dataset_version_id


class SecurityReviewService:
    def add(self, session: Session, who: Principal, listing_id: int,
            body: SecurityReviewCreate) -> SecurityReviewRead:
        """Record a review of the version the listing publishes or proposes."""
        listing = get_listing(session, listing_id)
        if listing.status == "draft":
            raise ListingStateConflict("A draft is not under review yet; review it once it is submitted",
                                       zh="草稿尚未提交审核，提交后才能进行数据安全审查")
        review = SecurityReview(dataset_version_id=version_under_review(listing), listing_id=listing.id or 0,
                                reviewer_id=who.user_id, **body.model_dump())
        session.add(review)
        session.flush()
        record(session, who.actor, "listing.security_review", "listing", listing.id,
               {"dataset_version_id": review.dataset_version_id, "decision": body.decision,
                "risk_level": body.risk_level})
        return self._read(session, review)

    def list(self, session: Session, listing_id: int) -> SecurityReviewPage:
        """The reviews of every version of a listing, newest first."""
        get_listing(session, listing_id)
        rows = session.exec(select(SecurityReview).where(SecurityReview.listing_id == listing_id)
                            .order_by(col(SecurityReview.id).desc())).all()
        return SecurityReviewPage(items=[self._read(session, r) for r in rows], total=len(rows))

    def require_passed(self, session: Session, listing: Listing) -> None:
        """Refuse to publish important data whose version has no passed review as its latest."""
        version_id = version_under_review(listing)
        latest = session.exec(select(SecurityReview).where(SecurityReview.dataset_version_id == version_id)
                              .order_by(col(SecurityReview.id).desc())).first()
        if latest is None or latest.decision != "pass":
            said = "has no data security review" if latest is None else "failed its latest data security review"
            raise SecurityReviewRequired(
                f"This version of important data {said}; record a passed review before the approval that "
                "publishes it",
                zh="重要数据发布前须通过数据安全审查：请先登记本版本的审查结论（通过），再作出发布审核")

    def _read(self, session: Session, review: SecurityReview) -> SecurityReviewRead:
        version = session.get(DatasetVersion, review.dataset_version_id)
        assert version is not None
        return SecurityReviewRead.model_validate({**review.model_dump(), "dataset_version": version.version})


security_reviews = SecurityReviewService()
