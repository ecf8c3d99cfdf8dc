"""Production refuses generated or placeholder secrets; development generates them into the data dir."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from core.config import ConfigError, Settings, check_production


def test_production_refuses_to_start_without_a_master_key(tmp_path: Path) -> None:
    settings = Settings(env="production", data_dir=tmp_path, master_key=None)
    with pytest.raises(ConfigError, match="SHUYU_MASTER_KEY is required"):
        check_production(settings)
    assert not (tmp_path / "keys" / "master.key").exists()


def test_production_refuses_placeholder_stripe_keys(tmp_path: Path) -> None:
    key = base64.b64encode(b"k" * 32).decode()
    settings = Settings(env="production", data_dir=tmp_path, master_key=key, stripe_secret_key="sk_placeholder")
    with pytest.raises(ConfigError, match="placeholder"):
        check_production(settings)


def test_development_generates_a_master_key_once_and_keeps_it_private(tmp_path: Path) -> None:
    settings = Settings(env="development", data_dir=tmp_path, master_key=None)
    first = settings.master_key_bytes()
    assert len(first) == 32 and settings.master_key_bytes() == first
    assert (tmp_path / "keys" / "master.key").stat().st_mode & 0o077 == 0


def test_a_malformed_master_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="32 bytes"):
        Settings(data_dir=tmp_path, master_key=base64.b64encode(b"short").decode()).master_key_bytes()
