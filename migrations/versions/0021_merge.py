"""Merge the branches of session 3: two-factor and single sign-on, open statistics, authorization agreements.

Revision ID: 0021_merge
"""
from collections.abc import Sequence

revision: str = "0021_merge"
down_revision: str | Sequence[str] | None = ("0018_auth", "0019_agreements", "0020_openstats")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
