"""What the market tells people (core.notify delivers): the data office that a listing waits for review, and a
provider that the data office asked for changes."""

from __future__ import annotations

from sqlmodel import Session

from core.auth import Role
from core.models import AuditEvent
from core.notify import Notice, active_users, on
from market.models import Listing


@on("listing.submit", "listing.submit_revision")
def listing_waiting(session: Session, event: AuditEvent) -> list[Notice]:
    listing = session.get(Listing, int(event.subject_id))
    if listing is None:
        return []
    return [Notice("review_waiting", active_users(session, role=Role.data_office),
                   f"listing:{listing.id}:submitted:{event.seq}", f"Listing {listing.id} waits for review",
                   f"数据产品 {listing.id} 等待审核", f"The provider submitted “{listing.title}” for review.",
                   f"供数单位提交了“{listing.title}”，等待审核。", f"/office/listings/{listing.id}")]


@on("listing.review.request_changes")
def changes_requested(session: Session, event: AuditEvent) -> list[Notice]:
    listing = session.get(Listing, int(event.subject_id))
    if listing is None:
        return []
    reason = str(event.data.get("reason_code") or "")
    return [Notice("changes_requested", active_users(session, organization_id=listing.provider_org_id),
                   f"listing:{listing.id}:changes:{event.seq}", f"Changes requested on listing {listing.id}",
                   f"数据产品 {listing.id} 需要修改",
                   f"The data office asked for changes to “{listing.title}” ({reason}). Edit it and submit again.",
                   f"数据主管部门要求修改“{listing.title}”（{reason}），请修改后重新提交。",
                   f"/provider/listings/{listing.id}")]
