"""Licences: applying on an offer, approval, the lifecycle the data office controls, renewal, and the budget.

    pending_approval ─approve─▶ awaiting_payment ─paid─▶ active ─term ends─▶ expired
            │                        │   (free: approved → active)    │ ▲
            └─reject─▶ rejected      │                      suspend ▼ │ resume
                                     │                            suspended
    revoke: from any of pending_approval, awaiting_payment, active, suspended ─▶ revoked
    refund: a paid licence ─▶ refunded

Important data waits for the data office's approval; so does every free (public-welfare) offer, whose review
decides eligibility — the purpose and the evidence that the use is for public governance or welfare — and a
refusal names its reason code.

Expiry is not a stored transition: a licence is expired from the instant its term ends, because
`effective_status` and the budget's conditional UPDATE both compare `expires_at` with the clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, func, or_, select

from core.audit import Actor, record
from core.auth import Principal, Role
from core.errors import InvalidInput, NotFound
from core.models import utcnow
from licensing.errors import EligibilityEvidenceMissing, LicenseNotActive, LicenseStateConflict, PriceAboveCeiling
from licensing.models import License
from licensing.schemas import LicenseAction, LicenseCreate, LicensePage, LicenseRead, LicenseRenew, LicenseReview
from licensing.service import budget
from market import reasons
from market.policy import epsilon_units
from market.schemas import FREE_SCENARIOS
from market.service import listings as listing_service
from market.service import most_charged

if TYPE_CHECKING:
    from market.models import Listing, Offer

REVOCABLE = ("pending_approval", "awaiting_payment", "active", "suspended")


def _aware(at: datetime | None) -> datetime | None:
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


def effective_status(licence: License) -> str:
    """The stored status, except that an active licence past its term end is `expired`."""
    expires = _aware(licence.expires_at)
    if licence.status == "active" and expires is not None and expires <= utcnow():
        return "expired"
    return licence.status


def check_offer_price(listing: Listing, offer: Offer) -> None:
    """Public-welfare offers are free; industry offers may not exceed the data office's ceiling price."""
    if offer.scenario in FREE_SCENARIOS and (offer.price_minor != 0 or offer.price_per_query_minor != 0):
        raise InvalidInput(f"The offer {offer.name!r} is for public governance or welfare, which are always free",
                           zh=f"产品方案“{offer.name}”用于公共治理或公益事业场景，必须免费")
    ceiling = listing.ceiling_price_minor
    most = most_charged(offer.price_minor, offer.price_per_query_minor, offer.query_quota)
    if offer.scenario == "industry" and ceiling is not None and most > ceiling:
        raise PriceAboveCeiling(f"The offer {offer.name!r} costs {offer.price_minor} {offer.currency} minor units, "
                                f"above the ceiling price of {ceiling} set by the data office; it cannot be sold "
                                "until the provider lowers it", ceiling_price_minor=ceiling)


class LicenseService:
    def apply(self, session: Session, who: Principal, body: LicenseCreate, renews: License | None = None
              ) -> LicenseRead:
        """Apply for a licence on an offer; important data waits for the data office, priced waits for payment."""
        listing, offer = listing_service.offer(session, body.listing_id, body.offer_id)
        check_offer_price(listing, offer)
        budget.check_open(session, who.organization_id, listing.id or 0, offer.name, offer.epsilon_budget)
        free = offer.price_minor == 0 and offer.price_per_query_minor == 0
        if not body.purpose.strip():
            raise InvalidInput("State what the data will be used for (the purpose): the licence covers that use only",
                               zh="请填写用途：说明将如何使用这些数据，许可仅限于所述用途")
        if free and (len(body.purpose.strip()) < 10 or not body.evidence.strip()):
            raise EligibilityEvidenceMissing(
                "A free offer is for public governance or public welfare: state the purpose (at least 10 characters) "
                "and the evidence (the project, a document number or a link) for the data office's eligibility review",
                zh="免费方案仅用于公共治理或公益事业：请填写用途（至少 10 个字）和证明材料（项目、文件编号或链接），"
                   "供数据主管部门进行资格审核")
        licence = License(
            listing_id=listing.id or 0, offer_id=offer.id or 0, organization_id=who.organization_id,
            applicant_id=who.user_id, purpose=body.purpose.strip(), evidence=body.evidence.strip(),
            status="pending_approval",
            scenario=offer.scenario, price_minor=offer.price_minor, currency=offer.currency,
            price_per_query_minor=offer.price_per_query_minor,
            term_days=offer.term_days, epsilon_budget_micro=epsilon_units(offer.epsilon_budget, up=False),
            query_quota=offer.query_quota,
            provider_org_id=listing.provider_org_id, dataset_id=listing.dataset_id, listing_title=listing.title,
            offer_name=offer.name,
            renews_license_id=renews.id if renews else None,
        )
        if listing.grade != "important" and not free:  # free use is reviewed for eligibility, important data always
            self._after_approval(licence)
        session.add(licence)
        session.flush()
        record(session, who.actor, "license.applied", "license", licence.id,
               {"listing_id": listing.id, "offer_id": offer.id, "status": licence.status,
                "renews_license_id": licence.renews_license_id})
        if licence.status == "active":
            record(session, who.actor, "license.activated", "license", licence.id, {"expires_at": licence.expires_at})
        return self.read(licence)

    def _after_approval(self, licence: License) -> None:
        if licence.price_minor > 0:
            licence.status = "awaiting_payment"
        else:
            self.activate(licence)

    def activate(self, licence: License) -> None:
        """Start the term now: the licence is usable until `expires_at`, exactly."""
        now = utcnow()
        licence.status, licence.activated_at, licence.status_changed_at = "active", now, now
        licence.expires_at = now + timedelta(days=licence.term_days)

    def review(self, session: Session, who: Principal, license_id: int, body: LicenseReview) -> LicenseRead:
        """The data office's decision on a licence for important data (the stated purpose is on the licence)."""
        licence = self._get(session, license_id)
        if licence.status != "pending_approval" and not (
                body.decision == "approve" and self.needs_approval(session, licence)):
            raise LicenseStateConflict(f"Only a licence pending approval can be reviewed; this one is {licence.status}")
        code = self._eligibility_code(licence, body)
        if body.decision == "reject":
            licence.status = "rejected"
        else:
            licence.approved_by, licence.approved_at = who.user_id, utcnow()
            if licence.status == "pending_approval":
                self._after_approval(licence)
        licence.status_reason, licence.status_changed_at = body.comment or None, utcnow()
        session.add(licence)
        record(session, who.actor, f"license.review.{body.decision}", "license", licence.id,
               {"comment": body.comment, "status": licence.status, "purpose": licence.purpose, "reason_code": code})
        return self.read(licence)

    def _eligibility_code(self, licence: License, body: LicenseReview) -> str | None:
        """A free licence's review decides its eligibility, and a refusal names why (an approval may too)."""
        if licence.price_minor != 0 or licence.price_per_query_minor != 0:
            return body.reason_code
        if body.decision == "reject":
            return reasons.check("refuse_eligibility", body.reason_code)
        return reasons.check("approve_eligibility", body.reason_code or "eligible-public-interest")

    def suspend(self, session: Session, who: Principal, license_id: int, body: LicenseAction) -> LicenseRead:
        """Suspend an active licence: its next query is refused. The term keeps running."""
        licence = self._get(session, license_id)
        self._require(licence, ("active",), "suspended")
        return self._move(session, who.actor, licence, "suspended", "suspended", body.reason)

    def resume(self, session: Session, who: Principal, license_id: int, body: LicenseAction) -> LicenseRead:
        """Resume a suspended licence for the rest of its term (the term was not extended while suspended)."""
        licence = self._get(session, license_id)
        self._require(licence, ("suspended",), "resumed")
        expires = _aware(licence.expires_at)
        if expires is not None and expires <= utcnow():
            raise LicenseStateConflict(f"Licence {license_id}'s term ended at {expires.isoformat()}; "
                                       "the enterprise must renew it instead")
        return self._move(session, who.actor, licence, "active", "resumed", body.reason)

    def revoke(self, session: Session, who: Principal, license_id: int, body: LicenseAction) -> LicenseRead:
        """Revoke a licence for good: it can never be used, resumed or renewed."""
        licence = self._get(session, license_id)
        self._require(licence, REVOCABLE, "revoked")
        return self._move(session, who.actor, licence, "revoked", "revoked", body.reason)

    def renew(self, session: Session, who: Principal, license_id: int, body: LicenseRenew) -> LicenseRead:
        """Apply again on the same offer: a new licence with a new term and a fresh ε budget (approval and payment
        as for any application; the enterprise's cap per dataset still bounds its total privacy loss)."""
        old = self._own(session, who, license_id)
        self._require(old, ("active", "expired"), "renewed")
        purpose = body.purpose if body.purpose is not None else old.purpose
        return self.apply(session, who, LicenseCreate(listing_id=old.listing_id, offer_id=old.offer_id,
                                                      purpose=purpose, evidence=old.evidence), renews=old)

    def mark_refunded(self, session: Session, actor: Actor, licence: License, reason: str) -> None:
        """A refund ends the licence (unless it was revoked, which stays the stronger fact)."""
        if licence.status in ("refunded", "revoked"):
            return
        self._move(session, actor, licence, "refunded", "refunded", reason)

    def _require(self, licence: License, allowed: tuple[str, ...], verb: str) -> None:
        status = effective_status(licence)
        if status not in allowed:
            raise LicenseStateConflict(f"Licence {licence.id} is {status}; only a licence that is "
                                       f"{' or '.join(allowed)} can be {verb}")

    def _move(self, session: Session, actor: Actor, licence: License, to: str, action: str, reason: str
              ) -> LicenseRead:
        before = effective_status(licence)
        licence.status, licence.status_reason, licence.status_changed_at = to, reason, utcnow()
        session.add(licence)
        record(session, actor, f"license.{action}", "license", licence.id,
               {"from": before, "to": to, "reason": reason})
        return self.read(licence)

    def get(self, session: Session, who: Principal, license_id: int) -> LicenseRead:
        """One licence the caller may see."""
        return self.read(self._visible(session, who, license_id))

    def list(self, session: Session, who: Principal, status: str | None, limit: int, offset: int) -> LicensePage:
        """Licences the caller may see, newest first; `status` filters on the effective status."""
        query = select(License)
        if who.role is Role.enterprise:
            query = query.where(License.organization_id == who.organization_id)
        if status:
            query = query.where(_status_is(status))
        total = session.exec(select(func.count()).select_from(query.subquery())).one()
        rows = session.exec(query.order_by(col(License.id).desc()).limit(limit).offset(offset)).all()
        return LicensePage(items=[self.read(r) for r in rows], total=int(total))

    def _get(self, session: Session, license_id: int) -> License:
        licence = session.get(License, license_id)
        if licence is None:
            raise NotFound(f"No licence {license_id}")
        return licence

    def _visible(self, session: Session, who: Principal, license_id: int) -> License:
        licence = self._get(session, license_id)
        if who.role is Role.enterprise and licence.organization_id != who.organization_id:
            raise NotFound(f"No licence {license_id}")  # never confirm another enterprise's licence exists
        if who.role not in (Role.enterprise, Role.data_office, Role.finance):
            raise NotFound(f"No licence {license_id}")
        return licence

    def _own(self, session: Session, who: Principal, license_id: int) -> License:
        licence = self._visible(session, who, license_id)
        if licence.organization_id != who.organization_id:
            raise NotFound(f"No licence {license_id} of yours")
        return licence

    def read(self, licence: License) -> LicenseRead:
        """The API view of a licence, with its effective status and ε left."""
        return LicenseRead.model_validate({
            **licence.model_dump(), "status": effective_status(licence), "epsilon_budget": licence.epsilon_budget,
            "epsilon_spent": licence.epsilon_spent, "epsilon_remaining": licence.epsilon_remaining,
            "delta_spent": licence.delta_spent})

    def usable(self, session: Session, who: Principal, license_id: int) -> License:
        """The caller's licence, if it can be queried right now (expiry is checked here, not by a job)."""
        licence = self._own(session, who, license_id)
        status = effective_status(licence)
        if status != "active":
            raise LicenseNotActive(f"Licence {license_id} is {status}; queries need an active licence",
                                   zh=f"许可 {license_id} 当前状态为 {status}，只有生效中的许可才能查询")
        if self.needs_approval(session, licence):
            raise LicenseNotActive(f"The data behind licence {license_id} is now graded important: the data office "
                                   "must approve this licence before it can be queried again",
                                   zh=f"许可 {license_id} 对应的数据已调整为重要数据，"
                                      "须经数据主管部门审批后才能继续查询")
        return licence

    def needs_approval(self, session: Session, licence: License) -> bool:
        """Whether the listing is important data now and the data office never approved this licence.

        Raising a grade applies to existing licences at once, not only to new applications."""
        return licence.approved_by is None and listing_service.grade_of(session, licence.listing_id) == "important"

    def reserve(self, session: Session, license_id: int, epsilon: float, delta: float = 0.0) -> None:
        """Charge ε (and δ) and one query atomically on the licence, the enterprise's cap and the global cap."""
        budget.reserve(session, license_id, epsilon, delta)

    def refund(self, session: Session, license_id: int, epsilon: float, delta: float = 0.0) -> None:
        """Give back a reservation whose query failed before any noisy value existed (on every budget)."""
        budget.refund(session, license_id, epsilon, delta)

    def reserve_open_statistics(self, session: Session, listing_id: int,
                                epsilons: Sequence[float]) -> tuple[int, int]:
        """Charge open statistics on the dataset's global cap only, all at once (see `budget`)."""
        return budget.reserve_open_statistics(session, listing_id, epsilons)

    def refund_open_statistics(self, session: Session, dataset_id: int, budget_version_id: int,
                               epsilon: float) -> None:
        """Give back one open-statistics table that failed before it touched the data."""
        budget.refund_open_statistics(session, dataset_id, budget_version_id, epsilon)

    def budget(self, session: Session, license_id: int) -> tuple[float, float]:
        """The licence's ε budget and ε spent, fresh from the database."""
        licence = self._get(session, license_id)
        session.refresh(licence)
        return licence.epsilon_budget, licence.epsilon_spent


def _status_is(status: str) -> Any:
    now = utcnow()
    if status == "active":
        return (col(License.status) == "active") & (col(License.expires_at) > now)
    if status == "expired":
        lapsed = (col(License.status) == "active") & (col(License.expires_at) <= now)
        return or_(col(License.status) == "expired", lapsed)
    return col(License.status) == status


license_service = LicenseService()
