"""Market API schemas (separate from the table models)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

Grade = Literal["core", "important", "general"]
Role = Literal["dimension", "measure", "identifier", "excluded"]


class ColumnRead(BaseModel):
    name: str
    dtype: str


class DatasetRead(BaseModel):
    id: int
    name: str
    version: int
    columns: list[ColumnRead]
    sha256: str
    row_count: int
    size_bytes: int


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
    enterprise_epsilon_cap: float = Field(default=20.0, gt=0,
                                          description="ε one enterprise may spend on the dataset across all its "
                                                      "licences: buying more licences never buys unlimited loss")


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


class ReviewCreate(BaseModel):
    decision: Literal["approve", "reject", "request_changes"]
    grade: Grade | None = None
    reason_code: str | None = None
    comment: str = ""
    dp_policy: DpPolicy | None = None
    ceiling_price_minor: int | None = Field(default=None, ge=0)


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


class CatalogEntry(ListingRead):
    dictionary: Dictionary | None = None


class ListingPage(BaseModel):
    items: list[ListingRead]
    total: int
