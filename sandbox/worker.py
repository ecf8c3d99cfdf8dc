"""A pool of sandbox worker processes, the only processes that ever hold raw rows.

Each worker is a spawned process that imports `sandbox.engine` by name (the API process never does),
serves one request at a time over a pipe, and runs under an address-space limit. A request that
overruns its time limit has its worker killed; a worker that dies fails only its own request. Either
way a fresh worker takes its place, so the pool recovers by itself.

Where refunds end: a worker says `touching` on its pipe right before the plan first reads the data
(see `sandbox.engine`). A failure before that — no worker could start, the worker died before it took
the job, the plan would not compile, the key would not unseal or the ciphertext not decrypt — cannot
depend on any person's rows, and `WorkerError.touched_data` is False: the query is refunded. From
`touching` on, whether the query times out, runs out of memory, raises or dies may depend on the data,
so a refund would release one bit about it for free: `touched_data` is True and the ε stays charged.
"""

from __future__ import annotations

import importlib
import multiprocessing as mp
import os
import queue
import resource
import threading
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from core.config import Settings
from core.keys import ensure_embedded_pair, load_public
from core.store import open_store

# Imported by name, and only inside worker processes: the API process never loads the decryption code.
ENGINE_MODULE = "sandbox.engine"


class WorkerError(Exception):
    """The worker failed before returning a result (it raised, died, or ran out of time or memory)."""

    def __init__(self, kind: str, message: str, *, touched_data: bool = False) -> None:
        super().__init__(message)
        self.kind = kind  # error | memory | died | timeout
        self.touched_data = touched_data  # the plan had begun reading the data: the failure may depend on it


def _worker_main(conn: Connection, config: dict[str, Any]) -> None:
    if config["streaming"]:
        os.environ["POLARS_FORCE_NEW_STREAMING"] = "1"  # read by OpenDP's embedded Polars at each collect
    if config["memory_bytes"]:
        resource.setrlimit(resource.RLIMIT_AS, (config["memory_bytes"], config["memory_bytes"]))
    engine = importlib.import_module(config["engine"])
    engine.init(config["private_key_file"], open_store(config["store_url"], Path(config["store_dir"]),
                                                       config["s3_endpoint_url"]))
    conn.send(("ready", None))
    while True:
        try:
            op, payload = conn.recv()
        except EOFError:
            return
        try:
            conn.send(("ok", engine.handle(op, payload, on_data=lambda: conn.send(("touching", None)))))
        except MemoryError:
            conn.send(("memory", "the query needed more memory than the sandbox allows"))
        except Exception as exc:  # reported to the caller, which refunds and audits
            conn.send(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"))


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection


class SandboxPool:
    def __init__(self, settings: Settings, engine_module: str = ENGINE_MODULE) -> None:
        self.size = max(1, settings.sandbox_workers)
        self.timeout = settings.query_timeout_seconds
        self._config = {
            "engine": engine_module,
            "private_key_file": str(ensure_embedded_pair(settings).resolve()),
            "store_url": settings.store_url,
            "store_dir": str(settings.store_dir.resolve()),
            "s3_endpoint_url": settings.s3_endpoint_url,
            "memory_bytes": settings.query_memory_mb * 1024 * 1024,
            "streaming": settings.sandbox_streaming,
        }
        self._ctx = mp.get_context("spawn")
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._lock = threading.Lock()
        self._started = 0
        self._closed = False

    def _spawn(self) -> _Worker:
        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(target=_worker_main, args=(child, self._config), daemon=True,
                                    name="shuyu-sandbox")
        process.start()
        child.close()
        try:
            if not parent.poll(120):
                raise EOFError("no answer")
            status, _ = parent.recv()
        except (EOFError, OSError) as exc:
            process.kill()
            raise WorkerError("died", "a sandbox worker could not start; see the server log") from exc
        assert status == "ready"
        return _Worker(process, parent)

    def _take(self) -> _Worker:
        while True:
            with self._lock:
                if self._closed:
                    raise WorkerError("died", "the sandbox pool is shut down")
                grow = self._idle.empty() and self._started < self.size
                if grow:
                    self._started += 1
            if grow:
                try:
                    return self._spawn()
                except BaseException:
                    with self._lock:
                        self._started -= 1
                    raise
            try:
                return self._idle.get(timeout=0.2)
            except queue.Empty:
                continue  # a worker may have been replaced meanwhile: maybe we may grow now

    def _replace(self, worker: _Worker) -> None:
        worker.process.kill()
        worker.process.join(5)
        worker.conn.close()
        with self._lock:
            self._started -= 1

    def call(self, op: str, payload: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        """Run `op` in a worker and return its result, or raise WorkerError (saying if the data was touched)."""
        worker = self._take()
        limit = timeout or self.timeout
        deadline = time.monotonic() + limit
        touched = False
        try:
            worker.conn.send((op, payload))
            while True:
                if not worker.conn.poll(max(0.0, deadline - time.monotonic())):
                    self._replace(worker)
                    raise WorkerError("timeout", f"the query ran longer than {limit:g} s", touched_data=touched)
                status, value = worker.conn.recv()
                if status != "touching":
                    break
                touched = True
        except (EOFError, OSError, BrokenPipeError) as exc:
            self._replace(worker)
            raise WorkerError("died", "the sandbox worker stopped unexpectedly", touched_data=touched) from exc
        self._idle.put(worker)
        if status != "ok":
            raise WorkerError("memory" if status == "memory" else "error", str(value), touched_data=touched)
        return dict(value)

    def warm_up(self) -> None:
        """Start one worker now (it also creates the sandbox key pair on a fresh data dir)."""
        self.call("ping", {})

    def close(self) -> None:
        with self._lock:
            self._closed = True
        while not self._idle.empty():
            worker = self._idle.get_nowait()
            worker.conn.close()
            worker.process.join(2)
            if worker.process.is_alive():
                worker.process.kill()


_POOL: SandboxPool | None = None
_POOL_LOCK = threading.Lock()


def get_pool(settings: Settings) -> SandboxPool:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL._closed or _POOL._config["store_dir"] != str(settings.store_dir.resolve()):
            if _POOL is not None:
                _POOL.close()
            _POOL = SandboxPool(settings)
        return _POOL


def shutdown_pool() -> None:
    global _POOL
    with _POOL_LOCK:
        if _POOL is not None:
            _POOL.close()
            _POOL = None


def rotate_sealed_keys(old_private_file: Path, new_public_file: Path, sealed_keys: list[str]) -> list[str]:
    """Re-wrap data keys for a new sandbox key, in this (data-zone) process: `shuyu keys rotate` calls it."""
    engine = importlib.import_module(ENGINE_MODULE)
    return list(engine.rewrap(old_private_file, load_public(new_public_file), sealed_keys))
