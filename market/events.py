"""What the market announces to other domains without importing them.

`VersionPublished` fires when a live listing moves to a new version of its dataset (at once, when the
public dictionary is unchanged, or when the data office approves the revision). Licensing follows it to
tell licensees (`licensing.service.notices`); a notification inbox subscribes the same way. Subscribers
run inside the request's unit of work: what they write commits or rolls back with the move itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlmodel import Session

from core.audit import Actor


@dataclass(frozen=True)
class VersionPublished:
    listing_id: int
    listing_title: str
    dataset_name: str
    version: int
    previous_version: int | None
    changelog: str
    actor: Actor


Subscriber = Callable[[Session, VersionPublished], None]
_subscribers: list[Subscriber] = []


def on_version_published(subscriber: Subscriber) -> Subscriber:
    """Register a subscriber (idempotent, so a module imported twice subscribes once)."""
    if subscriber not in _subscribers:
        _subscribers.append(subscriber)
    return subscriber


def version_published(session: Session, event: VersionPublished) -> None:
    for subscriber in list(_subscribers):
        subscriber(session, event)
