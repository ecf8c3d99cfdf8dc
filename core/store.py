"""Where encrypted datasets live: the data dir (default), a shared disk, or S3-compatible storage.

`SHUYU_STORE_URL` picks it: unset → the data dir's `store/`; `file:///abs/path` → a directory every node
mounts; `s3://bucket/prefix` → an S3-compatible service (MinIO, Ceph RGW, OSS/COS) through boto3, at
`SHUYU_S3_ENDPOINT_URL` with the usual `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`. Only ciphertext
is ever written here. Every object's SHA-256 is checked on read (the storage key names it, and S3
objects also carry it as metadata), so a corrupted or swapped blob fails loudly instead of decrypting
into something else.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from core.config import Settings

_NAMED = re.compile(r"-([0-9a-f]{12,64})\.bin$")


class StoreError(RuntimeError):
    """The store could not be reached, or an object failed its checksum."""


class Store(Protocol):
    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...


def storage_key(dataset_id: int, version: int, ciphertext: bytes) -> str:
    """An object's name carries its checksum, so any node can verify what it reads."""
    return f"ds{dataset_id}/v{version}-{hashlib.sha256(ciphertext).hexdigest()}.bin"


def verify(key: str, data: bytes, expected: str | None = None) -> bytes:
    digest = hashlib.sha256(data).hexdigest()
    named = _NAMED.search(key)
    for want in (expected, named.group(1) if named else None):
        if want and not digest.startswith(want):
            raise StoreError(f"{key} failed its checksum: the stored object is corrupt or was replaced")
    return data


class DirectoryStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, key: str, data: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(path)

    def get(self, key: str) -> bytes:
        try:
            return verify(key, (self.root / key).read_bytes())
        except FileNotFoundError as exc:
            raise StoreError(f"{key} is not in the store at {self.root}") from exc


class S3Store:
    def __init__(self, bucket: str, prefix: str, endpoint_url: str | None) -> None:
        import boto3
        from botocore.config import Config

        self.bucket, self.prefix = bucket, prefix.strip("/")
        self._client: Any = boto3.client("s3", endpoint_url=endpoint_url,
                                         config=Config(retries={"max_attempts": 5, "mode": "standard"}))

    def _name(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes) -> None:
        self._client.put_object(Bucket=self.bucket, Key=self._name(key), Body=data,
                                Metadata={"sha256": hashlib.sha256(data).hexdigest()})

    def get(self, key: str) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self._client.get_object(Bucket=self.bucket, Key=self._name(key))
            data = answer["Body"].read()
        except (BotoCoreError, ClientError) as exc:
            raise StoreError(f"{key} could not be read from s3://{self.bucket}/{self.prefix}: {exc}") from exc
        return verify(key, data, answer.get("Metadata", {}).get("sha256"))


def store_for(settings: Settings) -> Store:
    return open_store(settings.store_url, settings.store_dir, settings.s3_endpoint_url)


def open_store(url: str | None, default_dir: Path, endpoint_url: str | None = None) -> Store:
    if not url:
        return DirectoryStore(default_dir)
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return DirectoryStore(Path(parsed.path))
    if parsed.scheme == "s3":
        return S3Store(parsed.netloc, parsed.path, endpoint_url)
    raise ValueError(f"SHUYU_STORE_URL must be file:///abs/path or s3://bucket/prefix, not {url!r}")
