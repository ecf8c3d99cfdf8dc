"""Sandbox routes: DP queries (waited for, or in the background), previews, and the receipt public key."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from core.auth import EnterpriseUser, SessionDep
from sandbox import jobs
from sandbox.schemas import PublicKey, QueryCreate, QueryPage, QueryPreview, QueryResult, QueryStatus
from sandbox.service import public_key, queries, sync_limit
from sandbox.templates import TemplateUse

router = APIRouter(tags=["sandbox"])


@router.post("/queries", status_code=201, response_model=QueryResult,
             responses={202: {"model": QueryStatus, "description": "Queued (`async`), or still running"}})
async def run_query(body: QueryCreate, session: SessionDep, who: EnterpriseUser) -> QueryResult | JSONResponse:
    """Run one SQL aggregate on a licensed dataset; only differentially private values come back.

    The ε is charged before anything is computed; asking the same query again returns the stored
    answer at no cost. With `"async": true`, or when the sandbox takes longer than the time limit, the
    answer is 202 with a `Location` to poll. Beyond capacity: 503 with `Retry-After`, nothing charged."""
    return await answer(session, who, body, None)


async def answer(session: SessionDep, who: EnterpriseUser, body: QueryCreate,
                 template: TemplateUse | None) -> QueryResult | JSONResponse:
    """Submit a query (free SQL, or a filled template) and answer with its result, or 202 while it runs."""
    submitted = await run_in_threadpool(queries.submit, session, who, body, template)
    if submitted.result is not None:
        return submitted.result
    # The wait holds no thread and no database connection: the event loop polls the job's row.
    status = None if body.run_async else await jobs.wait_async(submitted.run_id, sync_limit())
    result = await run_in_threadpool(queries.outcome, who, submitted.run_id, status)
    if result is not None:
        return result
    pending = await run_in_threadpool(_pending, who, submitted.run_id)
    return JSONResponse(pending.model_dump(mode="json"), status_code=202,
                        headers={"Location": f"/api/v1/queries/{submitted.run_id}"})


def _pending(who: EnterpriseUser, run_id: int) -> QueryStatus:
    from core.db import unit_of_work

    with unit_of_work() as session:  # the job may have ended already: 202 with its status all the same
        return queries.job_status(session, who, run_id)


@router.post("/queries/preview", response_model=QueryPreview)
def preview_query(body: QueryCreate, session: SessionDep, who: EnterpriseUser) -> QueryPreview:
    """What a query would cost and how accurate it would be; runs and charges nothing."""
    return queries.preview(session, who, body)


@router.get("/queries", response_model=QueryPage)
def query_history(session: SessionDep, who: EnterpriseUser, license_id: int | None = None,
                  limit: Annotated[int, Query(ge=1, le=200)] = 50,
                  offset: Annotated[int, Query(ge=0)] = 0) -> QueryPage:
    """Your enterprise's queries, newest first."""
    return queries.history(session, who, license_id, limit, offset)


@router.get("/queries/{query_id}", response_model=QueryResult | QueryStatus)
def get_query(query_id: int, session: SessionDep, who: EnterpriseUser) -> QueryResult | QueryStatus:
    """A query of yours: `status` queued, running, succeeded, refunded or failed; the result and its
    receipt once released."""
    return queries.status(session, who, query_id)


@router.post("/queries/{query_id}/cancel", response_model=QueryStatus)
def cancel_query(query_id: int, session: SessionDep, who: EnterpriseUser) -> QueryStatus:
    """Cancel a query that has not started (its ε comes back); one the sandbox has started runs out."""
    return queries.cancel(session, who, query_id)


@router.get("/receipts/public-key", response_model=PublicKey)
def receipts_public_key() -> PublicKey:
    """The Ed25519 key that signs receipts: verify a receipt offline with it."""
    return public_key()
