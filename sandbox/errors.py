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
