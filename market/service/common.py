"""What every market use case shares: grades and their floors, recording a listing's transitions,
reading a listing for the API, and keeping its search terms current."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from core.audit import Actor, record
from core.auth import Principal
from core.errors import NotFound
from core.models import Organization
from market import repository as repo
from market import search
from market.errors import OfferAboveCap
from market.models import Dataset, DatasetVersion, Listing, ListingTransition, Offer, Registration
from market.policy import GRADE_RULES, DpPolicy
from market.schemas import ListingRead, OfferRead, RevisionRead, Rights

LIVE = ("published", "ordering_paused", "suspended")  # approved once, not retired: licences may exist
GRADE_RANK = {"general": 0, "important": 1, "core": 2}
APPROVALS_NEEDED = {"general": 1, "important": 2}
# The data office's floor per grade (the full rules, with the default caps, are `market.policy.GRADE_RULES`).
POLICY_FLOOR = {grade: {"max_epsilon_per_query": rules.max_epsilon_per_query, "min_group_size": rules.min_group_size}
                for grade, rules in GRADE_RULES.items()}


def policy_for(grade: str, requested: DpPolicy) -> dict[str, Any]:
    """The requested DP policy as stored, once checked at the grade. Caps left empty stay empty: they are
    filled from the grade whenever the policy is read (`policy_of`), so a raised grade lowers them at once."""
    requested.check(grade)
    return requested.model_dump()


def policy_of(listing: Listing) -> DpPolicy:
    """The policy in force on a listing: its stored policy resolved at its grade (the proposed one before review)."""
    return DpPolicy.model_validate(listing.dp_policy).for_grade(listing.grade or listing.proposed_grade)


def check_offer_epsilon(name: str, epsilon_budget: float, policy: DpPolicy) -> None:
    """An offer's ε may not exceed what one enterprise may spend on the dataset (nor, so, the global cap)."""
    cap = policy.largest_offer()
    if epsilon_budget > cap:
        raise OfferAboveCap(
            f"The offer {name!r} carries ε={epsilon_budget:g}, more than one enterprise may spend on this dataset "
            f"in all (ε={cap:g}; the dataset's total is ε={policy.global_cap:g}): lower its ε budget",
            zh=f"报价“{name}”的 ε 预算为 {epsilon_budget:g}，超过单个企业在该数据集上的 ε 总上限 {cap:g}"
               f"（数据集总上限 {policy.global_cap:g}），请调低",
            epsilon_cap=cap)


def higher(a: str | None, b: str) -> str:
    """When in doubt, grade higher (就高从严)."""
    return b if a is None or GRADE_RANK[b] > GRADE_RANK[a] else a


def get_listing(session: Session, listing_id: int) -> Listing:
    listing = session.get(Listing, listing_id)
    if listing is None:
        raise NotFound(f"No listing {listing_id}")
    return listing


def locked_listing(session: Session, listing_id: int) -> Listing:
    """The listing, read after taking its row's write lock: concurrent decisions on one listing queue up
    and each sees the one before it, so a reviewer's twenty simultaneous approvals record one decision."""
    session.execute(update(Listing).where(col(Listing.id) == listing_id).values(id=listing_id))
    listing = session.get(Listing, listing_id, populate_existing=True)
    if listing is None:
        raise NotFound(f"No listing {listing_id}")
    return listing


def move(session: Session, who: Principal, listing: Listing, action: str, to_status: str, reason_code: str,
         comment: str = "", **data: Any) -> None:
    """Change a listing's status (or record a step that keeps it) with actor, role, reason code and comment."""
    move_as(session, who.actor, listing, action, to_status, reason_code, comment, **data)


def move_as(session: Session, actor: Actor, listing: Listing, action: str, to_status: str, reason_code: str,
            comment: str = "", **data: Any) -> None:
    """`move` for any actor, the platform itself included (an authorization whose term has passed)."""
    from_status = listing.status
    listing.status = to_status
    session.add(listing)
    session.add(ListingTransition(
        listing_id=listing.id or 0, action=action, from_status=from_status, to_status=to_status,
        actor_user_id=actor.user_id, actor_role=actor.role or "system", reason_code=reason_code, comment=comment))
    record(session, actor, f"listing.{action}", "listing", listing.id,
           {"from": from_status, "to": to_status, "reason_code": reason_code, "comment": comment, **data})


def most_charged(price_minor: int, price_per_query_minor: int, query_quota: int) -> int:
    """The most an offer can cost an enterprise: its price and every query of its quota at the per-query price.
    This is what must stay within the ceiling (最高限价)."""
    return price_minor + price_per_query_minor * query_quota


def clear_revision(listing: Listing) -> None:
    listing.revision_kind = listing.revision_status = listing.revision_grade = None
    listing.proposed_version_id, listing.proposed_dictionary = None, None
    listing.approvals = 0


def provider_name(session: Session, listing: Listing) -> str:
    provider = session.get(Organization, listing.provider_org_id)
    assert provider is not None
    return provider.name


def reindex(session: Session, listing: Listing) -> None:
    terms = search.document_terms(listing.title, listing.description, listing.keywords, listing.sector,
                                  provider_name(session, listing), listing.dictionary)
    search.reindex(session, listing.id or 0, terms)


def read(session: Session, listing: Listing) -> ListingRead:
    """A listing's public metadata (never its provider's working data)."""
    return _read(session, listing, repo.offers_of(session, listing.id or 0),
                 repo.registration_of(session, listing.id or 0))


def read_many(session: Session, listings: Sequence[Listing]) -> list[ListingRead]:
    """`read` for a page of listings in a fixed number of queries, whatever the page size (a catalog page
    read one listing at a time cost five queries a listing)."""
    ids = [listing.id or 0 for listing in listings]
    # Loaded into the session's identity map, where `session.get` finds them; held here, since it holds
    # objects weakly.
    held = [session.exec(select(model).where(col(model.id).in_(keys))).all()
            for model, keys in ((Dataset, {lst.dataset_id for lst in listings}),
                                (DatasetVersion, {lst.dataset_version_id for lst in listings}),
                                (Organization, {lst.provider_org_id for lst in listings}))]
    offers: dict[int, list[Offer]] = defaultdict(list)
    for offer in repo.offers_of_many(session, ids):
        offers[offer.listing_id].append(offer)
    registrations = repo.registrations_of_many(session, ids)
    pages = [_read(session, lst, offers[lst.id or 0], registrations.get(lst.id or 0)) for lst in listings]
    del held
    return pages


def _read(session: Session, listing: Listing, offers: Sequence[Offer], registration: Registration | None
          ) -> ListingRead:
    dataset = session.get(Dataset, listing.dataset_id)
    version = session.get(DatasetVersion, listing.dataset_version_id)
    assert dataset is not None and version is not None
    holder = provider_name(session, listing)
    return ListingRead.model_validate({
        **listing.model_dump(), "dp_policy": policy_of(listing), "dataset_name": dataset.name,
        "provider": holder, "offers": [OfferRead.model_validate(o, from_attributes=True) for o in offers],
        "dataset_version": version.version, "revision": _revision(session, listing),
        "registration_code": registration.code if registration else None, "rights": rights_of(holder)})


def rights_of(holder: str) -> Rights:
    """所有权归国家、使用权归相关政府部门、收益权归财政: the same for every product, named for this one."""
    return Rights(ownership="国家 the State", use=holder,
                  revenue="财政（非税收入）the treasury, as non-tax revenue")


EDITABLE = ("title", "description", "keywords", "sector", "update_cycle", "proposed_grade")
POLICY_EDITABLE = ("max_epsilon_per_query", "default_epsilon", "min_group_size")
OFFER_FIELDS = ("name", "scenario", "price_minor", "term_days", "epsilon_budget", "query_quota",
                "price_per_query_minor")


def editable_fields(session: Session, listing: Listing) -> dict[str, Any]:
    """What a provider may edit on a draft, as one comparable record (stored with each review)."""
    fields: dict[str, Any] = {name: getattr(listing, name) for name in EDITABLE}
    fields |= {f"dp_policy.{k}": (listing.dp_policy or {}).get(k) for k in POLICY_EDITABLE}
    offers = [o for o in repo.offers_of(session, listing.id or 0) if o.active]
    fields |= {f"offers.{i}": {k: getattr(o, k) for k in OFFER_FIELDS} for i, o in enumerate(offers, 1)}
    return fields


def field_changes(before: dict[str, Any] | None, after: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(field, before, after) for every field that differs; nothing when no review saw the listing yet."""
    if before is None:
        return []
    names = [*after, *(k for k in before if k not in after)]
    return [(k, before.get(k), after.get(k)) for k in names if before.get(k) != after.get(k)]


def _revision(session: Session, listing: Listing) -> RevisionRead | None:
    if listing.revision_kind is None or listing.revision_status is None:
        return None
    proposed = session.get(DatasetVersion, listing.proposed_version_id) if listing.proposed_version_id else None
    return RevisionRead(kind=listing.revision_kind, status=listing.revision_status, grade=listing.revision_grade,
                        proposed_version=proposed.version if proposed else None)
