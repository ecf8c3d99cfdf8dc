"""Query templates (查询模板): SQL with typed parameters that the data office approves per listing.

An enterprise fills the parameters; the office approved the shape. A listing may require them
(`listings.templates_only`), and a query run names the template version it came from.

Revision ID: 0022_templates
Revises: 0021_merge
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_templates"
down_revision: str | Sequence[str] | None = "0021_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "query_templates",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("listing_id", sa.Integer(), sa.ForeignKey("listings.id"), nullable=False, index=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("name_en", sa.String(200), nullable=False, server_default=""),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("description_en", sa.Text(), nullable=False, server_default=""),
        sa.Column("sql", sa.Text(), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("example", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("approvals", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("proposed_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("listing_id", "name", "version", name="uq_query_template_version"),
    )
    op.create_table(
        "query_template_reviews",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("template_id", sa.Integer(), sa.ForeignKey("query_templates.id"), nullable=False, index=True),
        sa.Column("reviewer_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("reason_code", sa.String(60), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("listings") as batch:
        batch.add_column(sa.Column("templates_only", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("query_runs") as batch:
        batch.add_column(sa.Column("template_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_query_runs_template", "query_templates", ["template_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("query_runs") as batch:
        batch.drop_constraint("fk_query_runs_template", type_="foreignkey")
        batch.drop_column("template_id")
    with op.batch_alter_table("listings") as batch:
        batch.drop_column("templates_only")
    op.drop_table("query_template_reviews")
    op.drop_table("query_templates")
