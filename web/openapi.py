"""The OpenAPI document states the error contract: every operation lists the problem+json answers it can
give (RFC 9457), with one `Problem` schema, instead of FastAPI's default 422 as application/json."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

PROBLEM = "application/problem+json"
ERRORS = {
    "401": "Not signed in, or the token is unknown, expired or revoked",
    "403": "Signed in, but this needs another role (or a CSRF token, for cookie sessions)",
    "404": "Nothing with this id that you may see (other organizations' records read as missing)",
    "409": "The record is in a state that does not allow this, or it exists already",
    "422": "The input is invalid; `detail` names the field and `detail_zh` says it in Chinese",
    "429": "Too many attempts or requests: wait for `Retry-After` seconds",
    "503": "Temporarily unavailable (the sandbox is at capacity, or a step must be retried): retry later",
}
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details; domain errors add fields of their own.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "A slug naming the cause, e.g. budget-exhausted"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "What happened and what to do"},
        "detail_zh": {"type": "string", "description": "The same sentence in Chinese"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
    "additionalProperties": True,
}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def with_problems(document: dict[str, Any]) -> dict[str, Any]:
    """Add the Problem schema and the error answers to every operation of `document` (in place)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            for status, description in ERRORS.items():
                responses[status] = _problem(description)
            if operation.get("operationId", "").startswith("stripe_webhook"):
                responses["400"] = _problem("The Stripe-Signature is missing, wrong, stale or from the future")
            if "multipart/form-data" in operation.get("requestBody", {}).get("content", {}):
                responses["413"] = _problem("The file is larger than the upload limit, or unfolds past a limit")
    return document


def install(app: FastAPI) -> None:
    """Make `app.openapi()` return the document with the error contract (built once, then cached)."""
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = with_problems(get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
