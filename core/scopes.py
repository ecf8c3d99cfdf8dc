"""What a request may do: an API key's scope, and a person's role inside their enterprise (core.team).

Scopes are `read` (look only), `query` (look, and run DP queries), `full` (what the person may). A key is
checked on every request, before the route runs: a read-only key that POSTs is refused at once, whatever the
route would have allowed its owner. A person's role inside an enterprise caps them the same way (analyst →
`query`, viewer → `read`), except that anyone may look after their own account (`SELF_SERVICE`).
"""

from __future__ import annotations

import re
from enum import StrEnum

from sqlmodel import Field, Session, SQLModel

from core.errors import Forbidden


class Scope(StrEnum):
    read = "read"
    query = "query"
    full = "full"


SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
QUERY_PATHS = ("/api/v1/queries", "/api/v1/queries/preview")
QUERY_PAGES = re.compile(r"^/enterprise/licences/\d+/(queries|preview)$")
SELF_SERVICE = ("/api/v1/me/", "/api/v1/notifications", "/api/v1/api-keys", "/account/", "/signout")
MEMBER_CAPS = {"admin": Scope.full, "analyst": Scope.query, "viewer": Scope.read}


class OrgMember(SQLModel, table=True):
    """A person's role inside their enterprise (core.team); an enterprise user without a row is its admin."""

    __tablename__ = "org_members"
    user_id: int = Field(foreign_key="users.id", primary_key=True)
    org_role: str = Field(max_length=10)


def member_scope(session: Session, user_id: int, role: str) -> Scope:
    """What a person's role inside their enterprise lets them do (staff: everything their role may)."""
    if role != "enterprise":
        return Scope.full
    row = session.get(OrgMember, user_id)
    return MEMBER_CAPS[row.org_role] if row else Scope.full


class ScopeForbidden(Forbidden):
    type = "api-key-scope"
    title = "Not allowed for this API key"


def allows(scope: str, method: str, path: str) -> bool:
    """Whether a key of `scope` may send `method` to `path`."""
    if scope == Scope.full or method.upper() in SAFE_METHODS:
        return True
    path = path.rstrip("/")
    return scope == Scope.query and (path in QUERY_PATHS or QUERY_PAGES.match(path) is not None)


def enforce(scope: str, method: str, path: str) -> None:
    if not allows(scope, method, path):
        raise ScopeForbidden(f"This API key is scoped to {scope!r}: it cannot {method} {path}. Create a key with "
                             "the scope this needs", zh=f"该 API 密钥的权限范围为 {scope}，不能执行 {method} {path}；"
                                                    "请创建具有相应权限范围的密钥")


class RoleForbidden(Forbidden):
    type = "organization-role"
    title = "Not allowed for your role in the organization"


def enforce_member(scope: str, method: str, path: str) -> None:
    """A person's enterprise role: like a key's scope, but their own account is always theirs to manage."""
    if allows(scope, method, path) or path.startswith(SELF_SERVICE):
        return
    what, zh = ("only read", "只能查看") if scope == Scope.read else ("read and run queries", "只能查看和查询")
    raise RoleForbidden(f"Your role in your organization lets you {what}; ask its admin",
                        zh=f"您在本机构中的角色{zh}，如需更多权限请联系本机构管理员")
