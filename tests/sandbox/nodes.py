"""Two kinds of node as separate processes: API nodes with only the public key, sandbox nodes with the private one."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-c", "from web.cli import app; app()"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Cluster:
    """A shared data dir (store + receipt key), a key dir that only sandbox nodes are pointed at, and processes."""

    database_url: str
    shared: Path
    keys: Path
    logs: Path
    lease_seconds: float = 3.0
    timeout_seconds: float = 60.0
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SHUYU_")}
        return env | {"SHUYU_ENV": "test", "SHUYU_DATABASE_URL": self.database_url, "SHUYU_DATA_DIR": str(self.shared),
                      "SHUYU_SANDBOX_MODE": "queue", "SHUYU_SANDBOX_LEASE_SECONDS": str(self.lease_seconds),
                      "SHUYU_QUERY_TIMEOUT_SECONDS": str(self.timeout_seconds), "SHUYU_SANDBOX_WORKERS": "1"}

    def api_env(self) -> dict[str, str]:
        # No master key and no private key: only the public half, as on a machine in the enterprise-facing zone.
        return self.base_env() | {"SHUYU_SANDBOX_PUBLIC_KEY_FILE": str(self.keys / "sandbox.pub")}

    def worker_env(self) -> dict[str, str]:
        return self.base_env() | {"SHUYU_SANDBOX_KEY_FILE": str(self.keys / "sandbox.key")}

    def _start(self, args: list[str], env: dict[str, str], name: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}-{len(self.processes)}.log").open("wb")
        process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self.processes.append(process)
        return process

    def start_api(self) -> tuple[subprocess.Popen[bytes], str]:
        port = free_port()
        process = self._start([sys.executable, "-m", "uvicorn", "web.app:create_app", "--factory", "--host",
                               "127.0.0.1", "--port", str(port), "--log-level", "warning"], self.api_env(), "api")
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the API node exited: {self.log_text()}")
            try:
                if httpx.get(f"{url}/api/v1/catalog", timeout=2).status_code == 200:
                    return process, url
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the API node did not start: {self.log_text()}")

    def start_worker(self) -> subprocess.Popen[bytes]:
        return self._start([*CLI, "worker"], self.worker_env(), "worker")

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*CLI, *args], cwd=ROOT, env=self.worker_env(), capture_output=True, text=True,
                              timeout=120)

    def log_text(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in self.logs.glob("*.log"))

    def stop(self) -> None:
        for process in self.processes:
            kill(process)


def kill(process: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    """kill -9 a node and everything it started (its sandbox processes too)."""
    if process.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        process.wait(10)


@contextmanager
def cluster(database_url: str, tmp_path: Path, **options: float) -> Iterator[Cluster]:
    shared, keys, logs = tmp_path / "shared", tmp_path / "sandbox-keys", tmp_path / "logs"
    for path in (shared, logs):
        path.mkdir()
    nodes = Cluster(database_url, shared, keys, logs, **options)
    made = nodes.cli("keys", "generate", "--out", str(keys))
    assert made.returncode == 0, made.stderr
    if database_url.startswith("postgresql"):
        from core.config import get_settings
        from sandbox.node import ensure_queue_schema

        ensure_queue_schema(get_settings())
    try:
        yield nodes
    finally:
        nodes.stop()
