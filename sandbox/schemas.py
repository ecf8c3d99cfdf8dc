"""Sandbox API schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from market.schemas import VersionRef


class QueryCreate(BaseModel):
    license_id: int
    sql: str = Field(min_length=1, max_length=20_000)
    epsilon: float | None = Field(default=None, gt=0, description="ε to spend; the listing's default if omitted")


class Accuracy(BaseModel):
    alpha: float = 0.05
    plus_minus: float | None


class Receipt(BaseModel):
    query_id: int
    query_sha256: str
    dataset_sha256: str
    result_sha256: str
    epsilon: float
    issued_at: str
    key_id: str
    signature: str


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
    cached: bool = False
    receipt: Receipt
    dataset: VersionRef | None = Field(default=None, description="The dataset version the query ran on")


class QueryPreview(BaseModel):
    epsilon_cost: float
    accuracy: dict[str, Accuracy]
    epsilon_remaining_after: float
    accuracy_note: str | None = None


class PublicKey(BaseModel):
    key_id: str
    public_key_pem: str


class QuerySummary(BaseModel):
    id: int
    license_id: int
    sql: str
    status: str = Field(description="succeeded, or refunded when the sandbox failed before releasing anything")
    epsilon_charged: float
    created_at: datetime
    error: str | None = None


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
