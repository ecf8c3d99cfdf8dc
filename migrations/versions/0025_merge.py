"""Merge the branches of session 4: query templates, and SSO identities that can be unlinked.

Revision ID: 0025_merge
"""
from collections.abc import Sequence

revision: str = "0025_merge"
down_revision: str | Sequence[str] | None = ("0022_templates", "0024_sso")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
