"""Licensing errors (see core.errors for the hierarchy)."""

from core.errors import Conflict, Forbidden, InvalidInput


class InvalidCreditCode(InvalidInput):
    type = "invalid-credit-code"
    title = "The unified social credit code is not valid"


class AlreadyRegistered(Conflict):
    type = "already-registered"
    title = "Already registered"


class LicenseStateConflict(Conflict):
    type = "license-state-conflict"
    title = "The licence is not in a state that allows this"


class LicenseNotActive(Forbidden):
    type = "license-not-active"
    title = "The licence is not active"


class BudgetExhausted(Conflict):
    type = "budget-exhausted"
    title = "The privacy budget is exhausted"


class QuotaExhausted(Conflict):
    type = "quota-exhausted"
    title = "The query quota is used up"


class PaymentConflict(Conflict):
    type = "payment-conflict"
    title = "The payment cannot be changed this way"
