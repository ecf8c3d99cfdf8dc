"""Sandbox routes: DP queries, previews, and the receipt public key."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from core.auth import EnterpriseUser, SessionDep
from sandbox.schemas import PublicKey, QueryCreate, QueryPage, QueryPreview, QueryResult
from sandbox.service import public_key, queries

router = APIRouter(tags=["sandbox"])


@router.post("/queries", status_code=201, response_model=QueryResult)
def run_query(body: QueryCreate, session: SessionDep, who: EnterpriseUser) -> QueryResult:
    """Run one SQL aggregate on a licensed dataset; only differentially private values come back.

    The ε is charged before anything is computed; asking the same query again returns the stored
    answer at no cost."""
    return queries.run(session, who, body)


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


@router.get("/queries/{query_id}", response_model=QueryResult)
def get_query(query_id: int, session: SessionDep, who: EnterpriseUser) -> QueryResult:
    """A released result of yours, with its receipt."""
    return queries.get(session, who, query_id)


@router.get("/receipts/public-key", response_model=PublicKey)
def receipts_public_key() -> PublicKey:
    """The Ed25519 key that signs receipts: verify a receipt offline with it."""
    return public_key()
