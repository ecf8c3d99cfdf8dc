"""Catalog pages computed in the last moments, shared by every viewer: the catalog is public and the same for
everyone, and reading a page costs ~25 ms of CPU where the framework alone costs a few (bench/catalog.py).

A page is kept for `SHUYU_CATALOG_CACHE_SECONDS` (default 2; 0 turns this off) and every kept page is
dropped as soon as this process commits a change to anything a catalog page shows (listings, their offers,
registrations, datasets, providers), whether through the ORM or a bulk UPDATE. So a node sees its own
writes at once and another API node's within those seconds. Keyed by database, so tests that switch
databases never see another's pages.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session

from core.config import get_settings

T = TypeVar("T")
WATCHED = frozenset({"listings", "offers", "registrations", "datasets", "dataset_versions", "organizations",
                     "listing_transitions", "listing_search_terms"})
MOST = 256
_lock = threading.Lock()
_pages: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()


def cached(key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()`, or what it returned for `key` within the last few seconds."""
    settings = get_settings()
    keep = settings.catalog_cache_seconds
    if keep <= 0:
        return compute()
    full_key = (settings.resolved_database_url, key)
    now = time.monotonic()
    with _lock:
        kept = _pages.get(full_key)
        if kept is not None and now - kept[0] < keep:
            return kept[1]  # type: ignore[no-any-return]
    value = compute()
    with _lock:
        _pages[full_key] = (now, value)
        _pages.move_to_end(full_key)
        while len(_pages) > MOST:
            _pages.popitem(last=False)
    return value


def clear() -> None:
    with _lock:
        _pages.clear()


@event.listens_for(Session, "before_flush")
def _note_flush(session: Session, _context: Any, _instances: Any) -> None:
    if any(getattr(obj, "__tablename__", None) in WATCHED
           for obj in (*session.new, *session.dirty, *session.deleted)):
        session.info["catalog_changed"] = True


@event.listens_for(Session, "do_orm_execute")
def _note_bulk(state: ORMExecuteState) -> None:
    table = getattr(state.statement, "table", None)
    if (state.is_update or state.is_delete or state.is_insert) and getattr(table, "name", None) in WATCHED:
        state.session.info["catalog_changed"] = True


@event.listens_for(Session, "after_commit")
def _drop_on_commit(session: Session) -> None:
    if session.info.pop("catalog_changed", False):
        clear()


@event.listens_for(Session, "after_rollback")
def _forget_on_rollback(session: Session) -> None:
    session.info.pop("catalog_changed", None)
