"""Sandbox API schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from market.schemas import VersionRef


class QueryCreate(BaseModel):
    license_id: int
    sql: str = Field(min_length=1, max_length=20_000)
    epsilon: float | None = Field(default=None, gt=0, description="ε to spend; the listing's default if omitted")
    run_async: bool = Field(default=False, alias="async", description="Answer 202 at once and run in the background")

    model_config = {"populate_by_name": True}


class Accuracy(BaseModel):
    alpha: float = 0.05
    plus_minus: float | None


class PrivacyUnit(BaseModel):
    column: str | None = Field(description="The identifier column whose value is one person; null: a row is the unit")
    max_contributions: int = Field(description="At most this many rows of one unit are kept (k)")


class Receipt(BaseModel):
    """A signed receipt. Verify it over the canonical JSON of every field except `signature`."""

    query_id: int
    query_sha256: str = Field(description="SHA-256 of the normalized query text")
    dataset_version: str = Field(description="Opaque id of the dataset version (a keyed HMAC, never a hash of "
                                             "the data)")
    privacy_unit: PrivacyUnit = Field(description="What ε protects: one unit with up to k rows")
    result_sha256: str = Field(description="SHA-256 of the canonical JSON of the released columns and rows")
    epsilon: float = Field(description="The ε under which the values were released")
    derived_from: int | None = Field(description="For an answer post-processed from an earlier release at no "
                                                 "cost: that query's id")
    issued_at: str
    key_id: str
    signature: str


class LegacyReceipt(BaseModel):
    """A receipt issued before v2 (it named the data by `dataset_sha256`); still verifiable as stored."""

    query_id: int
    query_sha256: str
    dataset_sha256: str
    result_sha256: str
    epsilon: float
    issued_at: str
    key_id: str
    signature: str


class TemplateRef(BaseModel):
    """The approved query template (and its version) a query was asked through."""

    id: int
    name: str
    version: int


class QueryResult(BaseModel):
    id: int
    license_id: int
    sql: str
    columns: list[str]
    rows: list[list[Any]]
    accuracy: dict[str, Accuracy]
    accuracy_note: str | None = Field(default=None, description="How each ± was derived, in words")
    epsilon_charged: float = Field(description="ε charged by this request (0 when the stored answer is returned)")
    epsilon_spent_on_query: float
    epsilon_remaining: float
    cached: bool = Field(default=False, description="True when a stored release answered it at no cost")
    status: str = "succeeded"
    receipt: Receipt | LegacyReceipt = Field(union_mode="left_to_right")
    dataset: VersionRef | None = Field(default=None, description="The dataset version the query ran on")
    template: TemplateRef | None = Field(default=None, description="The approved template the query was asked "
                                                                   "through, if any")


class QueryStatus(BaseModel):
    """Where a query's job stands; `GET /queries/{id}` gives the full result instead once it is released."""

    id: int
    license_id: int
    sql: str
    status: str = Field(description="queued, running, succeeded, refunded or failed")
    epsilon_charged: float
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    attempts: int = 0
    error: str | None = None


class QueryPreview(BaseModel):
    epsilon_cost: float
    accuracy: dict[str, Accuracy]
    epsilon_remaining_after: float
    accuracy_note: str | None = None
    cached: bool = Field(default=False, description="A stored release of yours already answers it: it costs nothing")


class PublicKey(BaseModel):
    key_id: str
    public_key_pem: str


class QuerySummary(BaseModel):
    id: int
    license_id: int
    sql: str
    status: str = Field(description="succeeded; refunded when the sandbox failed before it touched the data; "
                                    "failed (ε charged, nothing released) when it failed after")
    epsilon_charged: float
    created_at: datetime
    error: str | None = None
    template: TemplateRef | None = None


class QueryPage(BaseModel):
    items: list[QuerySummary]
    total: int


class SavedQueryCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    license_id: int
    sql: str = Field(min_length=1, max_length=20_000)
    epsilon: float | None = Field(default=None, gt=0)


class SavedQueryRead(BaseModel):
    id: int
    name: str
    license_id: int
    sql: str
    epsilon: float | None
    created_at: datetime


class SavedQueryPage(BaseModel):
    items: list[SavedQueryRead]
    total: int


class SavedQueryRun(BaseModel):
    """Rerun a saved query, on its licence or another of yours (a renewal), at its ε or another."""

    license_id: int | None = None
    epsilon: float | None = Field(default=None, gt=0)


# open statistics (数据社会化): tables the data office publishes free to everyone

class OpenQuery(BaseModel):
    title: str = Field(min_length=1, max_length=200, description="What the table shows, as the public reads it")
    sql: str = Field(min_length=1, max_length=20_000, description="One aggregate, as in `POST /queries`")
    epsilon: float = Field(gt=0, le=100, description="The ε this table is released under (within the listing's "
                                                     "per-query cap)")


class OpenStatisticCreate(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=4000)
    queries: list[OpenQuery] = Field(min_length=1, max_length=20)


class OpenQueryPreview(BaseModel):
    title: str
    sql: str
    epsilon_cost: float
    accuracy: dict[str, Accuracy]
    accuracy_note: str | None = None


class OpenStatisticPreview(BaseModel):
    """What publishing these tables would cost on the dataset's global budget; nothing is run or charged."""

    listing_id: int
    queries: list[OpenQueryPreview]
    epsilon_total: float
    global_epsilon_cap: float
    epsilon_remaining: float = Field(description="ε left of the dataset's global cap now")
    epsilon_remaining_after: float
    fits: bool = Field(description="Whether the global budget covers the whole set")


class OpenTableRead(BaseModel):
    id: int
    position: int
    title: str
    sql: str
    status: str = Field(description="The sandbox job's status: only `succeeded` tables are public")
    epsilon: float
    columns: list[str] = Field(default_factory=list)
    rows: list[list[Any]] = Field(default_factory=list)
    accuracy: dict[str, Accuracy] = Field(default_factory=dict)
    accuracy_note: str | None = None
    receipt: Receipt | None = None
    csv_url: str | None = None


class OpenStatisticRead(BaseModel):
    id: int
    listing_id: int
    listing_title: str
    title: str
    description: str
    status: str = Field(description="running | published | partial | failed")
    epsilon_total: float = Field(description="ε charged on the dataset's global budget for the whole set")
    privacy_unit: PrivacyUnit
    created_at: datetime
    tables: list[OpenTableRead]


class OpenStatisticPage(BaseModel):
    items: list[OpenStatisticRead]
    total: int


# --- query templates (sandbox.templates) ------------------------------------------------------------------


class TemplateParameter(BaseModel):
    """One named parameter `:name` of a template, typed and bounded by the data dictionary."""

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,39}$")
    type: Literal["key", "keys", "number", "integer"] = Field(
        description="key: one public key of a dimension; keys: a list of them (after IN); number: a value within "
                    "a measure's bounds (or min/max); integer: a whole number within min/max")
    column: str | None = Field(default=None, description="The dimension (key, keys) or measure (number) whose "
                                                         "dictionary entry constrains the value")
    min: float | None = None
    max: float | None = None
    max_items: int = Field(default=10, ge=1, le=100, description="keys: at most this many")
    label: str = Field(default="", max_length=100, description="What the field asks, in Chinese")
    label_en: str = Field(default="", max_length=100)


class TemplateCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200, description="Chinese name; proposing an existing name "
                                                                "makes its next version")
    name_en: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=4000)
    description_en: str = Field(default="", max_length=4000)
    sql: str = Field(min_length=1, max_length=20_000, description="One SQL aggregate with `:name` parameters; "
                                                                  "a `keys` parameter follows IN")
    parameters: list[TemplateParameter] = Field(default_factory=list, max_length=20)
    example: dict[str, Any] = Field(default_factory=dict, description="Parameter values the SQL is checked "
                                                                      "with at proposal")


class TemplateReviewCreate(BaseModel):
    decision: Literal["approve", "reject"]
    reason_code: str | None = Field(default=None, description="An approval records `meets-standard`; a rejection "
                                                              "names one (GET /listings/reason-codes)")
    comment: str = Field(default="", max_length=4000)


class TemplateReviewRead(BaseModel):
    reviewer_id: int
    decision: str
    reason_code: str
    comment: str
    created_at: datetime


class TemplateRead(BaseModel):
    id: int
    listing_id: int
    name: str
    name_en: str
    version: int
    description: str
    description_en: str
    sql: str
    parameters: list[TemplateParameter]
    example: dict[str, Any]
    status: str = Field(description="submitted, approved, rejected or superseded (a newer version is approved)")
    approvals: int
    approvals_needed: int = Field(description="Distinct data-office approvals this listing's grade needs")
    proposed_by: int
    created_at: datetime
    decided_at: datetime | None
    reviews: list[TemplateReviewRead] = Field(default_factory=list)


class TemplatePage(BaseModel):
    items: list[TemplateRead]
    total: int
    templates_only: bool = Field(description="Whether the listing is queried only through approved templates")


class TemplateRun(BaseModel):
    license_id: int
    parameters: dict[str, Any] = Field(default_factory=dict)
    epsilon: float | None = Field(default=None, gt=0, description="ε to spend; the listing's default if omitted")
    run_async: bool = Field(default=False, alias="async", description="Answer 202 at once and run in the background")

    model_config = {"populate_by_name": True}


class TemplateRule(BaseModel):
    templates_only: bool = Field(description="True: enterprises query this listing only through approved templates")
    comment: str = Field(default="", max_length=4000)
