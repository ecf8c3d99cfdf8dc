"""Encryption at rest, the half that can only *lock*.

A dataset is encrypted with a fresh AES-256-GCM data key, and the data key is sealed for the
sandbox's X25519 public key (ephemeral X25519 + HKDF-SHA256 + AES-GCM). Everything here needs only the
public key, so the upload path can encrypt but never decrypt: opening a sealed key needs the
sandbox's private key, which only `sandbox.engine` (in worker processes) ever loads.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

BLOB_MAGIC = b"SHUYU-DS1"
BLOB_AAD = b"shuyu dataset v1"
SEAL_INFO = b"shuyu sandbox data key v1"
PUBLIC_KEY_FILE = "sandbox_x25519.pub"


@dataclass(frozen=True)
class SealedBlob:
    ciphertext: bytes  # BLOB_MAGIC + nonce + AES-GCM(data key, plaintext)
    sealed_key: str  # base64(ephemeral public key | nonce | AES-GCM(KEK, data key))


def seal_key_for(recipient: X25519PublicKey, data_key: bytes) -> str:
    ephemeral = X25519PrivateKey.generate()
    eph_pub = ephemeral.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    rcpt_pub = recipient.public_bytes(Encoding.Raw, PublicFormat.Raw)
    kek = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=SEAL_INFO).derive(
        ephemeral.exchange(recipient)
    )
    nonce = os.urandom(12)
    wrapped = AESGCM(kek).encrypt(nonce, data_key, eph_pub + rcpt_pub)
    return base64.b64encode(eph_pub + nonce + wrapped).decode()


def encrypt_for(recipient: X25519PublicKey, plaintext: bytes) -> SealedBlob:
    """Encrypt `plaintext` under a fresh data key and seal that key for `recipient`."""
    data_key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(12)
    ciphertext = BLOB_MAGIC + nonce + AESGCM(data_key).encrypt(nonce, plaintext, BLOB_AAD)
    return SealedBlob(ciphertext, seal_key_for(recipient, data_key))


def load_public_key(keys_dir: Path) -> X25519PublicKey:
    path = keys_dir / PUBLIC_KEY_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: start the sandbox once so it generates its key pair")
    return X25519PublicKey.from_public_bytes(base64.b64decode(path.read_text().strip()))


def write_private(path: Path, data: bytes) -> None:
    """Write a key file readable only by its owner, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)
