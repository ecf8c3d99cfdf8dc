"""The audit chain holds under concurrent appends and names the first broken link."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import text

from core import audit
from core.audit import Actor
from core.config import get_settings
from core.db import get_engine, unit_of_work


def _append(n: int) -> None:
    with unit_of_work() as session:
        audit.record(session, Actor.system(), "test.event", "thing", n, {"n": n, "名字": "测试"})


def test_concurrent_appends_never_fork_the_chain(db: str) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(_append, range(40)))
    with unit_of_work() as session:
        result = audit.verify(session)
    assert result.ok and result.length == 40


def test_a_deleted_event_is_found(db: str) -> None:
    for n in range(5):
        _append(n)
    with get_engine().begin() as conn:
        if get_settings().is_sqlite:
            conn.execute(text("DROP TRIGGER audit_events_no_delete"))
            conn.execute(text("DELETE FROM audit_events WHERE seq = 2"))
        else:
            conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
            conn.execute(text("DELETE FROM audit_events WHERE seq = 2"))
    with unit_of_work() as session:
        result = audit.verify(session)
    assert not result.ok and result.broken_at == 3 and "missing" in (result.reason or "")


def test_the_database_refuses_to_edit_audit_events(db: str) -> None:
    _append(1)
    import pytest
    from sqlalchemy.exc import DBAPIError

    with pytest.raises(DBAPIError, match="append-only"), get_engine().begin() as conn:
        conn.execute(text("UPDATE audit_events SET action = 'forged'"))
