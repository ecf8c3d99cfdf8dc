"""Notification routes: the inbox (with the bell's unread count), marking read, and what each person receives."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from core.auth import CurrentUser, SessionDep
from core.notify import NotificationPage, PreferenceRead, PreferenceUpdate, notifications
from web import i18n

router = APIRouter(tags=["notifications"])


class Marked(BaseModel):
    marked: int


@router.get("/notifications", response_model=NotificationPage)
def inbox(request: Request, session: SessionDep, who: CurrentUser, unread: bool = False,
          limit: Annotated[int, Query(ge=1, le=200)] = 50, offset: Annotated[int, Query(ge=0)] = 0
          ) -> NotificationPage:
    """Your notices, newest first; `unread` is the bell's count. `title`/`body` follow Accept-Language; both
    languages are included."""
    locale = i18n.negotiate(request.headers.get("accept-language"))
    return notifications.inbox(session, who, locale, unread, limit, offset)


@router.post("/notifications/{notification_id}/read", response_model=Marked)
def mark_read(notification_id: int, session: SessionDep, who: CurrentUser) -> Marked:
    """Mark one notice read."""
    return Marked(marked=notifications.mark_read(session, who, notification_id))


@router.post("/notifications/read-all", response_model=Marked)
def mark_all_read(session: SessionDep, who: CurrentUser) -> Marked:
    """Mark every notice read."""
    return Marked(marked=notifications.mark_read(session, who, None))


@router.get("/notifications/preferences", response_model=list[PreferenceRead])
def preferences(session: SessionDep, who: CurrentUser) -> list[PreferenceRead]:
    """The kinds of notice your role gets, each with inbox and e-mail on or off."""
    return notifications.preferences(session, who)


@router.put("/notifications/preferences", response_model=list[PreferenceRead])
def set_preferences(body: list[PreferenceUpdate], session: SessionDep, who: CurrentUser) -> list[PreferenceRead]:
    """Choose, per kind, whether it goes to your inbox and to your e-mail."""
    return notifications.set_preferences(session, who, body)
