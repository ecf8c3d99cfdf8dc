"""Catalog pages computed in the last moments, shared by every viewer: the catalog is public and the same for
everyone, and reading a page costs ~25 ms of CPU where the framework alone costs a few (bench/catalog.py).

A page is kept for `SHUYU_CATALOG_CACHE_SECONDS` (default 2; 0 turns this off) and every kept page is
dropped as soon as this process commits a change to anything a catalog page shows (listings, their offers,
registrations, datasets, providers), whether through the ORM or a bulk UPDATE. So a node sees its own
writes at once and another API node's within those seconds. Keyed by database, so tests that switch
databases never see another's pages. `web/public_cache.py` keeps anonymous responses' bytes here too.
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
# The listing page also shows the dataset's ε left (epsilon_caps, spent by every query) and open statistics
WATCHED = frozenset({"listings", "offers", "registrations", "datasets", "dataset_versions", "organizations",
                     "listing_transitions", "listing_search_terms", "epsilon_caps", "open_statistics",
                     "open_statistic_tables"})
MOST = 256
_lock = threading.Lock()
_pages: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
_generation = [0]


def cached(key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()`, or what it returned for `key` within the last few seconds."""
    if get_settings().catalog_cache_seconds <= 0:
        return compute()
    kept_value = kept(key)
    if kept_value is not None:
        return kept_value  # type: ignore[no-any-return]
    started = generation()
    value = compute()
    keep(key, value, started)
    return value


def kept(key: Hashable) -> Any | None:
    """What was kept for `key` within the last few seconds, or None."""
    settings = get_settings()
    if settings.catalog_cache_seconds <= 0:
        return None
    with _lock:
        entry = _pages.get((settings.resolved_database_url, key))
    if entry is None or time.monotonic() - entry[0] >= settings.catalog_cache_seconds:
        return None
    return entry[1]


def generation() -> int:
    """Read before computing a page and hand to `keep`: a page computed across a change is not kept."""
    return _generation[0]


def keep(key: Hashable, value: Any, started: int) -> None:
    settings = get_settings()
    if settings.catalog_cache_seconds <= 0:
        return
    full_key = (settings.resolved_database_url, key)
    with _lock:
        if _generation[0] != started:  # a commit cleared the pages while this one was read: it may be stale
            return
        _pages[full_key] = (time.monotonic(), value)
        _pages.move_to_end(full_key)
        while len(_pages) > MOST:
            _pages.popitem(last=False)


def clear() -> None:
    with _lock:
        _generation[0] += 1
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
