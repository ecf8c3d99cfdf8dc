"""Guards that answer bad input before a route runs: integers out of the database's range.

An id of 2^63 or more passes FastAPI's `int` validation and then overflows the database driver (a 500 on
both SQLite and PostgreSQL); on PostgreSQL an id column is INTEGER, so 2^31 already overflows. Path ids above
2^31 − 1 are 404; anything else the database still cannot hold is a 422 from `web.app`'s DataError handler.
Every route's integer path and query parameters are found from the routes
themselves, so a new route is covered without a line of its own: out of range in the path is 404 (no such
thing can exist), in the query string 422.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Any, Union, get_args, get_origin

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.requests import Request

from core.errors import InvalidInput, NotFound

INT_MAX = 2**63 - 1
ID_MAX = 2**31 - 1  # ids are INTEGER columns: PostgreSQL's int4 holds no more


@dataclass(frozen=True)
class _IntParams:
    path: frozenset[str]
    query: frozenset[str]


def _is_int(annotation: Any) -> bool:
    if annotation is int:
        return True
    if get_origin(annotation) in (Union, types.UnionType):
        return any(_is_int(a) for a in get_args(annotation))
    return False


def _int_params(dependant: Dependant) -> _IntParams:
    path: set[str] = set()
    query: set[str] = set()
    stack = [dependant]
    while stack:
        current = stack.pop()
        path.update(f.alias for f in current.path_params if _is_int(f.field_info.annotation))
        query.update(f.alias for f in current.query_params if _is_int(f.field_info.annotation))
        stack.extend(current.dependencies)
    return _IntParams(frozenset(path), frozenset(query))


def _out_of_range(value: str, limit: int = INT_MAX) -> bool:
    text = value.strip().lstrip("+-")
    return text.isdigit() and abs(int(value.strip())) > limit


def check_id_range(request: Request) -> None:
    """App-wide dependency (it runs before each route's own): 404 for an out-of-range integer in the
    path, 422 in the query string."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    params = _int_params(route.dependant)
    for name in params.path:
        if _out_of_range(str(request.path_params.get(name, "")), ID_MAX):
            raise NotFound(f"No such {name.removesuffix('_id')}: ids are below 2^31",
                           zh="没有该编号对应的记录（编号须小于 2^31）")
    for name in params.query:
        if any(_out_of_range(v) for v in request.query_params.getlist(name)):
            raise InvalidInput(f"{name}: must be below 2^63", zh=f"参数 {name} 须小于 2^63")


def api_routes(app: Any) -> list[tuple[str, frozenset[str], APIRoute]]:
    """Every API route as (full path, methods, route), through FastAPI's included routers."""
    from fastapi.routing import iter_route_contexts

    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and context.path:
            found.append((str(context.path), frozenset(context.methods or ()), route))
    return found
