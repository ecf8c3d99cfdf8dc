"""Encrypted datasets on disk, on a shared directory, and on S3-compatible storage, verified on every read.

The S3 path is tested against moto's standalone server (`moto_server`, from PyPI) over real HTTP on
127.0.0.1: the same boto3 calls a MinIO, Ceph RGW or OSS/COS endpoint receives.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.config import Settings
from core.store import DirectoryStore, StoreError, storage_key, store_for

BLOB = b"SHUYU-DS1" + os.urandom(4096)


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("moto's S3 server did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(10)


@pytest.fixture
def s3_settings(s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    import boto3

    for name, value in (("AWS_ACCESS_KEY_ID", "shuyu-test"), ("AWS_SECRET_ACCESS_KEY", "shuyu-test"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(name, value)
    bucket = f"shuyu-{os.getpid()}-{time.monotonic_ns()}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=bucket)
    return Settings(data_dir=tmp_path, store_url=f"s3://{bucket}/datasets", s3_endpoint_url=s3_endpoint)


def test_a_dataset_round_trips_through_s3_compatible_storage(s3_settings: Settings) -> None:
    store = store_for(s3_settings)
    key = storage_key(7, 1, BLOB)
    store.put(key, BLOB)
    assert store.get(key) == BLOB


def test_a_blob_changed_in_s3_fails_its_checksum(s3_settings: Settings, s3_endpoint: str) -> None:
    import boto3

    store = store_for(s3_settings)
    key = storage_key(7, 2, BLOB)
    store.put(key, BLOB)
    bucket = (s3_settings.store_url or "").removeprefix("s3://").split("/")[0]
    boto3.client("s3", endpoint_url=s3_endpoint).put_object(Bucket=bucket, Key=f"datasets/{key}",
                                                            Body=BLOB[:-1] + b"x")
    with pytest.raises(StoreError, match="checksum"):
        store.get(key)


def test_an_unreachable_s3_store_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    store = store_for(Settings(data_dir=tmp_path, store_url="s3://nowhere/x", s3_endpoint_url=dead))
    with pytest.raises(StoreError, match="could not be read"):
        store.get("ds1/v1-abc.bin")


def test_a_shared_directory_store_verifies_what_it_reads(tmp_path: Path) -> None:
    store = store_for(Settings(data_dir=tmp_path / "data", store_url=f"file://{tmp_path / 'shared'}"))
    assert isinstance(store, DirectoryStore) and store.root == tmp_path / "shared"
    key = storage_key(3, 1, BLOB)
    store.put(key, BLOB)
    assert store.get(key) == BLOB
    (tmp_path / "shared" / key).write_bytes(BLOB + b"!")
    with pytest.raises(StoreError, match="checksum"):
        store.get(key)


def test_a_store_url_of_another_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="s3://"):
        store_for(Settings(data_dir=tmp_path, store_url="ftp://example/x"))
