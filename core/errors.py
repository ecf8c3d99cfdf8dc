"""Domain errors, rendered as RFC 9457 problem+json.

Every error a user can cause is a `DomainError` subclass carrying an HTTP status, a `type` slug that
names the cause, a short title and a sentence the person can act on:

    DomainError
    ├── NotAuthenticated       401 not-authenticated
    ├── Forbidden              403 forbidden
    ├── NotFound               404 not-found
    ├── Conflict               409 conflict            (wrong lifecycle state, duplicate)
    ├── InvalidInput           422 invalid-input
    ├── TooManyAttempts        429 too-many-attempts   (with Retry-After)
    └── Unavailable            503 unavailable

Domains subclass these with their own slugs (`budget-exhausted`, `query-not-allowed`, ...). Services
raise them; one handler renders them; nothing else builds an error body. Where a person meets the error
in the browser, the service also gives the sentence in Chinese (`zh=`): pages show it to zh-CN viewers,
and the API sends it as `detail_zh`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from core import problem_zh


class DomainError(Exception):
    status: ClassVar[int] = 400
    type: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"

    def __init__(self, detail: str, *, zh: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.detail_zh = zh
        self.extra = extra
        self.headers: dict[str, str] = {}

    def problem(self) -> dict[str, Any]:
        body = {"type": self.type, "title": self.title, "status": self.status, "detail": self.detail, **self.extra}
        return body | {"detail_zh": self.sentence_zh}

    @property
    def sentence_zh(self) -> str:
        """The Chinese sentence: the service's own, or the one every problem of this type carries."""
        return self.detail_zh or problem_zh.sentence(self.type)


class NotAuthenticated(DomainError):
    status = 401
    type = "not-authenticated"
    title = "Not authenticated"


class Forbidden(DomainError):
    status = 403
    type = "forbidden"
    title = "Forbidden"


class NotFound(DomainError):
    status = 404
    type = "not-found"
    title = "Not found"


class Conflict(DomainError):
    status = 409
    type = "conflict"
    title = "Conflict"


class InvalidInput(DomainError):
    status = 422
    type = "invalid-input"
    title = "Invalid input"


class TooManyAttempts(DomainError):
    status = 429
    type = "too-many-attempts"
    title = "Too many attempts"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many failed sign-ins: try again in {retry_after} seconds",
                         zh=f"登录失败次数过多，请在 {retry_after} 秒后重试", retry_after=retry_after)
        self.headers = {"Retry-After": str(retry_after)}


class Unavailable(DomainError):
    status = 503
    type = "unavailable"
    title = "Temporarily unavailable"
