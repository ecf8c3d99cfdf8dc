"""Routes for working with results: exports (CSV, Excel) and saved queries."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import Response

from core.auth import EnterpriseUser, SessionDep
from sandbox.exports import exports

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
