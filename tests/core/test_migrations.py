"""The schema's history runs both ways: every revision upgrades, downgrades to nothing, and upgrades again."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from core.db import null_pool_engine
from migrations import alembic_config, upgrade

PG_URL = os.environ.get("SHUYU_DATABASE_URL", "")


@pytest.fixture
def empty_database(tmp_path: Path) -> Iterator[str]:
    if not PG_URL.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    url = make_url(PG_URL)
    name = f"{url.database}_migrations_{os.getpid()}"
    admin = null_pool_engine(str(url.set(database="postgres")))
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _tables(url: str) -> set[str]:
    engine = null_pool_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_the_schema_upgrades_downgrades_and_upgrades_again(empty_database: str) -> None:
    upgrade(empty_database)
    tables = _tables(empty_database)
    assert {"licenses", "listings", "postings", "query_runs", "audit_events"} <= tables
    command.downgrade(alembic_config(empty_database), "base")
    assert _tables(empty_database) == set()
    upgrade(empty_database)
    assert _tables(empty_database) == tables
