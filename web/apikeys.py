"""API key routes: create (shown once), list with last use, revoke."""

from __future__ import annotations

from fastapi import APIRouter, Response

from core.apikeys import ApiKeyCreate, ApiKeyCreated, ApiKeyPage, api_keys
from core.auth import CurrentUser, SessionDep

router = APIRouter(tags=["accounts"])


@router.post("/api-keys", status_code=201, response_model=ApiKeyCreated)
def create_api_key(body: ApiKeyCreate, session: SessionDep, who: CurrentUser) -> ApiKeyCreated:
    """An API key for scripts, sent as a bearer token. Scoped `read`, `query` or `full`; expires after
    `expires_in_days` (90 by default, null for never). The key is in this response only."""
    return api_keys.create(session, who, body)


@router.get("/api-keys", response_model=ApiKeyPage)
def list_api_keys(session: SessionDep, who: CurrentUser) -> ApiKeyPage:
    """Your API keys with scope, expiry and last use (never the keys themselves)."""
    return api_keys.list(session, who)


@router.delete("/api-keys/{key_id}", status_code=204)
def revoke_api_key(key_id: int, session: SessionDep, who: CurrentUser) -> Response:
    """Revoke one of your keys: its next request is refused."""
    api_keys.revoke(session, who, key_id)
    return Response(status_code=204)
