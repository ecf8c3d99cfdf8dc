"""Review and lifecycle: the data office's decisions, grade changes, and the transitions of a live listing.

A review round is either the *initial* one (the listing's status is `submitted`) or a *revision* of a
live listing (its `revision_status` is `submitted`): a new dataset version or dictionary (kind
`version`, opened by the provider) or a lower grade (kind `grade`, opened by a data-office user). A
revision runs beside the public state, so licensees keep working while it is reviewed. In every
round nobody approves what they submitted, nobody approves twice, and `important` data needs two
approvers. Raising a grade needs no round: tightening is always safe, so it applies at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from core.audit import record
from core.auth import Principal, Role
from core.errors import Forbidden, InvalidInput, NotFound
from core.models import utcnow
from market import reasons
from market import repository as repo
from market.errors import CoreGradeRefused, ListingStateConflict, OfferAboveCeiling, SelfReview
from market.models import Listing, ListingReview
from market.policy import DpPolicy
from market.schemas import GradeChange, ListingRead, ReviewCreate, TransitionCreate
from market.service.agreements import agreements
from market.service.common import (
    APPROVALS_NEEDED,
    GRADE_RANK,
    LIVE,
    check_offer_epsilon,
    clear_revision,
    editable_fields,
    get_listing,
    higher,
    locked_listing,
    most_charged,
    move,
    policy_for,
    policy_of,
    read,
    reindex,
)
from market.service.registrations import registrations, snapshot
from market.service.security import security_reviews
from market.service.versions import versions


@dataclass(frozen=True)
class Rule:
    sources: tuple[str, ...]
    target: str
    roles: frozenset[Role]


BOTH = frozenset({Role.data_office, Role.provider})
TRANSITIONS = {
    "suspend": Rule(("published", "ordering_paused"), "suspended", frozenset({Role.data_office})),
    "resume": Rule(("suspended",), "published", frozenset({Role.data_office})),
    "pause_ordering": Rule(("published",), "ordering_paused", BOTH),
    "resume_ordering": Rule(("ordering_paused",), "published", BOTH),
    "retire": Rule(LIVE, "retired", BOTH),
}


class ReviewService:
    def review(self, session: Session, who: Principal, listing_id: int, body: ReviewCreate) -> ListingRead:
        """Record a data-office decision on the open round; apply it once approvals suffice for the grade."""
        listing = locked_listing(session, listing_id)
        kind = self._round(listing)
        self._check_reviewer(session, listing, who)
        code = reasons.check(body.decision, body.reason_code)
        grade = self._grade(listing, kind, body)
        if body.decision == "approve" and grade == "core":
            raise CoreGradeRefused("Core data (核心数据) can never be published; reject the listing instead",
                                   zh="核心数据一律不得发布，请驳回该数据产品")
        session.add(ListingReview(listing_id=listing.id or 0, reviewer_id=who.user_id, decision=body.decision,
                                  grade=grade, reason_code=code, comment=body.comment,
                                  snapshot=editable_fields(session, listing)))
        if kind == "initial":
            self._decide_initial(session, who, listing, body, grade, code)
        else:
            self._decide_revision(session, who, listing, body, code)
        session.add(listing)
        record(session, who.actor, f"listing.review.{body.decision}", "listing", listing.id,
               {"grade": grade, "reason_code": code, "status": listing.status, "round": kind})
        return read(session, listing)

    def _round(self, listing: Listing) -> str:
        if listing.status == "submitted":
            return "initial"
        if listing.revision_status == "submitted" and listing.revision_kind:
            return listing.revision_kind
        raise ListingStateConflict(f"Only a submitted listing or revision can be reviewed; this one is "
                                   f"{listing.status} with nothing waiting for review")

    def _check_reviewer(self, session: Session, listing: Listing, who: Principal) -> None:
        if who.user_id in (listing.submitted_by, listing.created_by):
            raise SelfReview("You submitted this listing; another data-office user must review it",
                             zh="您提交了该数据产品，须由其他数据主管部门用户审核")
        if listing.approvals > 0 and repo.approved_since(session, listing.id or 0, who.user_id,
                                                         listing.submitted_at or utcnow()):
            raise SelfReview("You approved this submission already; a second, different reviewer must approve",
                             zh="您已审核通过本次提交，须由另一位审核人再次通过")

    def _grade(self, listing: Listing, kind: str, body: ReviewCreate) -> str:
        if kind == "initial":
            return body.grade or listing.grade or listing.proposed_grade
        current = listing.grade or listing.proposed_grade
        if kind == "grade":
            if body.grade not in (None, listing.revision_grade):
                raise InvalidInput(f"This round decides on the grade {listing.revision_grade}; approve or reject it")
            return listing.revision_grade or current
        if body.grade and GRADE_RANK[body.grade] < GRADE_RANK[current]:
            raise InvalidInput("Lowering a grade is a review of its own: POST /listings/{id}/grade")
        return body.grade or current

    def _decide_initial(self, session: Session, who: Principal, listing: Listing, body: ReviewCreate, grade: str,
                        code: str) -> None:
        if body.decision == "reject":
            move(session, who, listing, "reject", "rejected", code, body.comment)
            return
        if body.decision == "request_changes":
            listing.approvals = 0
            move(session, who, listing, "request_changes", "changes_requested", code, body.comment)
            return
        listing.grade = grade if listing.approvals == 0 else higher(listing.grade, grade)
        self._apply_fields(session, listing, body)
        listing.approvals += 1
        if listing.approvals >= APPROVALS_NEEDED[listing.grade]:
            if listing.grade == "important":
                security_reviews.require_passed(session, listing)
            self._publish(session, who, listing, code, body.comment)

    def _apply_fields(self, session: Session, listing: Listing, body: ReviewCreate) -> None:
        """The data office's fields: DP policy (floored by grade), ceiling price, sector, permitted scenarios."""
        assert listing.grade is not None
        listing.dp_policy = policy_for(listing.grade, body.dp_policy or DpPolicy.model_validate(listing.dp_policy))
        if body.ceiling_price_minor is not None:
            listing.ceiling_price_minor = body.ceiling_price_minor
        if body.sector is not None:
            listing.sector = body.sector
        if body.scenarios is not None:
            listing.scenarios = list(body.scenarios)
        self._check_offers(session, listing)

    def _check_offers(self, session: Session, listing: Listing) -> None:
        offers = [o for o in repo.offers_of(session, listing.id or 0) if o.active]
        ceiling, policy = listing.ceiling_price_minor, policy_of(listing)
        for offer in offers:
            check_offer_epsilon(offer.name, offer.epsilon_budget, policy)
            most = most_charged(offer.price_minor, offer.price_per_query_minor, offer.query_quota)
            if offer.scenario == "industry" and ceiling is not None and most > ceiling:
                raise OfferAboveCeiling(f"The offer {offer.name!r} costs up to {most} fen (its price and every query "
                                        f"of its quota), above the ceiling of {ceiling}: request changes "
                                        "(price-above-ceiling) or raise the ceiling",
                                        zh=f"方案“{offer.name}”最多收费 {most} 分（价格加上全部查询次数的按次费用），"
                                           f"高于最高限价 {ceiling} 分：请要求修改（报价高于最高限价）或调高限价")
        closing = [o for o in offers if o.scenario not in listing.scenarios]
        if len(closing) == len(offers):
            raise InvalidInput("No offer fits the permitted scenarios: request changes instead")
        for offer in closing:
            offer.active = False
            session.add(offer)

    def _publish(self, session: Session, who: Principal, listing: Listing, code: str, comment: str) -> None:
        agreements.require_cover(session, listing)  # the agreement may have ended while the listing was reviewed
        listing.dictionary = listing.proposed_dictionary
        listing.dataset_version_id = listing.proposed_version_id or listing.dataset_version_id
        listing.proposed_version_id, listing.proposed_dictionary = None, None
        listing.published_at = utcnow()
        move(session, who, listing, "publish", "published", code, comment, grade=listing.grade)
        registrations.initial(session, who, listing, code)
        reindex(session, listing)

    def _decide_revision(self, session: Session, who: Principal, listing: Listing, body: ReviewCreate,
                         code: str) -> None:
        if body.decision == "reject":
            clear_revision(listing)
            move(session, who, listing, "reject_revision", listing.status, code, body.comment)
            return
        if body.decision == "request_changes":
            if listing.revision_kind == "grade":
                raise ListingStateConflict("A grade change is approved or rejected, not sent back for changes")
            listing.revision_status, listing.approvals = "changes_requested", 0
            move(session, who, listing, "request_revision_changes", listing.status, code, body.comment)
            return
        if body.grade and listing.revision_kind == "version" and body.grade != listing.grade:
            self._raise(session, who, listing, body.grade, "reassessment", body.comment)
        listing.approvals += 1
        if listing.approvals >= APPROVALS_NEEDED.get(listing.grade or "general", 2):
            if listing.grade == "important" and listing.revision_kind == "version":
                security_reviews.require_passed(session, listing)
            self._apply_revision(session, who, listing, body, code)

    def _apply_revision(self, session: Session, who: Principal, listing: Listing, body: ReviewCreate,
                        code: str) -> None:
        before, before_version = snapshot(session, listing), listing.dataset_version_id
        kind, version = listing.revision_kind, listing.proposed_version_id
        if kind == "grade":
            listing.grade = listing.revision_grade
        else:
            listing.dictionary = listing.proposed_dictionary
            listing.dataset_version_id = version or listing.dataset_version_id
        self._apply_fields(session, listing, body)
        clear_revision(listing)
        move(session, who, listing, "approve_revision", listing.status, code, body.comment, kind=kind)
        registrations.change(session, who, listing, code, {"kind": kind, "before": before,
                                                           "after": snapshot(session, listing)})
        reindex(session, listing)
        if kind == "version":
            versions.announce(session, who, listing, before_version)

    def change_grade(self, session: Session, who: Principal, listing_id: int, body: GradeChange) -> ListingRead:
        """Raise a live listing's grade at once (tighter controls now), or open a review to lower it."""
        listing = get_listing(session, listing_id)
        if listing.status not in LIVE or listing.grade is None:
            raise ListingStateConflict(f"This listing is {listing.status}: set its grade in the review")
        if body.grade == listing.grade:
            raise ListingStateConflict(f"The listing is graded {listing.grade} already")
        if GRADE_RANK[body.grade] > GRADE_RANK[listing.grade]:
            self._raise(session, who, listing, body.grade, reasons.check("raise_grade", body.reason_code), body.comment)
        else:
            self._request_lower(session, who, listing, body)
        return read(session, listing)

    def _raise(self, session: Session, who: Principal, listing: Listing, grade: str, code: str, comment: str) -> None:
        before = listing.grade
        listing.grade = grade  # the policy's floors and default caps follow the grade when it is read
        if listing.revision_kind == "grade":  # a pending lowering is moot once the grade goes up
            clear_revision(listing)
        # Core data is never available: raising to core takes the listing out of service at once.
        target = "suspended" if grade == "core" else listing.status
        move(session, who, listing, "raise_grade", target, code, comment, grade_from=before, grade_to=grade)
        registrations.change(session, who, listing, code, {"grade": {"from": before, "to": grade}})

    def _request_lower(self, session: Session, who: Principal, listing: Listing, body: GradeChange) -> None:
        code = reasons.check("lower_grade", body.reason_code)
        if listing.revision_kind is not None:
            raise ListingStateConflict("Another review of this listing is open; decide it first")
        listing.revision_kind, listing.revision_status, listing.revision_grade = "grade", "submitted", body.grade
        listing.approvals, listing.submitted_by, listing.submitted_at = 0, who.user_id, utcnow()
        move(session, who, listing, "request_lower_grade", listing.status, code, body.comment,
             grade_from=listing.grade, grade_to=body.grade)

    def transition(self, session: Session, who: Principal, listing_id: int, body: TransitionCreate) -> ListingRead:
        """Suspend, resume, pause or resume ordering, or retire a live listing, with a reason code."""
        listing = get_listing(session, listing_id)
        if who.role is Role.provider and listing.provider_org_id != who.organization_id:
            raise NotFound(f"No listing {listing_id} of yours")
        rule = TRANSITIONS[body.action]
        if who.role not in rule.roles:
            raise Forbidden(f"Only the data office may {body.action.replace('_', ' ')} a listing")
        if listing.status not in rule.sources:
            raise ListingStateConflict(f"A listing that is {listing.status} cannot {body.action.replace('_', ' ')}")
        code = reasons.check(body.action, body.reason_code)
        self._guard(session, who, listing, body.action)
        if body.action == "retire":
            listing.retired_at = utcnow()
            clear_revision(listing)
            registrations.cancel(session, who, listing, code)
        move(session, who, listing, body.action, rule.target, code, body.comment)
        return read(session, listing)

    def _guard(self, session: Session, who: Principal, listing: Listing, action: str) -> None:
        if action == "resume" and listing.grade == "core":
            raise CoreGradeRefused("Core data (核心数据) can never be published; it stays suspended or is retired")
        if action == "resume":
            agreements.require_cover(session, listing)
        if action == "resume_ordering" and who.role is Role.provider:
            paused = repo.last_transition(session, listing.id or 0, "pause_ordering")
            if paused is not None and paused.actor_role == Role.data_office.value:
                raise Forbidden("The data office paused ordering on this listing; only it can resume ordering")


reviews = ReviewService()
