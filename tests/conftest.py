"""Test fixtures: real databases built by Alembic, a fresh one per test, and an HTTP client.

SQLite always; PostgreSQL when SHUYU_DATABASE_URL points at one. The schema is migrated once into a
template (a file on SQLite, a template database on PostgreSQL) and each test gets a copy. We copy
rather than roll back a per-test transaction because the budget accountant must commit its
reservation in a transaction of its own, which a wrapping transaction would hide.
"""

from __future__ import annotations

import base64
import itertools
import os
import queue
import secrets
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

PG_URL = os.environ.get("SHUYU_DATABASE_URL", "")
ON_POSTGRES = PG_URL.startswith("postgresql")
_counter = itertools.count()


def pytest_report_header() -> list[str]:
    return [f"shuyu database: {'PostgreSQL ' + make_url(PG_URL).database if ON_POSTGRES else 'SQLite'}"]


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("shuyu-data")
    os.environ.update({
        "SHUYU_ENV": "test",
        "SHUYU_DATA_DIR": str(path),
        "SHUYU_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "SHUYU_SANDBOX_WORKERS": "2",
        "SHUYU_QUERY_TIMEOUT_SECONDS": "60",
    })
    return path


@pytest.fixture(scope="session")
def template_db(data_dir: Path) -> Iterator[str]:
    from migrations import upgrade

    if ON_POSTGRES:
        upgrade(PG_URL)
        yield PG_URL
        if _PG_DATABASES:
            _PG_DATABASES.pop().close()
        return
    url = f"sqlite:///{data_dir / 'template.db'}"
    upgrade(url)
    yield url


def _admin_engine(url: str):  # type: ignore[no-untyped-def]
    from core.db import null_pool_engine

    return null_pool_engine(str(make_url(url).set(database="postgres")))


class PgDatabases:
    """Each test's PostgreSQL database, copied from the template one test ahead and dropped behind it, on
    threads: CREATE DATABASE copies the template and DROP DATABASE waits for a checkpoint (1-2 s together
    on a busy machine, for every test), which the tests themselves need not wait for."""

    def __init__(self, template_url: str) -> None:
        self.template = make_url(template_url)
        self.admin = _admin_engine(template_url)
        self.ready: queue.Queue[str | BaseException] = queue.Queue(maxsize=1)
        self.doomed: queue.Queue[str | None] = queue.Queue()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._make, daemon=True, name="test-db-maker"),
                        threading.Thread(target=self._drop, daemon=True, name="test-db-dropper")]
        for thread in self.threads:
            thread.start()

    def _run(self, statement: str) -> None:
        for attempt in range(40):  # the template may be in use for a moment (a test's last connection closing)
            try:
                with self.admin.connect() as conn:
                    conn.execute(text(statement))
                return
            except Exception as exc:
                if "is being accessed by other users" not in str(exc) or attempt == 39:
                    raise
                time.sleep(0.25)

    def _make(self) -> None:
        while not self.stopping.is_set():
            name = f"{self.template.database}_t{os.getpid()}_{next(_counter)}"
            try:
                self._run(f'CREATE DATABASE "{name}" TEMPLATE "{self.template.database}"')
                # A test's commits need not wait for the disk: nothing outlives a test database's crash.
                self._run(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
            except BaseException as exc:  # handed to the test that takes it
                self.ready.put(exc)
                return
            self.ready.put(name)

    def _drop(self) -> None:
        while (name := self.doomed.get()) is not None:
            self._run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def take(self) -> str:
        made = self.ready.get(timeout=300)
        if isinstance(made, BaseException):
            raise made
        return self.template.set(database=made).render_as_string(hide_password=False)

    def give_back(self, url: str) -> None:
        self.doomed.put(make_url(url).database)

    def close(self) -> None:
        self.stopping.set()
        while self.threads[0].is_alive():  # the maker may be waiting to hand over one more
            try:
                made = self.ready.get(timeout=0.2)
            except queue.Empty:
                continue
            if isinstance(made, str):
                self.doomed.put(made)
        while not self.ready.empty():
            made = self.ready.get()
            if isinstance(made, str):
                self.doomed.put(made)
        self.doomed.put(None)
        self.threads[1].join()
        self.admin.dispose()


_PG_DATABASES: list[PgDatabases] = []


@pytest.fixture
def db(template_db: str, data_dir: Path, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database for one test; SHUYU_DATABASE_URL points at it while the test runs."""
    from core.config import get_settings
    from core.db import dispose_engines

    if ON_POSTGRES:
        if not _PG_DATABASES:
            _PG_DATABASES.append(PgDatabases(template_db))
        url = _PG_DATABASES[0].take()
    else:
        path = tmp_path / "shuyu.db"
        shutil.copyfile(make_url(template_db).database or "", path)
        url = f"sqlite:///{path}"
    os.environ["SHUYU_DATABASE_URL"] = url
    get_settings.cache_clear()
    try:
        yield url
    finally:
        from sandbox import jobs

        jobs.reset_dispatcher()  # its keeper thread must not go on sweeping, into the next test's database
        dispose_engines()
        os.environ["SHUYU_DATABASE_URL"] = PG_URL if ON_POSTGRES else ""
        if not ON_POSTGRES:
            os.environ.pop("SHUYU_DATABASE_URL")
        get_settings.cache_clear()
        if ON_POSTGRES:
            _PG_DATABASES[0].give_back(url)


@pytest.fixture(scope="session")
def sandbox_keys(data_dir: Path) -> Iterator[None]:
    """Start the worker pool once for the session (it creates the sandbox key pair)."""
    from core.config import get_settings
    from sandbox.worker import get_pool, shutdown_pool

    get_settings.cache_clear()
    get_pool(get_settings()).warm_up()
    yield
    shutdown_pool()


@pytest.fixture
def client(db: str, sandbox_keys: None) -> Iterator[object]:
    from fastapi.testclient import TestClient

    from web.app import create_app

    with TestClient(create_app(warm_sandbox=False)) as test_client:
        yield test_client


@pytest.fixture
def live_server(client: object) -> Iterator[str]:
    """The app served by uvicorn on 127.0.0.1 (a free port) for browser tests; stops with the test."""
    from web.server import background_server

    with background_server() as url:
        yield url


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def browser() -> Iterator[object]:
    """Debian's Chromium driven by Playwright, headless; skipped (with the reason) where it is missing."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium fonts-noto-cjk)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"])
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def fake_stripe(db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """A fake Stripe on 127.0.0.1 (a free port) with Shuyu configured to use it; it stops with the test."""
    from core.config import get_settings
    from tests.fake_stripe import FakeStripe

    fake = FakeStripe().start()
    monkeypatch.setenv("SHUYU_STRIPE_SECRET_KEY", fake.api_key)
    monkeypatch.setenv("SHUYU_STRIPE_WEBHOOK_SECRET", fake.webhook_secret)
    monkeypatch.setenv("SHUYU_STRIPE_API_BASE", fake.base)
    get_settings.cache_clear()
    try:
        yield fake
    finally:
        fake.stop()
        monkeypatch.undo()
        get_settings.cache_clear()
