"""Sandbox errors (see core.errors for the hierarchy)."""

from core.errors import Conflict, DomainError, InvalidInput


class QueryRefused(InvalidInput):
    type = "query-not-allowed"
    title = "The query is not allowed"


class EpsilonNotAllowed(InvalidInput):
    type = "epsilon-not-allowed"
    title = "The ε asked for is not allowed"


class QueryInProgress(Conflict):
    type = "query-in-progress"
    title = "The same query is running"


class QueryFailed(DomainError):
    status = 503
    type = "query-failed"
    title = "The query failed in the sandbox; nothing was charged"


class QueryFailedCharged(DomainError):
    status = 503
    type = "query-failed-charged"
    title = "The query failed after it touched the data; its ε was charged"


class SavedQueryNameTaken(Conflict):
    type = "saved-query-name-taken"
    title = "A saved query already has this name"


class QueryRunning(Conflict):
    type = "query-running"
    title = "The sandbox has started the query"


class QueryStillRunning(DomainError):
    status = 202
    type = "query-still-running"
    title = "The query is still running"


class SandboxBusy(DomainError):
    """Beyond capacity: refused before anything is charged; the caller should come back later."""

    status = 503
    type = "sandbox-busy"
    title = "The sandbox is at capacity"

    def __init__(self, detail: str, *, zh: str | None = None, retry_after: int = 5) -> None:
        super().__init__(detail, zh=zh, retry_after=retry_after)
        self.headers = {"Retry-After": str(retry_after)}


class TemplateRequired(DomainError):
    """The data office requires approved templates on this listing: free SQL is refused."""

    status = 403
    type = "template-required"
    title = "This listing is queried through approved templates"


class TemplateParameterInvalid(InvalidInput):
    type = "template-parameter-invalid"
    title = "A template parameter is not allowed"


class TemplateInvalid(InvalidInput):
    type = "template-invalid"
    title = "The template is not valid"


class TemplateStateConflict(Conflict):
    type = "template-state"
    title = "The template is not in a state that allows this"


class TemplateOutdated(Conflict):
    """An approved template whose parameter no longer fits the listing's current dictionary."""

    type = "template-outdated"
    title = "The template no longer fits the listing's data dictionary"
