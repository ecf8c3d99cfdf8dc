"""Merge the branches of session 2: policy, journeys, reliability, nodes, analyst, ops, rules.

Revision ID: 0016_merge
"""
from collections.abc import Sequence

revision: str = "0016_merge"
down_revision: str | Sequence[str] | None = (
    "0007_policy", "0010_journeys", "0011_reliability", "0012_nodes", "0013_analyst", "0014_ops", "0015_rules")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
