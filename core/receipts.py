"""The platform's Ed25519 receipt key, canonical signing, and the opaque names receipts give datasets.

A receipt names the dataset version it was computed on by `dataset_version`, a keyed HMAC under a
secret derived from the master key. It was once the SHA-256 of the plaintext: a deterministic function
of the raw data released without noise, which let anyone who knew all but one value recover it by
hashing candidates. The HMAC is unique per version, binds the version's content for whoever holds
the server's key (the data office can check a receipt against a stored version), and tells everyone
else nothing about the data.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)

from core.config import Settings
from core.crypto import write_private

KEY_FILE = "receipt_ed25519.pem"


def canonical(value: Any) -> bytes:
    """Canonical JSON: keys sorted, no spaces, UTF-8 — what receipts hash and sign."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_hex(value: Any) -> str:
    return hashlib.sha256(canonical(value)).hexdigest()


def dataset_version(settings: Settings, version_id: int, content_digest: str) -> str:
    """The opaque id of a dataset version on receipts: HMAC-SHA256 under a key derived from the master key."""
    key = hmac.new(settings.master_key_bytes(), b"shuyu receipt dataset version v1", hashlib.sha256).digest()
    mac = hmac.new(key, f"{version_id}:{content_digest}".encode(), hashlib.sha256).hexdigest()
    return f"dv1-{mac[:32]}"


def signing_key(settings: Settings) -> Ed25519PrivateKey:
    path = settings.keys_dir / KEY_FILE
    if not path.exists():
        key = Ed25519PrivateKey.generate()
        write_private(path, key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    loaded = load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(loaded, Ed25519PrivateKey)
    return loaded


def public_pem(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()


def key_id(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return "ed25519:" + hashlib.sha256(raw).hexdigest()[:16]


def sign(key: Ed25519PrivateKey, fields: dict[str, Any]) -> dict[str, Any]:
    """Return `fields` plus `key_id` and `signature` over the canonical JSON of everything else."""
    body = {**fields, "key_id": key_id(key)}
    return {**body, "signature": base64.b64encode(key.sign(canonical(body))).decode()}


def verify(public_key_pem: str, receipt: dict[str, Any]) -> bool:
    public = load_pem_public_key(public_key_pem.encode())
    assert isinstance(public, Ed25519PublicKey)
    body = {k: v for k, v in receipt.items() if k != "signature"}
    try:
        public.verify(base64.b64decode(receipt.get("signature", "")), canonical(body))
    except (InvalidSignature, ValueError):
        return False
    return True
