"""A local fake Stripe for the licensing tests, reached by the real `stripe` client through SHUYU_STRIPE_*."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.fake_stripe import FakeStripe


@pytest.fixture
def fake_stripe(db: str) -> Iterator[FakeStripe]:
    """A fake Stripe on 127.0.0.1 (a free port) with Shuyu configured to use it; it stops with the test."""
    from core.config import get_settings

    fake = FakeStripe().start()
    env = {"SHUYU_STRIPE_SECRET_KEY": fake.api_key, "SHUYU_STRIPE_WEBHOOK_SECRET": fake.webhook_secret,
           "SHUYU_STRIPE_API_BASE": fake.base}
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    get_settings.cache_clear()
    try:
        yield fake
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_settings.cache_clear()
        fake.stop()
