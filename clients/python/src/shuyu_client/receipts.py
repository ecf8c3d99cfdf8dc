"""Offline receipt checks: the Ed25519 signature over canonical JSON, and the result hash.

A receipt's `signature` is the base64 Ed25519 signature of the receipt's other fields serialized as
canonical JSON (keys sorted, no spaces, UTF-8); `result_sha256` is the SHA-256 of
`{"columns": ..., "rows": ...}` in the same form. Both are checked with the platform's published key
(`GET /api/v1/receipts/public-key`), with no call to the server.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key


def canonical(value: Any) -> bytes:
    """Canonical JSON: keys sorted, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def verify_receipt(receipt: Mapping[str, Any], public_key_pem: str) -> bool:
    """Whether the receipt's signature is the platform's over its other fields."""
    key = load_pem_public_key(public_key_pem.encode())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("A Shuyu receipt key is an Ed25519 public key (PEM)")
    body = {k: v for k, v in receipt.items() if k != "signature"}
    try:
        key.verify(base64.b64decode(str(receipt.get("signature", "")), validate=True), canonical(body))
    except (InvalidSignature, ValueError):
        return False
    return True


def result_sha256(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    return hashlib.sha256(canonical({"columns": list(columns), "rows": [list(r) for r in rows]})).hexdigest()


def verify_result(columns: Sequence[str], rows: Sequence[Sequence[Any]], receipt: Mapping[str, Any],
                  public_key_pem: str) -> bool:
    """Whether the receipt is genuine and proves exactly these released values."""
    return verify_receipt(receipt, public_key_pem) and receipt.get("result_sha256") == result_sha256(columns, rows)
