"""Sandbox API schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class QueryCreate(BaseModel):
    license_id: int
    sql: str = Field(min_length=1, max_length=20_000)
    epsilon: float | None = Field(default=None, gt=0, description="ε to spend; the listing's default if omitted")
    run_async: bool = Field(default=False, alias="async", description="Answer 202 at once and run in the background")

    model_config = {"populate_by_name": True}


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
    status: str = "succeeded"
    receipt: Receipt


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
