"""Figures for docs/reliability.md, recorded by the tests that establish them (`make reliability-report`).

Outside that run (SHUYU_RELIABILITY_FIGURES unset) recording does nothing: the tests assert either way."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def record(section: str, **figures: Any) -> None:
    target = os.environ.get("SHUYU_RELIABILITY_FIGURES")
    if not target:
        return
    database = "postgresql" if os.environ.get("SHUYU_DATABASE_URL", "").startswith("postgres") else "sqlite"
    path = Path(target)
    stored: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    stored[f"{section} ({database})"] = figures
    path.write_text(json.dumps(stored, indent=2, ensure_ascii=False))
