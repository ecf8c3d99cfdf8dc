"""Market errors (see core.errors for the hierarchy)."""

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
