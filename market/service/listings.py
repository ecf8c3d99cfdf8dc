"""Listings: drafting, submitting (first time, or a new version of a live listing), offers, and what the
other domains ask of a listing (an offer to license, the sandbox's view of the data)."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session

from core.audit import record
from core.auth import Principal, Role
from core.errors import InvalidInput, NotFound
from core.models import utcnow
from market import repository as repo
from market import unit as privacy_unit
from market.errors import (
    CoreGradeRefused,
    ListingStateConflict,
    ListingUnavailable,
    OfferAboveCeiling,
    OrderingPaused,
)
from market.models import Dataset, DatasetVersion, Listing, Offer
from market.policy import DpPolicy
from market.profile import dictionary_changes, findings
from market.schemas import (
    FREE_SCENARIOS,
    CatalogEntry,
    Dictionary,
    FieldChange,
    Flag,
    GradeChange,
    ListingCreate,
    ListingDetail,
    ListingPage,
    ListingRead,
    ListingUpdate,
    OfferCreate,
    PreviewRead,
    ReviewCreate,
    ReviewRead,
    TransitionCreate,
    TransitionRead,
)
from market.service import catalog as catalog_service
from market.service.agreements import agreements
from market.service.common import (
    LIVE,
    check_offer_epsilon,
    editable_fields,
    field_changes,
    get_listing,
    most_charged,
    move,
    policy_of,
    read,
    reindex,
)
from market.service.datasets import datasets
from market.service.registrations import registrations
from market.service.review import reviews
from market.service.versions import versions

EDITABLE_STATES = ("draft", "changes_requested")


@dataclass(frozen=True)
class DatasetTarget:
    """What the sandbox needs to run a query: the public description and the sealed ciphertext."""

    listing_id: int
    dataset_id: int
    dataset_name: str
    dataset_version_id: int
    dataset_sha256: str
    storage_key: str
    sealed_key: str
    columns: list[dict[str, Any]]
    dictionary: dict[str, Any]
    row_bound: int  # public: declared in the dictionary (or the platform default), never counted from the data
    grade: str
    dp_policy: DpPolicy  # the policy in force (resolved at the grade): every cap a number
    budget_version_id: int  # whose ε/δ counters this version draws on: the first version with the same data
    templates_only: bool = False  # the data office requires approved query templates (no free SQL)


@dataclass(frozen=True)
class BudgetScope:
    dataset_id: int
    budget_version_id: int
    policy: DpPolicy
    grade: str
    row_bound: int


class ListingService:
    def create(self, session: Session, who: Principal, body: ListingCreate) -> ListingRead:
        """Draft a listing over one of the provider's datasets."""
        if body.proposed_grade == "core":
            raise CoreGradeRefused("Core data (核心数据) cannot be listed: the platform never publishes it",
                                   zh="核心数据不得上架，平台从不发布核心数据")
        dataset, version = datasets.own_dataset(session, who, body.dataset_id)
        body.dp_policy.check(body.proposed_grade)
        for offer in body.offers:
            _check_free(offer)
            check_offer_epsilon(offer.name, offer.epsilon_budget, body.dp_policy.for_grade(body.proposed_grade))
        listing = Listing(
            dataset_id=dataset.id or 0, dataset_version_id=version.id or 0, provider_org_id=who.organization_id,
            created_by=who.user_id, title=body.title, description=body.description, keywords=body.keywords,
            sector=body.sector, update_cycle=body.update_cycle, proposed_grade=body.proposed_grade,
            dp_policy=body.dp_policy.model_dump(),
        )
        session.add(listing)
        session.flush()
        for offer in body.offers:
            session.add(Offer(listing_id=listing.id or 0, **offer.model_dump()))
        session.flush()
        reindex(session, listing)
        record(session, who.actor, "listing.created", "listing", listing.id, {"title": listing.title})
        return read(session, listing)

    def update(self, session: Session, who: Principal, listing_id: int, body: ListingUpdate) -> ListingRead:
        """Edit a draft, or a listing the data office sent back for changes; anything else is 409."""
        listing = self._own(session, who, listing_id)
        if listing.status not in EDITABLE_STATES:
            raise ListingStateConflict(
                f"Only a draft or a listing sent back for changes can be edited; this listing is {listing.status}",
                zh="只有草稿或被退回修改的数据产品可以编辑；本数据产品当前不可编辑")
        if body.proposed_grade == "core":
            raise CoreGradeRefused("Core data (核心数据) cannot be listed: the platform never publishes it",
                                   zh="核心数据不得上架，平台从不发布核心数据")
        before = editable_fields(session, listing)
        for name, value in body.model_dump(exclude_unset=True, exclude={"offers", "dp_policy"}).items():
            setattr(listing, name, value)
        if body.dp_policy is not None:
            listing.dp_policy = _merged_policy(listing.dp_policy, body.dp_policy.model_dump(exclude_unset=True))
        if body.offers is not None:
            self._replace_offers(session, listing, body.offers)
        session.add(listing)
        session.flush()
        reindex(session, listing)
        changed = [name for name, _, _ in field_changes(before, editable_fields(session, listing))]
        record(session, who.actor, "listing.updated", "listing", listing.id, {"fields": changed})
        return read(session, listing)

    def _replace_offers(self, session: Session, listing: Listing, offers: builtins.list[OfferCreate]) -> None:
        for offer in offers:
            _check_free(offer)
        for old in repo.offers_of(session, listing.id or 0):
            session.delete(old)
        session.flush()
        for offer in offers:
            session.add(Offer(listing_id=listing.id or 0, **offer.model_dump()))
        session.flush()

    def submit(self, session: Session, who: Principal, listing_id: int) -> ListingRead:
        """Send a draft to review; on a live listing, submit its dataset's latest version and dictionary."""
        listing = self._own(session, who, listing_id)
        version = repo.latest_version(session, listing.dataset_id)
        if version is None or not version.dictionary:
            raise ListingStateConflict("Write the data dictionary on the dataset's page before submitting",
                                       zh="提交审核前，请先在数据集页面填写数据字典")
        datasets.check_unit(version)  # a new version may have brought people with several rows
        if listing.status in ("draft", "changes_requested", *LIVE):
            agreements.require_cover(session, listing)
        if listing.status in ("draft", "changes_requested"):
            self._submit_first(session, who, listing, version)
        elif listing.status in LIVE:
            self._submit_revision(session, who, listing, version)
        else:
            raise ListingStateConflict(f"Only a draft or a live listing can be submitted; this listing is "
                                       f"{listing.status}", zh="只有草稿、被退回修改或已发布的数据产品可以提交审核")
        return read(session, listing)

    def _submit_first(self, session: Session, who: Principal, listing: Listing, version: DatasetVersion) -> None:
        code = "resubmission" if listing.status == "changes_requested" else "initial-submission"
        self._snapshot(who, listing, version)
        move(session, who, listing, "submit", "submitted", code, dataset_version=version.version)

    def _snapshot(self, who: Principal, listing: Listing, version: DatasetVersion) -> None:
        # Reviewers judge what was submitted: later edits of the working dictionary wait for the next round.
        listing.proposed_version_id, listing.proposed_dictionary = version.id, version.dictionary
        listing.approvals, listing.submitted_by, listing.submitted_at = 0, who.user_id, utcnow()

    def _submit_revision(self, session: Session, who: Principal, listing: Listing, version: DatasetVersion) -> None:
        # A new version's round nobody has approved yet may be replaced by a newer proposal (an upload of important
        # data opens one by itself, and its provider may still fix the dictionary).
        if listing.revision_status == "submitted" and (listing.revision_kind != "version" or listing.approvals > 0):
            raise ListingStateConflict("A revision of this listing is under review already",
                                       zh="本数据产品已有一次变更正在审核中")
        if listing.revision_kind == "grade":
            raise ListingStateConflict("A grade change of this listing is under review; wait for its decision",
                                       zh="本数据产品的分级调整正在审核中，请等待审核结果")
        if version.id == listing.dataset_version_id and version.dictionary == listing.dictionary:
            raise ListingStateConflict("Nothing has changed since the approved version: upload a new version or edit "
                                       "the dictionary first",
                                       zh="与已批准的版本相比没有变化：请先上传新版本或修改数据字典")
        current = session.get(DatasetVersion, listing.dataset_version_id)
        unchanged = (current is not None and current.columns == version.columns
                     and version.dictionary == listing.dictionary)
        if unchanged and listing.grade != "important":
            datasets.move_listing(session, who, listing, version)  # no public change: nothing to review
            return
        # Important data's new version is reviewed even when nothing public changed: its security review first.
        datasets.open_version_round(session, who, listing, version)

    def add_offer(self, session: Session, who: Principal, listing_id: int, body: OfferCreate) -> ListingRead:
        """Add an offer: free for public welfare, within the ceiling and the permitted scenarios."""
        listing = self._own(session, who, listing_id)
        if listing.status in ("retired", "rejected"):
            raise ListingStateConflict(f"A {listing.status} listing takes no new offers")
        _check_free(body)
        check_offer_epsilon(body.name, body.epsilon_budget, policy_of(listing))
        if body.scenario not in listing.scenarios:
            raise InvalidInput(f"The data office permits only {', '.join(listing.scenarios)} on this listing")
        ceiling = listing.ceiling_price_minor
        most = most_charged(body.price_minor, body.price_per_query_minor, body.query_quota)
        if body.scenario == "industry" and ceiling is not None and most > ceiling:
            raise OfferAboveCeiling(f"{most} fen (the price and every query of the quota) is above this listing's "
                                    f"ceiling price of {ceiling} fen",
                                    zh=f"该方案最多收费 {most} 分（价格加上全部查询次数的按次费用），"
                                       f"高于最高限价 {ceiling} 分")
        offer = Offer(listing_id=listing.id or 0, **body.model_dump())
        session.add(offer)
        session.flush()
        record(session, who.actor, "listing.offer_added", "listing", listing.id,
               {"offer_id": offer.id, "scenario": offer.scenario, "price_minor": offer.price_minor})
        registrations.change(session, who, listing, "offer-added", {"offer_added": body.model_dump()})
        return read(session, listing)

    def review(self, session: Session, who: Principal, listing_id: int, body: ReviewCreate) -> ListingRead:
        """Record a data-office decision; publish once approvals suffice for the grade."""
        return reviews.review(session, who, listing_id, body)

    def transition(self, session: Session, who: Principal, listing_id: int, body: TransitionCreate) -> ListingRead:
        """Suspend, resume, pause or resume ordering, or retire, with a reason code."""
        return reviews.transition(session, who, listing_id, body)

    def change_grade(self, session: Session, who: Principal, listing_id: int, body: GradeChange) -> ListingRead:
        """Raise a grade at once, or open a review to lower it."""
        return reviews.change_grade(session, who, listing_id, body)

    def _own(self, session: Session, who: Principal, listing_id: int) -> Listing:
        listing = get_listing(session, listing_id)
        if listing.provider_org_id != who.organization_id:
            raise NotFound(f"No listing {listing_id} of yours")
        return listing

    def _visible(self, session: Session, who: Principal, listing_id: int) -> Listing:
        """Providers see their own listings; the data office every listing past draft."""
        listing = get_listing(session, listing_id)
        if who.role is Role.provider and listing.provider_org_id == who.organization_id:
            return listing
        if who.role is Role.data_office and listing.status != "draft":
            return listing
        raise NotFound(f"No listing {listing_id}")

    def detail(self, session: Session, who: Principal, listing_id: int) -> ListingDetail:
        """A listing with what is under review, the checks' flags, its reviews and its history."""
        listing = self._visible(session, who, listing_id)
        proposed = session.get(DatasetVersion, listing.proposed_version_id) if listing.proposed_version_id else None
        reviews = repo.reviews_of(session, listing.id or 0)
        last_seen = next((r.snapshot for r in reversed(reviews) if r.snapshot is not None), None)
        edits = [FieldChange(field=k, before=b, after=a)
                 for k, b, a in field_changes(last_seen, editable_fields(session, listing))]
        flags = [Flag(column=f.column, code=f.code, severity=f.severity)
                 for f in findings(listing.proposed_dictionary, proposed.profile if proposed else None)
                 if f.severity != "info"]
        shown = listing.proposed_dictionary or listing.dictionary
        version = proposed or session.get(DatasetVersion, listing.dataset_version_id)
        unit = Dictionary.model_validate(shown) if shown else None
        return ListingDetail.model_validate({
            **read(session, listing).model_dump(), "dictionary": listing.dictionary,
            "proposed_dictionary": listing.proposed_dictionary, "flags": flags,
            "privacy_unit": privacy_unit.summary(unit) if unit else None,
            "person_rows": privacy_unit.person_rows(version.profile if version else None,
                                                    unit.privacy_unit.column if unit else None),
            "changes": dictionary_changes(listing.dictionary, listing.proposed_dictionary)
            if listing.proposed_dictionary else [], "field_changes": edits,
            "reviews": [ReviewRead.model_validate(r, from_attributes=True) for r in reviews],
            "history": [TransitionRead.model_validate(t, from_attributes=True)
                        for t in repo.transitions_of(session, listing.id or 0)]})

    def list(self, session: Session, who: Principal, status: str | None, queue: bool, limit: int,
             offset: int) -> ListingPage:
        """A provider's own listings, or (data office) every listing past draft; `queue` = awaiting review."""
        org = who.organization_id if who.role is Role.provider else None
        rows, total = repo.listings_for(session, org, status, queue, limit, offset)
        return ListingPage(items=[read(session, r) for r in rows], total=total)

    def read(self, session: Session, listing: Listing) -> ListingRead:
        return read(session, listing)

    def grade_of(self, session: Session, listing_id: int) -> str | None:
        """The listing's current grade (None before the data office has graded it)."""
        listing = session.get(Listing, listing_id)
        if listing is None:
            raise NotFound(f"No listing {listing_id}")
        return listing.grade

    def get_published(self, session: Session, listing_id: int) -> Listing:
        """A listing the public may see: published, or published with ordering paused."""
        listing = session.get(Listing, listing_id)
        if listing is None or listing.status not in repo.CATALOG_STATUSES:
            raise NotFound(f"No published listing {listing_id}")
        return listing

    def offer(self, session: Session, listing_id: int, offer_id: int) -> tuple[Listing, Offer]:
        """A published listing and one of its active offers (what licensing sells)."""
        listing = self.get_published(session, listing_id)
        if listing.status == "ordering_paused":
            raise OrderingPaused("New licences on this listing are paused for now; existing licences still work")
        offer = session.get(Offer, offer_id)
        if offer is None or offer.listing_id != listing.id or not offer.active:
            raise NotFound(f"The listing has no offer {offer_id}")
        return listing, offer

    def query_target(self, session: Session, listing_id: int) -> DatasetTarget:
        """The sandbox's view of a listing: its approved dictionary, current policy and sealed ciphertext."""
        listing = get_listing(session, listing_id)
        if listing.status in ("suspended", "retired"):
            raise ListingUnavailable(f"The listing is {listing.status}: no queries run on it until the data "
                                     "office resumes it")
        if not agreements.still_covers(session, listing):
            # The term passed a moment ago and the sweep has not suspended the listing yet: refuse already.
            raise ListingUnavailable("The authorization agreement of this listing has ended; no queries run on it",
                                     zh="该数据产品的授权运营协议已终止，暂不能查询")
        version = session.get(DatasetVersion, listing.dataset_version_id)
        dataset = session.get(Dataset, listing.dataset_id)
        assert version is not None and dataset is not None and listing.grade is not None
        dictionary = listing.dictionary or version.dictionary or {"columns": []}
        bound = privacy_unit.row_bound(Dictionary.model_validate(dictionary))
        if version.row_count > bound:
            # OpenDP trusts the public bound; a listing approved before bounds were declared may break it. Refusing
            # says only that the provider must act, never the count.
            raise ListingUnavailable("The provider must update this listing's data dictionary before queries run "
                                     "on it", zh="供数单位须先更新该数据产品的数据字典，之后才能查询")
        return DatasetTarget(
            listing_id=listing.id or 0, dataset_id=dataset.id or 0, dataset_name=dataset.name,
            dataset_version_id=version.id or 0, dataset_sha256=version.sha256, storage_key=version.storage_key,
            sealed_key=version.sealed_key, columns=version.columns,
            dictionary=dictionary, row_bound=bound, grade=listing.grade, dp_policy=policy_of(listing),
            budget_version_id=repo.budget_version_id(session, version), templates_only=listing.templates_only,
        )

    def budget_scope(self, session: Session, listing_id: int) -> BudgetScope:
        """What a listing's privacy budget counts against, in any state of the listing (for refunds, the
        odometer and the catalog): the dataset, its budget version and the policy in force."""
        listing = get_listing(session, listing_id)
        version = session.get(DatasetVersion, listing.dataset_version_id)
        assert version is not None
        dictionary = Dictionary.model_validate(listing.dictionary or version.dictionary or {"columns": []})
        return BudgetScope(dataset_id=listing.dataset_id, budget_version_id=repo.budget_version_id(session, version),
                           policy=policy_of(listing), grade=listing.grade or listing.proposed_grade,
                           row_bound=privacy_unit.row_bound(dictionary))

    def catalog(
        self, session: Session, q: str | None = None, sector: str | None = None, grade: str | None = None,
        limit: int = 50, offset: int = 0, **filters: Any,
    ) -> ListingPage:
        """Published listings matching a search and filters (see `catalog.search`)."""
        return catalog_service.search(session, repo.CatalogFilter(q=q, sector=sector, grade=grade, **filters),
                                      limit, offset)

    def catalog_entry(self, session: Session, listing_id: int) -> CatalogEntry:
        """One published listing with the public parts of its approved data dictionary."""
        listing = self.get_published(session, listing_id)
        dictionary = Dictionary.model_validate(listing.dictionary) if listing.dictionary else None
        version = session.get(DatasetVersion, listing.dataset_version_id)
        remaining = self.remaining_budget(session, listing_id) if _budget_reader is not None else None
        return CatalogEntry.model_validate({**read(session, listing).model_dump(), "dictionary": dictionary,
                                            "privacy_unit": privacy_unit.summary(dictionary) if dictionary else None,
                                            "columns": version.columns if version else [],
                                            "dataset_epsilon_remaining": remaining,
                                            "freshness": versions.freshness(session, listing),
                                            "versions": versions.history(session, listing)})

    def remaining_budget(self, session: Session, listing_id: int) -> float:
        """ε left of the listing's dataset-version cap (the budget is counted by licensing, which registers
        its reader with `read_budget_with`: market does not import licensing)."""
        assert _budget_reader is not None, "licensing registers the budget reader at import"
        return _budget_reader(session, listing_id)

    def preview(self, session: Session, listing_id: int, rows: int = 10) -> PreviewRead:
        """Synthetic rows made from the public dictionary only."""
        return catalog_service.preview(self.catalog_entry(session, listing_id), rows)

    def review_preview(self, session: Session, who: Principal, listing_id: int, rows: int = 5) -> PreviewRead:
        """Synthetic rows from the dictionary under review (never the data): what licensees will see."""
        listing = self._visible(session, who, listing_id)
        shown = listing.proposed_dictionary or listing.dictionary
        version = session.get(DatasetVersion, listing.proposed_version_id or listing.dataset_version_id)
        entry = CatalogEntry.model_validate({
            **read(session, listing).model_dump(), "dictionary": Dictionary.model_validate(shown) if shown else None,
            "columns": version.columns if version else []})
        return catalog_service.preview(entry, rows)

    def authorized_between(self, session: Session, start: datetime, end: datetime) -> builtins.list[ListingRead]:
        """Listings that were published at some time in [start, end), for the annual disclosure."""
        return [read(session, listing) for listing in repo.published_between(session, start, end)]

    def of_provider(self, session: Session, organization_id: int) -> builtins.list[ListingRead]:
        """Every listing of one provider organization."""
        return [read(session, listing) for listing in repo.listings_of_provider(session, organization_id)]


BudgetReader = Callable[[Session, int], float]
_budget_reader: BudgetReader | None = None


def read_budget_with(reader: BudgetReader) -> None:
    """Licensing counts the privacy budget; it hands market the one read the catalog needs (ε left)."""
    global _budget_reader
    _budget_reader = reader


def _merged_policy(current: dict[str, Any], edit: dict[str, Any]) -> dict[str, Any]:
    try:
        return DpPolicy.model_validate({**current, **edit}).model_dump()
    except ValidationError as exc:
        merged = {**current, **edit}
        raise InvalidInput(f"DP policy: {exc.errors()[0]['msg']}",
                           zh=f"默认 ε（{merged.get('default_epsilon')}）高于单次查询 ε 上限"
                              f"（{merged.get('max_epsilon_per_query')}）：请调低默认 ε 或调高上限") from None


def _check_free(offer: OfferCreate) -> None:
    if offer.scenario in FREE_SCENARIOS and (offer.price_minor != 0 or offer.price_per_query_minor != 0):
        raise InvalidInput(f"The offer {offer.name!r} is for public governance or welfare, which are always free",
                           zh=f"产品方案“{offer.name}”用于公共治理或公益事业场景，必须免费（价格填 0）")


listings = ListingService()
