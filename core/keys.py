"""The sandbox's X25519 key pair, as files: which node holds which half decides who can read data.

`sandbox.key` (PKCS#8 PEM, mode 0600) goes to sandbox workers only; `sandbox.pub` is all an API node
needs to encrypt an upload and seal its data key (core.crypto). Nothing here can open a sealed key:
that takes the private key, which only `sandbox.engine` loads. The embedded single-machine setup
generates the pair in the data dir on first start; a multi-node deployment makes it once with
`shuyu keys generate` and hands out the halves (docs/deploy.md).
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_public_key,
)

from core.config import Settings
from core.crypto import write_private

PRIVATE_FILE = "sandbox.key"
PUBLIC_FILE = "sandbox.pub"


class KeyMissing(RuntimeError):
    """A node was started without the key file its role needs."""


def generate(out_dir: Path) -> tuple[Path, Path]:
    """Write a fresh pair into `out_dir`; refuses to overwrite, so a key in use is never lost by mistake."""
    private_path, public_path = out_dir / PRIVATE_FILE, out_dir / PUBLIC_FILE
    if private_path.exists() or public_path.exists():
        raise FileExistsError(f"{out_dir} already holds a sandbox key; move it away first")
    write_pair(X25519PrivateKey.generate(), private_path, public_path)
    return private_path, public_path


def write_pair(private: X25519PrivateKey, private_path: Path, public_path: Path) -> None:
    write_private(private_path, private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    public_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = public_path.with_suffix(".tmp")
    tmp.write_bytes(public_pem(private.public_key()))
    os.replace(tmp, public_path)


def public_pem(public: X25519PublicKey) -> bytes:
    return public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


def load_public(path: Path) -> X25519PublicKey:
    if not path.exists():
        raise KeyMissing(f"{path} is missing: run `shuyu keys generate --out DIR` and point "
                         "SHUYU_SANDBOX_PUBLIC_KEY_FILE at its sandbox.pub")
    key = load_pem_public_key(path.read_bytes())
    if not isinstance(key, X25519PublicKey):
        raise KeyMissing(f"{path} is not an X25519 public key")
    return key


def sealing_key(settings: Settings) -> X25519PublicKey:
    """The public key uploads are sealed for (all an API node holds)."""
    return load_public(settings.public_key_path)


def ensure_embedded_pair(settings: Settings) -> Path:
    """On a single machine (no key files configured), make the pair in the data dir on first start."""
    private_path = settings.private_key_path
    if settings.sandbox_key_file is None and not private_path.exists():
        write_pair(X25519PrivateKey.generate(), private_path, settings.public_key_path)
    if not private_path.exists():
        raise KeyMissing(f"{private_path} is missing: a sandbox node needs SHUYU_SANDBOX_KEY_FILE")
    return private_path
