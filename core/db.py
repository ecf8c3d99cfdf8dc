"""Database engine and sessions: one unit of work per request.

SQLite runs in WAL mode with a busy timeout. Python's sqlite3 driver opens a transaction only at the
first write, so reads take no lock and a write waits for the previous writer instead of failing on a
stale snapshot; invariants that depend on a read (budgets, the audit chain head) are therefore
enforced by conditional updates, never by read-then-write.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.pool import NullPool
from sqlmodel import Session, create_engine

from core.config import get_settings

_ENGINES: dict[str, Engine] = {}


def engine_for(url: str) -> Engine:
    if url not in _ENGINES:
        _ENGINES[url] = _make_engine(url)
    return _ENGINES[url]


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # A query request holds its session while the accountant commits in a second one: the pool must
        # allow two connections per request thread (FastAPI runs up to 40 of them).
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               pool_size=20, max_overflow=100)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=70)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def get_engine() -> Engine:
    return engine_for(get_settings().resolved_database_url)


def dispose_engines() -> None:
    """Close every pooled connection (tests switch databases; the CLI exits cleanly)."""
    for engine in _ENGINES.values():
        engine.dispose()
    _ENGINES.clear()


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with Session(get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def session_dependency() -> Iterator[Session]:
    """FastAPI dependency: the request's unit of work (committed before the response is sent)."""
    with unit_of_work() as session:
        yield session


def null_pool_engine(url: str) -> Engine:
    """An engine that keeps no connections, for one-off admin work (creating test databases)."""
    return create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
