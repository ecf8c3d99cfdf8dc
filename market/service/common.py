"""What every market use case shares: grades and their floors, recording a listing's transitions,
reading a listing for the API, and keeping its search terms current."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col

from core.audit import record
from core.auth import Principal
from core.errors import NotFound
from core.models import Organization
from market import repository as repo
from market import search
from market.models import Dataset, DatasetVersion, Listing, ListingTransition
from market.schemas import DpPolicy, ListingRead, OfferRead, RevisionRead

LIVE = ("published", "ordering_paused", "suspended")  # approved once, not retired: licences may exist
GRADE_RANK = {"general": 0, "important": 1, "core": 2}
APPROVALS_NEEDED = {"general": 1, "important": 2}
# The data office's floor per grade: important data gets a lower ε cap and a minimum group size.
POLICY_FLOOR = {"general": {"max_epsilon_per_query": 2.0, "min_group_size": 0},
                "important": {"max_epsilon_per_query": 0.5, "min_group_size": 10}}


def policy_for(grade: str, requested: DpPolicy) -> dict[str, Any]:
    """The requested DP policy, tightened to the grade's floor (core data keeps its policy: it never runs)."""
    if grade not in POLICY_FLOOR:
        return requested.model_dump()
    floor = POLICY_FLOOR[grade]
    cap = min(requested.max_epsilon_per_query, float(floor["max_epsilon_per_query"]))
    default = min(requested.default_epsilon or cap / 2, cap)
    return {**requested.model_dump(), "max_epsilon_per_query": cap, "default_epsilon": default,
            "min_group_size": max(requested.min_group_size, int(floor["min_group_size"]))}


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
    from_status = listing.status
    listing.status = to_status
    session.add(listing)
    session.add(ListingTransition(
        listing_id=listing.id or 0, action=action, from_status=from_status, to_status=to_status,
        actor_user_id=who.user_id, actor_role=who.role.value, reason_code=reason_code, comment=comment))
    record(session, who.actor, f"listing.{action}", "listing", listing.id,
           {"from": from_status, "to": to_status, "reason_code": reason_code, "comment": comment, **data})


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
    dataset = session.get(Dataset, listing.dataset_id)
    version = session.get(DatasetVersion, listing.dataset_version_id)
    assert dataset is not None and version is not None
    offers = [OfferRead.model_validate(o, from_attributes=True) for o in repo.offers_of(session, listing.id or 0)]
    registration = repo.registration_of(session, listing.id or 0)
    return ListingRead.model_validate({
        **listing.model_dump(), "dataset_name": dataset.name, "provider": provider_name(session, listing),
        "offers": offers, "dataset_version": version.version, "revision": _revision(session, listing),
        "registration_code": registration.code if registration else None})


def _revision(session: Session, listing: Listing) -> RevisionRead | None:
    if listing.revision_kind is None or listing.revision_status is None:
        return None
    proposed = session.get(DatasetVersion, listing.proposed_version_id) if listing.proposed_version_id else None
    return RevisionRead(kind=listing.revision_kind, status=listing.revision_status, grade=listing.revision_grade,
                        proposed_version=proposed.version if proposed else None)
