"""Licensing errors (see core.errors for the hierarchy)."""

from core.errors import Conflict, DomainError, Forbidden, InvalidInput, Unavailable


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


class PriceAboveCeiling(InvalidInput):
    type = "price-above-ceiling"
    title = "The offer is priced above the listing's ceiling price"


class RefundNotAllowed(Conflict):
    type = "refund-not-allowed"
    title = "This refund cannot be made"


class RemittanceConflict(Conflict):
    type = "remittance-conflict"
    title = "This remittance cannot be recorded"


class StripeNotConfigured(InvalidInput):
    type = "stripe-not-configured"
    title = "Card payment (Stripe) is not configured"


class PaymentProviderError(Unavailable):
    type = "payment-provider-unavailable"
    title = "The payment provider could not be reached or refused the request"


class InvalidWebhook(DomainError):
    status = 400
    type = "invalid-webhook"
    title = "The webhook is not from Stripe, or is stale"


class WebhookNotProcessed(Unavailable):
    type = "webhook-not-processed"
    title = "The event was stored but could not be processed yet"


class InvalidStatement(InvalidInput):
    type = "invalid-statement"
    title = "The Stripe statement cannot be read"


class StripeRefused(Conflict):
    type = "payment-provider-refused"
    title = "Stripe refused the request"


class EligibilityEvidenceMissing(InvalidInput):
    type = "eligibility-evidence-missing"
    title = "A free offer needs a purpose and evidence of public-interest use"
