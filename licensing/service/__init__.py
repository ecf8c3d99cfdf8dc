"""Licensing rules, one module per use case; the services other code uses are re-exported here."""

from licensing.service import (
    budget,
    notices,  # noqa: F401  (licensees hear of new versions: subscribes at import)
)
from licensing.service.licenses import LicenseService, effective_status, license_service
from licensing.service.payments import PaymentService, payments, treasury_account
from licensing.service.query_fees import query_fees
from licensing.service.reconciliation import reconciliations
from licensing.service.registration import RegistrationService, registrations
from licensing.service.reports import reports
from licensing.service.stripe_payments import stripe_payments
from licensing.service.treasury import treasury
from market.service.listings import read_budget_with

read_budget_with(budget.dataset_remaining)  # the catalog shows how much of a dataset's budget is left

__all__ = [
    "LicenseService",
    "PaymentService",
    "RegistrationService",
    "budget",
    "effective_status",
    "license_service",
    "payments",
    "query_fees",
    "reconciliations",
    "registrations",
    "reports",
    "stripe_payments",
    "treasury",
    "treasury_account",
]
