"""Sandbox tables: every query asked, what it cost, and the released result it got."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

import licensing.models  # noqa: F401  (licences, the target of a foreign key)
from core.models import ts_column


class QueryRun(SQLModel, table=True):
    __tablename__ = "query_runs"
    # One charged measurement (or one post-processed answer) per enterprise and key: see sandbox.cache.
    __table_args__ = (UniqueConstraint("organization_id", "fingerprint", name="uq_query_fingerprint"),
                      Index("ix_query_runs_status_lease", "status", "lease_until"))
    id: int | None = Field(default=None, primary_key=True)
    # None for the data office's open statistics, charged to the dataset's global budget only
    license_id: int | None = Field(default=None, foreign_key="licenses.id", index=True)
    organization_id: int = Field(foreign_key="organizations.id")
    user_id: int = Field(foreign_key="users.id")
    dataset_version_id: int = Field(foreign_key="dataset_versions.id")
    sql: str = Field(sa_column=Column(Text, nullable=False))
    normalized_sql: str = Field(sa_column=Column(Text, nullable=False))
    fingerprint: str = Field(max_length=64)
    epsilon_requested: float
    epsilon_charged: float = 0.0
    # queued -> running -> succeeded | refunded | failed (sandbox.jobs); "reserved" only in rows from before jobs
    status: str = Field(default="reserved", max_length=20)
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    receipt: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = ts_column()
    finished_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    job: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))  # what any sandbox node needs to run it
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    worker: str | None = Field(default=None, max_length=100)
    queued_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    started_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    lease_until: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # past it, presumed dead
    template_id: int | None = Field(default=None, foreign_key="query_templates.id")  # asked through this template


class SavedQuery(SQLModel, table=True):
    """A query an enterprise keeps by name, to rerun (through the normal path: stored answers apply)."""

    __tablename__ = "saved_queries"
    __table_args__ = (UniqueConstraint("organization_id", "name", name="uq_saved_query_name"),)
    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organizations.id", index=True)
    license_id: int = Field(foreign_key="licenses.id", index=True)
    created_by: int = Field(foreign_key="users.id")
    name: str = Field(max_length=200)
    sql: str = Field(sa_column=Column(Text, nullable=False))
    epsilon: float | None = None
    created_at: datetime = ts_column()


class OpenStatistic(SQLModel, table=True):
    """A set of differentially private tables of a listing the data office publishes free to everyone (数据社会化)."""

    __tablename__ = "open_statistics"
    id: int | None = Field(default=None, primary_key=True)
    listing_id: int = Field(foreign_key="listings.id", index=True)
    dataset_version_id: int = Field(foreign_key="dataset_versions.id")
    title: str = Field(max_length=200)
    description: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    epsilon_total: float  # what the whole set was charged on the dataset's global budget
    created_by: int = Field(foreign_key="users.id")
    created_at: datetime = ts_column()


class OpenStatisticTable(SQLModel, table=True):
    """One table of an open statistic: its query, result and receipt are the sandbox job's."""

    __tablename__ = "open_statistic_tables"
    id: int | None = Field(default=None, primary_key=True)
    statistic_id: int = Field(foreign_key="open_statistics.id", index=True)
    position: int
    title: str = Field(max_length=200)
    query_run_id: int = Field(foreign_key="query_runs.id", unique=True)


class QueryTemplate(SQLModel, table=True):
    """One version of a query template (查询模板): SQL with typed parameters, approved by the data office.

    The enterprise fills the parameters; the office approved the shape. A new proposal under the same
    name is the next version; approving it supersedes the one before."""

    __tablename__ = "query_templates"
    __table_args__ = (UniqueConstraint("listing_id", "name", "version", name="uq_query_template_version"),)
    id: int | None = Field(default=None, primary_key=True)
    listing_id: int = Field(foreign_key="listings.id", index=True)
    name: str = Field(max_length=200)
    name_en: str = Field(default="", max_length=200)
    version: int = 1
    description: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    description_en: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    sql: str = Field(sa_column=Column(Text, nullable=False))
    parameters: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    example: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # submitted -> approved | rejected; approved -> superseded (a newer version approved) | withdrawn
    status: str = Field(default="submitted", max_length=20, index=True)
    approvals: int = 0
    proposed_by: int = Field(foreign_key="users.id")
    created_at: datetime = ts_column()
    decided_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class QueryTemplateReview(SQLModel, table=True):
    """One data-office decision on a template version, with its reason. Append-only."""

    __tablename__ = "query_template_reviews"
    id: int | None = Field(default=None, primary_key=True)
    template_id: int = Field(foreign_key="query_templates.id", index=True)
    reviewer_id: int = Field(foreign_key="users.id")
    decision: str = Field(max_length=20)
    reason_code: str = Field(max_length=60)
    comment: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    created_at: datetime = ts_column()
