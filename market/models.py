"""Market tables: datasets and their encrypted versions, listings, offers, reviews, the lifecycle log,
the catalog's search terms, and registration records (登记)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

import core.models  # noqa: F401  (organizations and users, targets of foreign keys)
from core.models import ts_column


class Dataset(SQLModel, table=True):
    __tablename__ = "datasets"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=63)  # the table name in a query's FROM
    provider_org_id: int = Field(foreign_key="organizations.id", index=True)
    created_by: int = Field(foreign_key="users.id")
    created_at: datetime = ts_column()


class DatasetVersion(SQLModel, table=True):
    """One upload, stored only as AES-GCM ciphertext; its data key is sealed for the sandbox."""

    __tablename__ = "dataset_versions"
    __table_args__ = (UniqueConstraint("dataset_id", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    dataset_id: int = Field(foreign_key="datasets.id", index=True)
    version: int
    sha256: str = Field(max_length=64)  # of the plaintext Parquet, for receipts
    row_count: int
    size_bytes: int
    columns: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    storage_key: str = Field(max_length=200)  # path of the ciphertext inside the store
    sealed_key: str = Field(sa_column=Column(Text, nullable=False))  # base64 envelope, see core.crypto
    dictionary: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    # Computed in memory at upload (min/max, category values, identifier flags): the provider's own view of
    # its data, the only trace of plaintext the API process keeps. Never shown to anyone else.
    profile: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    changelog: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))  # for licensees
    created_at: datetime = ts_column()


class Listing(SQLModel, table=True):
    __tablename__ = "listings"
    id: int | None = Field(default=None, primary_key=True)
    dataset_id: int = Field(foreign_key="datasets.id", index=True)
    dataset_version_id: int = Field(foreign_key="dataset_versions.id")
    provider_org_id: int = Field(foreign_key="organizations.id", index=True)
    created_by: int = Field(foreign_key="users.id")
    title: str = Field(max_length=200)
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    keywords: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    sector: str = Field(default="", max_length=60)
    update_cycle: str = Field(default="", max_length=30)
    proposed_grade: str = Field(max_length=10)
    grade: str | None = Field(default=None, max_length=10)  # decided by the data office
    status: str = Field(default="draft", max_length=20, index=True)
    dp_policy: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    ceiling_price_minor: int | None = None  # fen; offers above it are refused
    approvals: int = 0  # approvals in the current review round
    submitted_by: int | None = None
    submitted_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    published_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    created_at: datetime = ts_column()
    # The approved, public dictionary: what the catalog shows and the sandbox enforces. The provider's
    # working copy lives on the dataset version and reaches a listing only through review.
    dictionary: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    proposed_version_id: int | None = Field(default=None, foreign_key="dataset_versions.id")
    proposed_dictionary: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    # A review round on a live listing (a new version, or a lower grade) runs beside its public state.
    revision_kind: str | None = Field(default=None, max_length=10)  # version | grade
    revision_status: str | None = Field(default=None, max_length=20, index=True)  # submitted | changes_requested
    revision_grade: str | None = Field(default=None, max_length=10)
    scenarios: list[str] = Field(default_factory=lambda: ["public_governance", "public_welfare", "industry"],
                                 sa_column=Column(JSON, nullable=False))  # permitted by the data office
    retired_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    # The authorization agreement (授权运营协议) the listing was submitted under; its end suspends the listing.
    agreement_id: int | None = Field(default=None, foreign_key="authorization_agreements.id", index=True)
    # Set by the data office: enterprises query this listing only through approved templates (sandbox.templates).
    templates_only: bool = False


class Offer(SQLModel, table=True):
    __tablename__ = "offers"
    id: int | None = Field(default=None, primary_key=True)
    listing_id: int = Field(foreign_key="listings.id", index=True)
    name: str = Field(max_length=100)
    scenario: str = Field(max_length=20)  # public_governance | public_welfare | industry
    price_minor: int = 0  # fen (minor units of `currency`)
    currency: str = Field(default="CNY", max_length=3)
    term_days: int
    epsilon_budget: float
    query_quota: int
    active: bool = True
    # Industry offers may also charge per released query (按次计费), in fen, within the same ceiling.
    price_per_query_minor: int = 0


class ListingReview(SQLModel, table=True):
    __tablename__ = "listing_reviews"
    id: int | None = Field(default=None, primary_key=True)
    listing_id: int = Field(foreign_key="listings.id", index=True)
    reviewer_id: int = Field(foreign_key="users.id")
    decision: str = Field(max_length=20)
    grade: str | None = Field(default=None, max_length=10)
    reason_code: str | None = Field(default=None, max_length=40)
    comment: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_at: datetime = ts_column()
    # The listing's editable fields as this review saw them: the next reviewer is shown what changed since.
    snapshot: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))


class ListingTransition(SQLModel, table=True):
    """One step of a listing's life: who (and in which role) moved it, with a reason code. Append-only."""

    __tablename__ = "listing_transitions"
    id: int | None = Field(default=None, primary_key=True)
    listing_id: int = Field(foreign_key="listings.id", index=True)
    action: str = Field(max_length=30)
    from_status: str = Field(max_length=20)
    to_status: str = Field(max_length=20)
    actor_user_id: int | None = Field(default=None, foreign_key="users.id")
    actor_role: str = Field(max_length=20)
    reason_code: str = Field(max_length=40)
    comment: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_at: datetime = ts_column()


class ListingSearchTerm(SQLModel, table=True):
    """The catalog's inverted index: Latin word stems and CJK characters and bigrams, per field."""

    __tablename__ = "listing_search_terms"
    listing_id: int = Field(foreign_key="listings.id", primary_key=True)
    term: str = Field(max_length=64, primary_key=True, index=True)
    field: str = Field(max_length=12, primary_key=True)
    weight: int


class Registration(SQLModel, table=True):
    """The public registration record (登记) of a published data product."""

    __tablename__ = "registrations"
    id: int | None = Field(default=None, primary_key=True)
    listing_id: int = Field(foreign_key="listings.id", unique=True)
    code: str = Field(max_length=32, unique=True)
    status: str = Field(default="active", max_length=20)  # notice | active | cancelled
    created_at: datetime = ts_column()
    # The public notice (公示) ends here; an objection still open keeps the record in notice. None: registered
    # before notices existed.
    notice_ends_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class RegistrationEvent(SQLModel, table=True):
    """initial | change | correction | cancellation, with a public summary. Append-only."""

    __tablename__ = "registration_events"
    id: int | None = Field(default=None, primary_key=True)
    registration_id: int = Field(foreign_key="registrations.id", index=True)
    kind: str = Field(max_length=20)
    reason_code: str = Field(max_length=40)
    summary: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    note: str = Field(default="", sa_column=Column(Text, nullable=False))
    actor_user_id: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = ts_column()


class Complaint(SQLModel, table=True):
    """A complaint (投诉) against a product or an objection (异议) to a registration, filed by anyone.

    The filer gets a random tracking code to read the reply without an account; the data office
    handles it once, with a reason code and a reply. Contact details are seen by the data office only."""

    __tablename__ = "complaints"
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=12)  # complaint | objection
    listing_id: int | None = Field(default=None, foreign_key="listings.id", index=True)
    registration_code: str | None = Field(default=None, max_length=32, index=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    contact: str = Field(default="", max_length=200)
    tracking_code: str = Field(max_length=32, unique=True)
    filed_by: int | None = Field(default=None, foreign_key="users.id")
    status: str = Field(default="open", max_length=12, index=True)  # open | handled
    decision: str | None = Field(default=None, max_length=12)  # upheld | dismissed
    reason_code: str | None = Field(default=None, max_length=40)
    reply: str = Field(default="", sa_column=Column(Text, nullable=False))
    handled_by: int | None = Field(default=None, foreign_key="users.id")
    handled_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    created_at: datetime = ts_column()


class SecurityReview(SQLModel, table=True):
    """A data security review (数据安全审查) of one dataset version, by the data office. Append-only: a later
    review supersedes an earlier one. An `important` listing is published only on a version whose latest
    review passed."""

    __tablename__ = "security_reviews"
    id: int | None = Field(default=None, primary_key=True)
    dataset_version_id: int = Field(foreign_key="dataset_versions.id", index=True)
    listing_id: int = Field(foreign_key="listings.id", index=True)
    reviewer_id: int = Field(foreign_key="users.id")
    risk_level: str = Field(max_length=10)  # low | medium | high
    findings: str = Field(sa_column=Column(Text, nullable=False))
    decision: str = Field(max_length=10)  # pass | fail
    created_at: datetime = ts_column()


class AuthorizationAgreement(SQLModel, table=True):
    """An authorization agreement (授权运营协议): the authorizing body lets an operator organization run the
    public data in its scope (provider departments, datasets or sectors) for a term, under conditions.

    A listing is submitted and published only within an active agreement that covers it. `status` is what
    the data office decided (active | revoked); a term that has passed makes it `expired` when read, and the
    sweep (`agreements.sweep`) then suspends its listings once and stamps `ended_at`."""

    __tablename__ = "authorization_agreements"
    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=200)
    authorizing_body: str = Field(max_length=200)  # 授权主体, e.g. 市人民政府
    operator_org_id: int = Field(foreign_key="organizations.id", index=True)
    departments: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))  # provider orgs
    datasets: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    sectors: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    starts_at: datetime = Field(sa_type=DateTime(timezone=True))
    ends_at: datetime = Field(sa_type=DateTime(timezone=True))  # exclusive: the day after the last day, CST
    conditions: str = Field(default="", sa_column=Column(Text, nullable=False))
    document_name: str = Field(default="", max_length=200)
    document_key: str | None = Field(default=None, max_length=200)  # in core.store
    document_sha256: str | None = Field(default=None, max_length=64)
    document_size: int = 0
    status: str = Field(default="active", max_length=10, index=True)  # active | revoked
    revoked_by: int | None = Field(default=None, foreign_key="users.id")
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    revoke_reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    ended_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # its end was acted on
    created_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = ts_column()
