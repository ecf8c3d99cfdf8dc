"""Routes for working with results: exports (CSV, Excel) and saved queries."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from core.auth import EnterpriseUser, SessionDep
from sandbox.exports import exports
from sandbox.saved import saved_queries
from sandbox.schemas import QueryPage, QueryResult, SavedQueryCreate, SavedQueryPage, SavedQueryRead, SavedQueryRun

router = APIRouter(tags=["sandbox"])


@router.get("/queries/{query_id}/export", response_class=Response,
            responses={200: {"content": {"text/csv": {}, "application/vnd.openxmlformats-officedocument."
                                                          "spreadsheetml.sheet": {}}}})
def export_query(query_id: int, session: SessionDep, who: EnterpriseUser,
                 format: Literal["csv", "xlsx"] = "csv") -> Response:
    """A released result of yours as a file: each value with its ± (a `name ±` column), the privacy unit, ε,
    the dataset version and the signed receipt. CSV is UTF-8 with a BOM and a `# key,value` header block;
    Excel has a values sheet and a receipt sheet."""
    done = exports.export(session, who, query_id, format)
    return Response(done.content, media_type=done.media_type,
                    headers={"Content-Disposition": f'attachment; filename="{done.filename}"'})


Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0)]


@router.post("/saved-queries", status_code=201, response_model=SavedQueryRead)
def save_query(body: SavedQueryCreate, session: SessionDep, who: EnterpriseUser) -> SavedQueryRead:
    """Save a query by name (unique within your enterprise) on one of your licences."""
    return saved_queries.save(session, who, body)


@router.get("/saved-queries", response_model=SavedQueryPage)
def list_saved_queries(session: SessionDep, who: EnterpriseUser, q: str | None = None, limit: Limit = 50,
                       offset: Offset = 0) -> SavedQueryPage:
    """Your enterprise's saved queries, newest first; `q` searches their names and SQL."""
    return saved_queries.list(session, who, q, limit, offset)


@router.get("/saved-queries/{saved_id}", response_model=SavedQueryRead)
def get_saved_query(saved_id: int, session: SessionDep, who: EnterpriseUser) -> SavedQueryRead:
    """One saved query."""
    return saved_queries.get(session, who, saved_id)


@router.delete("/saved-queries/{saved_id}", status_code=204)
def delete_saved_query(saved_id: int, session: SessionDep, who: EnterpriseUser) -> Response:
    """Forget a saved query (its released results stay in the history)."""
    saved_queries.delete(session, who, saved_id)
    return Response(status_code=204)


@router.post("/saved-queries/{saved_id}/run", status_code=201, response_model=QueryResult)
def run_saved_query(saved_id: int, session: SessionDep, who: EnterpriseUser,
                    body: SavedQueryRun | None = None) -> QueryResult:
    """Run a saved query like any query: charged, or answered from storage at no cost when asked before."""
    return saved_queries.run(session, who, saved_id, body or SavedQueryRun())


@router.get("/query-history", response_model=QueryPage)
def search_history(session: SessionDep, who: EnterpriseUser, q: str | None = None, license_id: int | None = None,
                   limit: Limit = 50, offset: Offset = 0) -> QueryPage:
    """Your enterprise's query history, newest first; `q` searches the SQL text."""
    return saved_queries.history(session, who, q, license_id, limit, offset)
