"""The multi-node compose file: valid for Docker Compose, and the sandbox's private key reaches workers only."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"


def _services() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text())["services"])


def _mentions_private_key(service: dict[str, Any]) -> bool:
    return "sandbox.key" in yaml.safe_dump({k: service.get(k) for k in ("volumes", "secrets", "environment")})


def test_only_sandbox_nodes_are_given_the_private_key() -> None:
    services = _services()
    holders = {name for name, service in services.items() if _mentions_private_key(service)}
    assert holders == {"worker"}
    assert "SHUYU_SANDBOX_PUBLIC_KEY_FILE" in services["api"]["environment"]
    assert services["api"]["deploy"]["replicas"] == 2 and {"db", "minio", "worker"} <= set(services)


def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("Debian's docker-compose is not installed (apt-get install docker-compose); no engine is needed")
    for name in ("sandbox.key", "sandbox.pub"):
        (tmp_path / "secrets").mkdir(exist_ok=True)
        (tmp_path / "secrets" / name).write_text("placeholder for the check\n")
    shutil.copy(COMPOSE, tmp_path / "docker-compose.yml")
    (tmp_path / ".env").write_text("SHUYU_MASTER_KEY=x\nMINIO_ROOT_PASSWORD=y\n")
    checked = subprocess.run([binary, "config", "-q"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stderr
