"""market: approved dictionaries on listings, revision rounds, lifecycle log, catalog search terms,
upload profiles, registration records

Revision ID: 0002
Revises: 0001
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.append_only import drop_append_only, make_append_only

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("listing_transitions", "registration_events")
SCENARIOS_DEFAULT = '["public_welfare", "industry"]'


def _listings() -> None:
    with op.batch_alter_table("listings") as batch:
        batch.add_column(sa.Column("dictionary", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("proposed_version_id", sa.Integer(), sa.ForeignKey(
            "dataset_versions.id", name="fk_listings_proposed_version_id"), nullable=True))
        batch.add_column(sa.Column("proposed_dictionary", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("revision_kind", sa.String(10), nullable=True))
        batch.add_column(sa.Column("revision_status", sa.String(20), nullable=True))
        batch.add_column(sa.Column("revision_grade", sa.String(10), nullable=True))
        batch.add_column(sa.Column("scenarios", sa.JSON(), nullable=False, server_default=SCENARIOS_DEFAULT))
        batch.add_column(sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_listings_revision_status", ["revision_status"])
    # Listings reviewed before this revision enforced their version's dictionary: that is what was approved.
    op.execute("UPDATE listings SET dictionary = (SELECT dictionary FROM dataset_versions "
               "WHERE dataset_versions.id = listings.dataset_version_id) WHERE status <> 'draft'")
    with op.batch_alter_table("dataset_versions") as batch:
        batch.add_column(sa.Column("profile", sa.JSON(), nullable=True))


def _tables() -> None:
    op.create_table(
        "listing_transitions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("listing_id", sa.Integer(), sa.ForeignKey("listings.id"), nullable=False, index=True),
        sa.Column("action", sa.String(30), nullable=False),
        sa.Column("from_status", sa.String(20), nullable=False),
        sa.Column("to_status", sa.String(20), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("actor_role", sa.String(20), nullable=False),
        sa.Column("reason_code", sa.String(40), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "listing_search_terms",
        sa.Column("listing_id", sa.Integer(), sa.ForeignKey("listings.id"), primary_key=True),
        sa.Column("term", sa.String(64), primary_key=True, index=True),
        sa.Column("field", sa.String(12), primary_key=True),
        sa.Column("weight", sa.Integer(), nullable=False),
    )
    op.create_table(
        "registrations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("listing_id", sa.Integer(), sa.ForeignKey("listings.id"), nullable=False, unique=True),
        sa.Column("code", sa.String(32), nullable=False, unique=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "registration_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("registration_id", sa.Integer(), sa.ForeignKey("registrations.id"), nullable=False, index=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("reason_code", sa.String(40), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def _index_existing() -> None:
    """Fill the search table for listings that exist already (new ones are indexed by the service)."""
    from market.search import document_terms

    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT l.id, l.title, l.description, l.keywords, l.sector, l.dictionary, o.name AS provider "
        "FROM listings l JOIN organizations o ON o.id = l.provider_org_id")).mappings().all()
    table = sa.table("listing_search_terms", sa.column("listing_id"), sa.column("term"), sa.column("field"),
                     sa.column("weight"))
    for row in rows:
        terms = document_terms(row["title"], row["description"], _json(row["keywords"]) or [], row["sector"],
                               row["provider"], _json(row["dictionary"]))
        if terms:
            op.bulk_insert(table, [{"listing_id": row["id"], "term": t, "field": f, "weight": w}
                                   for (t, f), w in terms.items()])


def _json(value: object) -> object:
    import json

    return json.loads(value) if isinstance(value, str) else value


def upgrade() -> None:
    _listings()
    _tables()
    make_append_only(APPEND_ONLY)
    _index_existing()


def downgrade() -> None:
    drop_append_only(APPEND_ONLY)
    for table in ("registration_events", "registrations", "listing_search_terms", "listing_transitions"):
        op.drop_table(table)
    with op.batch_alter_table("dataset_versions") as batch:
        batch.drop_column("profile")
    with op.batch_alter_table("listings") as batch:
        batch.drop_index("ix_listings_revision_status")
        for column in ("retired_at", "scenarios", "revision_grade", "revision_status", "revision_kind",
                       "proposed_dictionary", "proposed_version_id", "dictionary"):
            batch.drop_column(column)
