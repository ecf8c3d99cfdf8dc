"""Errors the Shuyu API returns, as exceptions: one class per `type` slug a caller may act on.

Every problem+json answer becomes a `ShuyuError` (or a subclass) carrying `status`, `type`, `title`,
`detail` and the Chinese `detail_zh` when the server sends one.
"""

from __future__ import annotations

from typing import Any


class ShuyuError(Exception):
    """A refusal or failure from the server (RFC 9457 problem details)."""

    def __init__(self, status: int, type: str, title: str, detail: str, detail_zh: str | None = None,
                 body: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status} {type}: {detail or title}")
        self.status, self.type, self.title, self.detail, self.detail_zh = status, type, title, detail, detail_zh
        self.body = body or {}
        self.retry_after: float | None = None  # seconds the server asked to wait (429, 503)


class Unauthorized(ShuyuError):
    """401: the API key or token is missing, wrong or revoked."""


class Forbidden(ShuyuError):
    """403: this role or organization may not do that (or the licence is not active)."""


class NotFound(ShuyuError):
    """404: unknown, or not yours to see."""


class QueryNotAllowed(ShuyuError):
    """422 `query-not-allowed`: the SQL is not a permitted aggregate; `detail` says why."""


class BudgetExhausted(ShuyuError):
    """409 `budget-exhausted`: the licence (or a cap above it) has no ε left for this query."""


class RateLimited(ShuyuError):
    """429 (or 503 with `Retry-After`), still refused after the client's retries."""


class QueryFailed(ShuyuError):
    """The sandbox failed before releasing anything; the ε was refunded."""


class TemplateParameterInvalid(ShuyuError):
    """422 `template-parameter-invalid`: a template parameter's value is not allowed; `body["parameter"]` names it."""


class TemplateRequired(ShuyuError):
    """403 `template-required`: the data office allows only approved templates on this listing."""


BY_TYPE: dict[str, type[ShuyuError]] = {
    "template-parameter-invalid": TemplateParameterInvalid,
    "template-required": TemplateRequired,
    "query-not-allowed": QueryNotAllowed,
    "budget-exhausted": BudgetExhausted,
    "query-failed": QueryFailed,
}
BY_STATUS: dict[int, type[ShuyuError]] = {401: Unauthorized, 403: Forbidden, 404: NotFound, 429: RateLimited}


def from_response(status: int, body: dict[str, Any]) -> ShuyuError:
    kind = str(body.get("type") or "about:blank")
    cls = BY_TYPE.get(kind) or BY_STATUS.get(status) or ShuyuError
    return cls(status, kind, str(body.get("title") or ""), str(body.get("detail") or ""),
               body.get("detail_zh"), body)
