"""Market API schemas (separate from the table models)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator
from pydantic_core import PydanticCustomError

Grade = Literal["core", "important", "general"]
Role = Literal["dimension", "measure", "identifier", "excluded"]
Scenario = Literal["public_welfare", "industry"]
Severity = Literal["error", "warning", "info"]


class ColumnRead(BaseModel):
    name: str
    dtype: str


class Finding(BaseModel):
    """One result of checking the dictionary against the data's profile (shown to the provider only)."""

    column: str | None
    code: str
    severity: Severity
    message: str


class FindingPage(BaseModel):
    items: list[Finding]
    total: int


class DatasetRead(BaseModel):
    id: int
    name: str
    version: int
    columns: list[ColumnRead]
    sha256: str
    row_count: int
    size_bytes: int
    encoding: str | None = Field(default=None, description="How a CSV was decoded (utf-8, gb18030, ...)")
    findings: list[Finding] = Field(default=[], description="The (carried-over) dictionary checked against "
                                                             "this version's data")
    listings_moved: list[int] = Field(default=[], description="Live listings moved to this version at once "
                                                               "because their dictionary did not change")


class VersionRead(BaseModel):
    version: int
    sha256: str
    row_count: int
    size_bytes: int
    columns: list[ColumnRead]
    has_dictionary: bool
    created_at: datetime


class DatasetDetail(BaseModel):
    id: int
    name: str
    versions: list[VersionRead]
    dictionary: dict[str, Any] | None = Field(description="The working dictionary on the latest version")
    listings: list[int]


class DatasetPage(BaseModel):
    items: list[DatasetDetail]
    total: int


class ColumnProfile(BaseModel):
    """What the upload saw in one column. `values` is filled only for category-like columns."""

    name: str
    dtype: str
    nulls: int
    distinct: int = Field(description="Distinct values: exact up to 1,000, estimated above")
    min: float | None = None
    max: float | None = None
    values: list[str | int | bool] | None = None
    looks_like: list[str] = Field(default=[], description="id_card (18-digit 身份证 with a valid check digit), "
                                                           "mobile_phone, unique_per_row")


class ProfileRead(BaseModel):
    dataset_id: int
    version: int
    rows: int
    columns: list[ColumnProfile]


class KeysConfirm(BaseModel):
    """Make keys seen in the data public, which only the provider can vouch for."""

    column: str
    public_knowledge: bool = Field(description="I confirm these values are public knowledge (e.g. the list "
                                               "of districts), not something the data reveals")
    keys: list[str | int | bool] | None = Field(default=None, description="A subset of the values seen; "
                                                                          "all of them if omitted")


class PrivacyUnit(BaseModel):
    column: str | None = None
    max_contributions: int = Field(default=1, ge=1, le=1000)


class DictionaryColumn(BaseModel):
    name: str
    role: Role
    bounds: tuple[float, float] | None = None
    keys: list[str | int | bool] | None = None
    description: str = ""


class Dictionary(BaseModel):
    privacy_unit: PrivacyUnit = PrivacyUnit()
    columns: list[DictionaryColumn]


class DpPolicy(BaseModel):
    max_epsilon_per_query: float = Field(default=1.0, gt=0, le=10)
    default_epsilon: float | None = Field(default=None, gt=0, le=10)
    min_group_size: int = Field(default=0, ge=0)
    global_epsilon_cap: float | None = Field(default=None, gt=0, description="ε across all licensees of the dataset")
    unknown_keys_delta: float | None = Field(
        default=None, gt=0, lt=1e-3,
        description="δ that lets queries group by dimensions without public keys (general grade only)")
    delta_budget: float | None = Field(
        default=None, gt=0, lt=1e-2,
        description="total δ one licence may spend on such queries (default: 10 × unknown_keys_delta)")
    enterprise_epsilon_cap: float = Field(default=20.0, gt=0,
                                          description="ε one enterprise may spend on the dataset across all its "
                                                      "licences: buying more licences never buys unlimited loss")

    @model_validator(mode="after")
    def _default_within_cap(self) -> DpPolicy:
        # Refused, never lowered in silence: the provider must see that the two numbers disagree.
        if self.default_epsilon is not None and self.default_epsilon > self.max_epsilon_per_query:
            raise PydanticCustomError("default-above-cap",
                                      "the default ε ({default}) is above the cap per query ({cap})",
                                      {"default": f"{self.default_epsilon:g}",
                                       "cap": f"{self.max_epsilon_per_query:g}"})
        return self


class OfferCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    scenario: Literal["public_welfare", "industry"]
    price_minor: int = Field(default=0, ge=0, description="Price in minor units (fen) of `currency`")
    currency: str = Field(default="CNY", pattern="^[A-Z]{3}$")
    term_days: int = Field(gt=0, le=3660)
    epsilon_budget: float = Field(gt=0, le=1000)
    query_quota: int = Field(gt=0)


class OfferRead(OfferCreate):
    id: int
    active: bool = True


class ListingCreate(BaseModel):
    dataset_id: int
    title: str = Field(min_length=1, max_length=200)
    description: str = ""
    keywords: list[str] = []
    sector: str = ""
    proposed_grade: Grade
    update_cycle: str = ""
    offers: list[OfferCreate] = Field(min_length=1)
    dp_policy: DpPolicy = DpPolicy()


class DpPolicyUpdate(BaseModel):
    """The provider's part of a DP policy, for an edit: checked again together with what it keeps."""

    max_epsilon_per_query: float | None = Field(default=None, gt=0, le=10)
    default_epsilon: float | None = Field(default=None, gt=0, le=10)
    min_group_size: int | None = Field(default=None, ge=0)


class ListingUpdate(BaseModel):
    """A provider's edit of a draft or of a listing sent back for changes; omitted fields stay as they are.

    `offers`, when given, replaces the offers (nobody holds a licence on a listing never published)."""

    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = None
    keywords: list[str] | None = None
    sector: str | None = Field(default=None, max_length=60)
    proposed_grade: Grade | None = None
    update_cycle: str | None = Field(default=None, max_length=30)
    offers: list[OfferCreate] | None = Field(default=None, min_length=1)
    dp_policy: DpPolicyUpdate | None = None


class FieldChange(BaseModel):
    """One editable field that differs from what the last review saw."""

    field: str
    before: Any = None
    after: Any = None


class ReviewCreate(BaseModel):
    decision: Literal["approve", "reject", "request_changes"]
    grade: Grade | None = None
    reason_code: str | None = Field(default=None, description="From GET /listings/reason-codes; an approval "
                                                               "without one records `meets-standard`")
    comment: str = ""
    dp_policy: DpPolicy | None = None
    ceiling_price_minor: int | None = Field(default=None, ge=0, description="Highest price (fen) an industry "
                                                                            "offer may have")
    sector: str | None = Field(default=None, max_length=60, description="The data office's sector classification")
    scenarios: list[Scenario] | None = Field(default=None, min_length=1, description="Permitted scenarios; "
                                                                                     "offers outside them close")


class TransitionCreate(BaseModel):
    action: Literal["suspend", "resume", "pause_ordering", "resume_ordering", "retire"]
    reason_code: str
    comment: str = ""


class GradeChange(BaseModel):
    grade: Grade
    reason_code: str
    comment: str = ""


class RevisionRead(BaseModel):
    kind: str
    status: str
    grade: str | None
    proposed_version: int | None


class ReasonRead(BaseModel):
    code: str
    actions: list[str]
    en: str
    zh: str


class ReasonPage(BaseModel):
    items: list[ReasonRead]
    total: int


class ListingRead(BaseModel):
    id: int
    status: str
    dataset_id: int
    dataset_name: str
    title: str
    description: str
    keywords: list[str]
    sector: str
    update_cycle: str
    proposed_grade: str
    grade: str | None
    provider: str
    dp_policy: dict[str, Any]
    ceiling_price_minor: int | None
    offers: list[OfferRead]
    approvals: int
    published_at: datetime | None
    retired_at: datetime | None = None
    scenarios: list[str] = []
    dataset_version: int | None = None
    revision: RevisionRead | None = None
    registration_code: str | None = None


class CatalogEntry(ListingRead):
    dictionary: Dictionary | None = None
    columns: list[ColumnRead] = Field(default=[], description="The table's columns and their types")


class ReviewRead(BaseModel):
    reviewer_id: int
    decision: str
    grade: str | None
    reason_code: str | None
    comment: str
    created_at: datetime


class TransitionRead(BaseModel):
    action: str
    from_status: str
    to_status: str
    actor_user_id: int | None
    actor_role: str
    reason_code: str
    comment: str
    created_at: datetime


class Flag(BaseModel):
    """A check's verdict without its values, for the data office: which column, what kind of problem."""

    column: str | None
    code: str
    severity: Severity


class ListingDetail(CatalogEntry):
    """A listing as its provider and the data office see it: what is under review and how it got here."""

    proposed_dictionary: Dictionary | None = None
    changes: list[str] = Field(default=[], description="What the proposal changes, in sentences")
    field_changes: list[FieldChange] = Field(default=[], description="Fields edited since the last review")
    flags: list[Flag] = []
    reviews: list[ReviewRead] = []
    history: list[TransitionRead] = []


class PreviewColumn(BaseModel):
    name: str
    dtype: str
    role: str


class PreviewRead(BaseModel):
    listing_id: int
    synthetic: Literal[True] = True
    notice: str
    columns: list[PreviewColumn]
    rows: list[list[Any]]


class RegistrationEventRead(BaseModel):
    kind: str
    reason_code: str
    summary: dict[str, Any]
    note: str
    created_at: datetime


class RegistrationRead(BaseModel):
    code: str
    listing_id: int
    title: str
    provider: str
    status: str
    listing_status: str
    registered_at: datetime
    events: list[RegistrationEventRead]


class RegistrationPage(BaseModel):
    items: list[RegistrationRead]
    total: int


class CorrectionCreate(BaseModel):
    """Correct registered information that was wrong; the correction is public, with its note."""

    reason_code: str = "registration-error"
    note: str = Field(min_length=1)
    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = None
    sector: str | None = Field(default=None, max_length=60)
    update_cycle: str | None = Field(default=None, max_length=30)


class ListingPage(BaseModel):
    items: list[ListingRead]
    total: int
