"""Licensees hear of a new version of the data they licence.

When a live listing moves to a new version (`market.events.VersionPublished`), every licence on it that
is not finished (active, awaiting payment or approval, suspended) gets an audit event
`license.version_notice` naming the version and its changelog line; the licence page shows the notice.
A notification inbox hooks in here: subscribe another function with `on_version_published`.
"""

from __future__ import annotations

from sqlmodel import Session, select

from core.audit import record
from licensing.models import License
from licensing.service.licenses import effective_status
from market.events import VersionPublished, on_version_published

NOTIFIED = ("active", "awaiting_payment", "pending_approval", "suspended")


@on_version_published
def notify_licensees(session: Session, event: VersionPublished) -> None:
    """One audit event per licence still in use on the listing."""
    for licence in session.exec(select(License).where(License.listing_id == event.listing_id)).all():
        if effective_status(licence) not in NOTIFIED:
            continue
        record(session, event.actor, "license.version_notice", "license", licence.id, {
            "organization_id": licence.organization_id, "listing_id": event.listing_id,
            "dataset": event.dataset_name, "version": event.version, "previous_version": event.previous_version,
            "changelog": event.changelog})
