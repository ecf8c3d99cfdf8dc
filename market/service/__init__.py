"""Market rules, one module per use case (datasets, listings, review, catalog, registrations).

Other domains import the singletons from here: `from market.service import listings as listing_service`.
"""

from market.service.common import APPROVALS_NEEDED, POLICY_FLOOR, most_charged, policy_for
from market.service.datasets import DatasetService, check_dictionary, datasets
from market.service.listings import DatasetTarget, ListingService, listings
from market.service.registrations import RegistrationService, registrations

_policy_for = policy_for  # the name the grade floors were first known by

__all__ = [
    "APPROVALS_NEEDED", "POLICY_FLOOR", "DatasetService", "DatasetTarget", "ListingService", "RegistrationService",
    "_policy_for", "check_dictionary", "datasets", "listings", "most_charged", "policy_for", "registrations",
]
