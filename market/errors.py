"""Market errors (see core.errors for the hierarchy): invalid files and dictionaries (422), lifecycle
conflicts (409: wrong state, self-review, core grade, paused ordering), unknown reason codes (422)."""

from core.errors import Conflict, InvalidInput


class InvalidDataset(InvalidInput):
    type = "invalid-dataset"
    title = "The file cannot be read as a dataset"


class InvalidDictionary(InvalidInput):
    type = "invalid-dictionary"
    title = "The data dictionary does not fit the dataset"


class CoreGradeRefused(Conflict):
    type = "core-grade-not-publishable"
    title = "Core data can never be published"


class ListingStateConflict(Conflict):
    type = "listing-state-conflict"
    title = "The listing is not in a state that allows this"


class SelfReview(Conflict):
    type = "self-review"
    title = "Nobody reviews their own submission"


class UnknownReasonCode(InvalidInput):
    type = "unknown-reason-code"
    title = "The reason code is not on the list for this action"


class OfferAboveCeiling(InvalidInput):
    type = "offer-above-ceiling"
    title = "An offer is priced above the ceiling price"


class OrderingPaused(Conflict):
    type = "ordering-paused"
    title = "New licences on this listing are paused"


class ListingUnavailable(Conflict):
    type = "listing-unavailable"
    title = "The listing is suspended or retired"


class KeysNotConfirmed(InvalidInput):
    type = "keys-not-confirmed"
    title = "Keys taken from the data need the provider's confirmation"


class PolicyInvalid(InvalidInput):
    type = "invalid-dp-policy"
    title = "The DP policy's caps contradict each other"


class OfferAboveCap(InvalidInput):
    type = "offer-above-cap"
    title = "An offer carries more ε than the listing's caps allow"


class DatasetBudgetSpent(Conflict):
    type = "budget-exhausted"
    title = "The dataset's privacy budget is spent"


class PrivacyUnitRequired(InvalidInput):
    type = "privacy-unit-required"
    title = "A person with several rows needs a privacy unit"


class SecurityReviewRequired(Conflict):
    type = "security-review-required"
    title = "Important data needs a passed data security review before it is published"


class AuthorizationRequired(Conflict):
    type = "authorization-required"
    title = "No active authorization agreement covers this listing"
