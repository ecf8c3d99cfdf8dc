"""The only code that opens raw data. It runs in sandbox worker processes, never in an API process.

The sandbox's X25519 private key is a file only sandbox nodes are given (`SHUYU_SANDBOX_KEY_FILE`,
see core.keys); this module loads it, unseals dataset keys with it, decrypts a dataset read from the
store into an anonymous in-memory file (memfd: no plaintext ever touches a disk) and hands OpenDP a
lazy Parquet scan of it. Key rotation re-wraps data keys here too, for the same reason.
An architecture test checks that nothing outside this module can reach the unsealing code.
"""

from __future__ import annotations

import base64
import importlib
import os
import resource
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_private_key

from core.crypto import BLOB_AAD, BLOB_MAGIC, SEAL_INFO, seal_key_for
from core.store import Store


class Engine:
    """Per-process state: the private key, and a few decrypted datasets kept in memory files."""

    def __init__(self, private_key_file: Path, store: Store, cache_size: int = 3) -> None:
        self.store = store
        self._private = load_private(private_key_file)
        self._open: OrderedDict[str, int] = OrderedDict()  # storage key -> memfd
        self._cache_size = cache_size

    def parquet_path(self, storage_key: str, sealed_key: str) -> str:
        """A path OpenDP can scan lazily: /proc/self/fd/N of a memfd holding the plaintext Parquet."""
        if storage_key in self._open:
            self._open.move_to_end(storage_key)
            return f"/proc/self/fd/{self._open[storage_key]}"
        plaintext = self._decrypt(storage_key, self.store.get(storage_key), sealed_key)
        fd = os.memfd_create("shuyu-dataset", os.MFD_CLOEXEC)
        os.write(fd, plaintext)
        del plaintext
        self._open[storage_key] = fd
        while len(self._open) > self._cache_size:
            _, old = self._open.popitem(last=False)
            os.close(old)
        return f"/proc/self/fd/{fd}"

    def _decrypt(self, name: str, blob: bytes, sealed_key: str) -> bytes:
        if not blob.startswith(BLOB_MAGIC):
            raise ValueError(f"{name} is not a Shuyu dataset blob")
        nonce = blob[len(BLOB_MAGIC) : len(BLOB_MAGIC) + 12]
        data_key = _unseal(self._private, sealed_key)
        return AESGCM(data_key).decrypt(nonce, blob[len(BLOB_MAGIC) + 12 :], BLOB_AAD)


def _unseal(private: X25519PrivateKey, sealed_key: str) -> bytes:
    raw = base64.b64decode(sealed_key)
    eph_pub, nonce, wrapped = raw[:32], raw[32:44], raw[44:]
    shared = private.exchange(X25519PublicKey.from_public_bytes(eph_pub))
    kek = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=SEAL_INFO).derive(shared)
    rcpt_pub = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return AESGCM(kek).decrypt(nonce, wrapped, eph_pub + rcpt_pub)


def load_private(path: Path) -> X25519PrivateKey:
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: a sandbox node needs its private key (SHUYU_SANDBOX_KEY_FILE)")
    key = load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, X25519PrivateKey):
        raise ValueError(f"{path} is not an X25519 private key")
    return key


def rewrap(old_private_file: Path, new_public: X25519PublicKey, sealed_keys: list[str]) -> list[str]:
    """Seal each data key for a new sandbox key; the datasets themselves stay as they are."""
    old = load_private(old_private_file)
    return [seal_key_for(new_public, _unseal(old, sealed)) for sealed in sealed_keys]


_ENGINE: Engine | None = None


def init(private_key_file: str, store: Store) -> None:
    global _ENGINE
    _ENGINE = Engine(Path(private_key_file), store)
    importlib.import_module("sandbox.plan")  # OpenDP and Polars load now, not inside a query's time limit


def handle(op: str, payload: dict[str, Any], on_data: Callable[[], None] = lambda: None) -> dict[str, Any]:
    """Entry point for the worker loop (sandbox.worker), addressed by name so the API never imports us.

    `on_data` is called once, right before a plan first reads the data: failures after it are charged.
    """
    assert _ENGINE is not None, "engine.init() must run first"
    if op == "ping":
        return {"pid": os.getpid(), "memory_limit": resource.getrlimit(resource.RLIMIT_AS)[0],
                "streaming": os.environ.get("POLARS_FORCE_NEW_STREAMING") == "1"}
    if op == "run":
        return _run(_ENGINE, payload, on_data)
    if op == "crash":  # diagnostics: a worker that dies must fail its query cleanly
        os._exit(3)
    if op == "sleep":  # diagnostics: a worker that overruns its time limit is killed and replaced
        time.sleep(float(payload.get("seconds", 1)))
        return {}
    raise ValueError(f"unknown sandbox operation {op!r}")


def _run(engine: Engine, payload: dict[str, Any], on_data: Callable[[], None]) -> dict[str, Any]:
    """Compile, decrypt, then measure. Everything before `on_data()` depends only on the query, the
    public dictionary, the keys and the ciphertext as a whole — the same for every query on this
    version — so a failure there is refunded; the measurement itself is where a person's rows count."""
    import polars as pl

    from sandbox.plan import compile_query, measure
    from sandbox.spec import Policy, QuerySpec, TableInfo

    spec = QuerySpec.from_dict(payload["spec"])
    table = TableInfo.from_dict(payload["table"])
    policy = Policy.from_dict(payload["policy"])
    compiled = compile_query(spec, table, policy, payload["epsilon"])
    if compiled.epsilon_cost > payload["epsilon_charged"] * (1 + 1e-9):
        raise ValueError("the plan would cost more than was charged; refusing to release")
    path = engine.parquet_path(payload["storage_key"], payload["sealed_key"])
    on_data()  # the line: from here on a failure may depend on the data, and its ε is not refunded
    return {"release": measure(compiled, pl.scan_parquet(path))}
