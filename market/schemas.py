"""Market API schemas (separate from the table models)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from market.policy import DpPolicy as DpPolicy  # re-exported: the API schema of a listing's policy

Grade = Literal["core", "important", "general"]
Role = Literal["dimension", "measure", "identifier", "excluded"]
Scenario = Literal["public_governance", "public_welfare", "industry"]
# 发改价格〔2025〕65号: products for public governance and public welfare are free; industry is priced under a cap.
FREE_SCENARIOS = ("public_governance", "public_welfare")
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
    message_zh: str | None = None


class FindingPage(BaseModel):
    items: list[Finding]
    total: int


class MissingRead(BaseModel):
    """How many cells of one column were read as missing at upload, by marker ("" for empty cells)."""

    column: str
    count: int
    markers: dict[str, int]
    message: str
    message_zh: str


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
    missing_values: list[MissingRead] = Field(default=[], description="Per column, the cells read as missing "
                                                                       "(markers such as NA, #N/A, 暂无, or empty)")
    changelog: str = Field(default="", description="What changed in this version, in the provider's words")


class VersionRead(BaseModel):
    version: int
    sha256: str
    row_count: int
    size_bytes: int
    columns: list[ColumnRead]
    has_dictionary: bool
    changelog: str = ""
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
    earliest: str | None = Field(default=None, description="A text column whose every value reads as a date or "
                                                           "time: its earliest value (ISO)")
    latest: str | None = None
    values: list[str | int | bool] | None = None
    looks_like: list[str] = Field(default=[], description="id_card (18-digit 身份证 with a valid check digit), "
                                                           "mobile_phone, unique_per_row")


class KeepShare(BaseModel):
    k: int
    persons: float = Field(description="Share of persons all of whose rows k keeps")
    rows: float = Field(description="Share of rows k keeps")


class PersonRows(BaseModel):
    """How many rows each person (distinct value of one column) has: raw-data facts for the provider and the
    data office only, never for the catalog, enterprises or results."""

    column: str
    persons: int
    rows: int
    null_rows: int = 0
    p50: int
    p95: int
    p99: int
    max: int
    keep: list[KeepShare]


class ProfileRead(BaseModel):
    dataset_id: int
    version: int
    rows: int
    columns: list[ColumnProfile]
    per_person: list[PersonRows] = Field(default=[], description="Rows per distinct value of each column that "
                                                                 "may identify a person")


class KeysConfirm(BaseModel):
    """Make keys seen in the data public, which only the provider can vouch for."""

    column: str
    public_knowledge: bool = Field(description="I state these values are public knowledge (e.g. the list of "
                                               "districts), not something the data reveals; the statement is "
                                               "stored and audited. Without it, only values seen in at least 10 "
                                               "rows of at least 5 persons can be confirmed")
    keys: list[str | int | bool] | None = Field(default=None, description="A subset of the values seen; "
                                                                          "all of them if omitted")


class PrivacyUnit(BaseModel):
    column: str | None = Field(default=None, description="The identifier column whose value is one person "
                                                         "(null: a row is the unit, allowed only when no person "
                                                         "has two rows)")
    max_contributions: int = Field(default=1, ge=1, le=1000, description="k: rows kept per person (truncation)")
    label_zh: str = Field(default="", max_length=20, description="What one unit is, e.g. 持卡人")
    label_en: str = Field(default="", max_length=40, description="What one unit is, e.g. card holder")


class DictionaryColumn(BaseModel):
    name: str
    role: Role
    bounds: tuple[float, float] | None = None
    keys: list[str | int | bool] | None = None
    time: Literal["date", "datetime"] | None = Field(default=None, description=(
        "A dimension holding dates (2013-01-01, 2013/1/1) or dates with a time of day (2013-01-01 05:17): "
        "queries may group it by year, quarter, month, day, hour or weekday"))
    period: tuple[str, str] | None = Field(default=None, description=(
        "A date or datetime dimension's public first and last value (ISO, e.g. [\"2013-01-01\", \"2013-12-31\"]): "
        "the keys of its time buckets follow from it, never from the data"))
    description: str = ""
    keys_public_knowledge: bool = Field(default=False, description="The provider stated the keys are public "
                                                                   "knowledge (recorded in the audit log)")


class Dictionary(BaseModel):
    privacy_unit: PrivacyUnit = PrivacyUnit()
    columns: list[DictionaryColumn]
    row_label_zh: str = Field(default="", max_length=20, description="What one row is, e.g. 出行记录")
    row_label_en: str = Field(default="", max_length=40, description="What one row is, e.g. trip")
    row_bound: int | None = Field(default=None, ge=1, le=10**12, description=(
        "A public upper bound on the number of rows, declared by the provider; without one the platform's "
        "default (10,000,000) applies. It must cover every version's rows."))


class PrivacyUnitRead(BaseModel):
    """What ε protects, in words: the unit, its bound on rows, and the public bound on the table's rows."""

    column: str | None
    max_contributions: int
    description_zh: str
    description_en: str
    row_bound: int


class OfferCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    scenario: Scenario
    price_minor: int = Field(default=0, ge=0, description="Price in minor units (fen) of `currency`")
    currency: str = Field(default="CNY", pattern="^[A-Z]{3}$")
    term_days: int = Field(gt=0, le=3660)
    epsilon_budget: float = Field(gt=0, le=1000, description="At most the listing's ε cap per enterprise")
    query_quota: int = Field(gt=0)
    price_per_query_minor: int = Field(
        default=0, ge=0, description="Industry offers only: fen per released query (按次计费), booked when the query "
        "is released. The price plus the quota's per-query charges must stay within the ceiling")


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


class Rights(BaseModel):
    """The three rights of public data (所有权归国家、使用权归相关政府部门、收益权归财政)."""

    ownership: str = Field(description="Who owns the data: the State")
    use: str = Field(description="The department that holds the data and the right to use it")
    revenue: str = Field(description="Where the revenue goes: the treasury's non-tax revenue account")


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
    dp_policy: DpPolicy = Field(description="The policy in force: every ε cap a number (by grade unless set)")
    ceiling_price_minor: int | None
    offers: list[OfferRead]
    approvals: int
    published_at: datetime | None
    retired_at: datetime | None = None
    scenarios: list[str] = []
    dataset_version: int | None = None
    revision: RevisionRead | None = None
    registration_code: str | None = None
    rights: Rights | None = Field(default=None, description="Ownership (the State), use (the holding department) "
                                  "and revenue (the treasury)")
    agreement_id: int | None = Field(default=None, description="The authorization agreement it was submitted under")


class CatalogEntry(ListingRead):
    dictionary: Dictionary | None = None
    dataset_epsilon_remaining: float | None = Field(
        default=None, description="ε left of the dataset version's global cap, shared by every licensee")
    privacy_unit: PrivacyUnitRead | None = None
    columns: list[ColumnRead] = Field(default=[], description="The table's columns and their types")
    freshness: Freshness | None = Field(default=None, description="Last updated and next update due")
    versions: list[VersionRef] = Field(default=[], description="Versions offered so far, newest first, with "
                                                                "their changelog lines")


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
    person_rows: PersonRows | None = Field(default=None, description="Rows per person of the proposed (else the "
                                                                     "approved) unit column, for the reviewer")
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
    status: str = Field(description="notice (公示中: objections may be filed), active (registered) or cancelled")
    listing_status: str
    registered_at: datetime
    notice_ends_at: datetime | None = Field(default=None, description="End of the public notice; an objection "
                                            "still open keeps the record in notice until it is answered")
    open_objections: int = 0
    events: list[RegistrationEventRead]


class RegistrationPage(BaseModel):
    items: list[RegistrationRead]
    total: int


class RegistrationExport(BaseModel):
    """All registration records, for other platforms and the authorities (format `shuyu-registrations/1`,
    documented in docs/data-office.md)."""

    format: Literal["shuyu-registrations/1"] = "shuyu-registrations/1"
    generated_at: datetime
    registrations: list[RegistrationRead]


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


class ComplaintCreate(BaseModel):
    """A complaint against a product (`listing_id`) or an objection to a registration (`registration_code`)."""

    listing_id: int | None = Field(default=None, ge=1, le=2**62)
    registration_code: str | None = Field(default=None, max_length=32)
    text: str = Field(min_length=10, max_length=4000, description="What is wrong, in the filer's own words")
    contact: str = Field(default="", max_length=200, description="How the data office may reach the filer; "
                         "seen by the data office only")


class ComplaintFiled(BaseModel):
    id: int
    kind: Literal["complaint", "objection"]
    tracking_code: str = Field(description="Keep it: it shows the status and the reply without an account")
    status: str


class ComplaintHandle(BaseModel):
    decision: Literal["upheld", "dismissed"]
    reason_code: str
    reply: str = Field(min_length=2, max_length=4000, description="The reply the filer reads")


class ComplaintStatus(BaseModel):
    """What the filer sees with the tracking code: never the contact, never who handled it."""

    kind: str
    listing_id: int | None
    registration_code: str | None
    status: str
    decision: str | None
    reason_code: str | None
    reply: str
    created_at: datetime
    handled_at: datetime | None


class ComplaintRead(ComplaintStatus):
    id: int
    text: str
    contact: str
    listing_title: str | None = None


class ComplaintPage(BaseModel):
    items: list[ComplaintRead]
    total: int
    open: int


class FeeLine(BaseModel):
    """One offer in the public fee schedule (收费公示)."""

    listing_id: int
    listing_title: str
    provider: str
    grade: str | None
    offer_id: int
    offer_name: str
    scenario: str
    price_minor: int = Field(description="Price in minor units (fen) of `currency`")
    currency: str
    ceiling_price_minor: int | None = Field(description="The data office's ceiling for industry offers (fen)")
    term_days: int
    epsilon_budget: float
    query_quota: int
    price_per_query_minor: int = Field(default=0, description="Fen per released query (0: no per-query charge)")


class FeeSchedule(BaseModel):
    items: list[FeeLine]
    total: int


class SecurityReviewCreate(BaseModel):
    """A data security review of the version a listing publishes (or proposes): risks found and the decision."""

    risk_level: Literal["low", "medium", "high"]
    findings: str = Field(min_length=2, max_length=8000, description="The risks found and how they are handled")
    decision: Literal["pass", "fail"]


class SecurityReviewRead(SecurityReviewCreate):
    id: int
    listing_id: int
    dataset_version_id: int
    dataset_version: int
    reviewer_id: int
    created_at: datetime


class SecurityReviewPage(BaseModel):
    items: list[SecurityReviewRead]
    total: int


class AgreementCreate(BaseModel):
    """An authorization agreement (授权运营协议). Its scope names provider departments, datasets or sectors (at
    least one); the term runs from `starts_on` to `ends_on` inclusive, China Standard Time."""

    title: str = Field(min_length=2, max_length=200)
    authorizing_body: str = Field(min_length=2, max_length=200, description="授权主体, e.g. 某市人民政府")
    operator: str = Field(min_length=2, max_length=200,
                          description="The operator organization's name (运营机构); created if new")
    departments: list[str] = Field(default=[], max_length=200, description="Provider organizations' names")
    datasets: list[str] = Field(default=[], max_length=500, description="Dataset (table) names")
    sectors: list[str] = Field(default=[], max_length=100, description="Sectors, as the data office classifies them")
    starts_on: date = Field(ge=date(2000, 1, 1), le=date(2200, 12, 31))
    ends_on: date = Field(ge=date(2000, 1, 1), le=date(2200, 12, 31))
    conditions: str = Field(default="", max_length=20000)


class AgreementRevoke(BaseModel):
    reason: str = Field(min_length=2, max_length=2000, description="Why the authorization is revoked (public)")


class AgreementRead(BaseModel):
    id: int
    title: str
    authorizing_body: str
    operator: str
    operator_org_id: int
    departments: list[str]
    datasets: list[str]
    sectors: list[str]
    starts_at: datetime
    ends_at: datetime = Field(description="Exclusive: the agreement covers times before this")
    starts_on: date = Field(description="The first day of the term (China Standard Time)")
    ends_on: date = Field(description="The last day of the term, inclusive (China Standard Time)")
    conditions: str
    status: str = Field(description="active, not_started, expired or revoked, as of now")
    document_name: str
    document_sha256: str | None
    document_size: int
    revoke_reason: str
    revoked_at: datetime | None
    ended_at: datetime | None = Field(description="When its end suspended its listings")
    listings: list[int] = Field(description="Listings submitted under it")
    created_at: datetime


class AgreementPage(BaseModel):
    items: list[AgreementRead]
    total: int


class VersionRef(BaseModel):
    """A dataset version as licensees may see it: no sizes, no hashes, nothing read from the data."""

    dataset: str
    version: int
    changelog: str = ""
    created_at: datetime


class Freshness(BaseModel):
    """When the data was last updated and when the next update is due by the listing's update cycle."""

    last_updated: datetime
    update_cycle: str
    next_update_due: datetime | None = Field(description="None when the cycle is irregular or not stated")
    overdue: bool


class QualityColumn(BaseModel):
    name: str
    role: str | None
    completeness: float = Field(description="Share of rows with a value (missing markers and empty cells count "
                                            "as missing)")
    missing: int
    outside_bounds: int | None = Field(default=None, description="Values outside the measure's bounds (clamped "
                                                                 "in queries), or a date column's dates outside its "
                                                                 "declared period (in no time bucket); None when not "
                                                                 "counted")
    unreadable_times: int | None = Field(default=None, description="Values of a date column that read as no date "
                                                                   "(left out of time buckets as missing)")
    keys_never_seen: list[Any] = Field(default=[], description="Public keys that never occur in the data")
    values_not_in_keys: int | None = Field(default=None, description="Distinct values outside the public keys")


class RowsPerUnit(BaseModel):
    column: str
    max_contributions: int
    units: int
    max_rows: int
    mean_rows: float
    units_over_bound: int = Field(description="Units with more rows than max_contributions (their extra rows "
                                              "are left out of queries)")


class QualityReport(BaseModel):
    """A version's data quality, for its provider and the data office (aggregate counts only, no values)."""

    dataset_id: int
    dataset: str
    version: int
    rows: int
    changelog: str
    created_at: datetime
    columns: list[QualityColumn]
    rows_per_unit: RowsPerUnit | None = None
