"""A sandbox engine for tests: the real one, made to fail right after the plan began reading the data.

Workers import their engine by name, so a test pool can load this one; the failure mode comes from
the environment the worker is spawned with (`SHUYU_TEST_ENGINE_FAILURE`: sleep, memory, exit, error).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from sandbox import engine as _real

init = _real.init


def handle(op: str, payload: dict[str, Any], on_data: Callable[[], None] = lambda: None) -> dict[str, Any]:
    mode = os.environ.get("SHUYU_TEST_ENGINE_FAILURE", "sleep")

    def fail_while_scanning() -> None:
        on_data()
        if mode == "sleep":
            time.sleep(120)
        elif mode == "exit":
            os._exit(3)
        elif mode == "memory":
            raise MemoryError
        raise RuntimeError("failed while scanning")

    return _real.handle(op, payload, on_data=fail_while_scanning)
