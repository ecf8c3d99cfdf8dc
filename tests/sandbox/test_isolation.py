"""Raw data stays in the sandbox: only `sandbox.engine`, in worker processes, can decrypt."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from tests.flow import World, ok

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "market", "sandbox", "licensing", "web", "migrations", "bench")
ENGINE = ROOT / "sandbox" / "engine.py"
WORKER = ROOT / "sandbox" / "worker.py"
# Opens only its own envelope (sealed under the master key); the dataset files inside stay sealed for the
# sandbox's key, so no dataset plaintext exists outside the engine.
BACKUP = ROOT / "web" / "backup.py"
# Opens only people's TOTP secrets, sealed under a key derived from the master key: never a dataset key.
TOTP = ROOT / "core" / "twofactor.py"


def _sources() -> list[Path]:
    return [p for pkg in PACKAGES if (ROOT / pkg).exists() for p in (ROOT / pkg).rglob("*.py")]


def _reaches_engine(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("sandbox.engine")]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if module.startswith("sandbox.engine") or (module == "sandbox" and any(a.name == "engine"
                                                                                   for a in node.names)):
                found.append(module)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and (
                node.value.startswith("sandbox.engine") or node.value.endswith(".key.enc")):
            found.append(node.value)  # a module name for importlib, or the private key's file
    return found


def _decrypts(tree: ast.AST) -> list[int]:
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("decrypt", "private_bytes_raw", "from_private_bytes")]


def test_only_the_engine_can_reach_decryption() -> None:
    offenders = {}
    for path in _sources():
        if path == ENGINE:
            continue
        tree = ast.parse(path.read_text(), str(path))
        reaches = _reaches_engine(tree)
        if path == WORKER:  # the one sanctioned loader, which runs inside the spawned worker process
            reaches = [r for r in reaches if r != "sandbox.engine"]
        decrypts = _decrypts(tree) and path not in (BACKUP, TOTP)
        if reaches or decrypts:
            offenders[str(path.relative_to(ROOT))] = (reaches, decrypts)
    assert offenders == {}


def test_the_architecture_check_would_catch_an_import() -> None:
    assert _reaches_engine(ast.parse("from sandbox.engine import Engine"))
    assert _reaches_engine(ast.parse("from sandbox import engine"))
    assert _decrypts(ast.parse("AESGCM(k).decrypt(n, c, a)"))


def test_the_api_process_never_loads_the_engine() -> None:
    code = ("import sys, web.app, web.cli, web.demo, sandbox.service, market.service, licensing.service;"
            "web.app.create_app(warm_sandbox=False);"
            "print('sandbox.engine' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={**os.environ, "SHUYU_ENV": "test"})
    assert out.stdout.strip() == "False"


def test_queries_run_in_another_process_and_no_plaintext_lands_on_disk(client: TestClient, data_dir: Path,
                                                                        db: str) -> None:
    from core.config import get_settings
    from sandbox.worker import get_pool

    assert get_pool(get_settings()).call("ping", {})["pid"] != os.getpid()
    world = World(client)
    enterprise = world.enterprise()
    licence = world.active_licence(enterprise)
    ok(client.post("/api/v1/queries", json={"license_id": licence["id"], "sql": "SELECT COUNT(*) FROM people"},
                   headers=enterprise), 201)
    markers = [b"note-1234-zz", b"P0001234"]
    files = [p for p in data_dir.rglob("*") if p.is_file()]
    if db.startswith("sqlite"):
        files += [Path(db.removeprefix("sqlite:///"))]
    for path in files:
        content = path.read_bytes()
        assert not any(m in content for m in markers), path
    assert "sandbox.engine" not in sys.modules
