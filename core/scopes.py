"""What an API key may do: `read` (look only), `query` (look, and run DP queries), `full` (what its owner may).

A key is checked on every request, before the route runs: a read-only key that POSTs is refused at once,
whatever the route would have allowed its owner. Sign-in sessions carry `full`; their owner's role still
decides, as before.
"""

from __future__ import annotations

from enum import StrEnum

from core.errors import Forbidden


class Scope(StrEnum):
    read = "read"
    query = "query"
    full = "full"


SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
QUERY_PATHS = ("/api/v1/queries", "/api/v1/queries/preview")


class ScopeForbidden(Forbidden):
    type = "api-key-scope"
    title = "Not allowed for this API key"


def allows(scope: str, method: str, path: str) -> bool:
    """Whether a key of `scope` may send `method` to `path`."""
    if scope == Scope.full or method.upper() in SAFE_METHODS:
        return True
    return scope == Scope.query and path.rstrip("/") in QUERY_PATHS


def enforce(scope: str, method: str, path: str) -> None:
    if not allows(scope, method, path):
        raise ScopeForbidden(f"This API key is scoped to {scope!r}: it cannot {method} {path}. Create a key with "
                             "the scope this needs", zh=f"该 API 密钥的权限范围为 {scope}，不能执行 {method} {path}；"
                                                    "请创建具有相应权限范围的密钥")
