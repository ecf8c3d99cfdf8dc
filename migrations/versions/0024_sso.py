"""Single sign-on, part two: a person can unlink an identity (kept, marked, so it cannot re-link itself by email),
and a session remembers the identity it came from (to end the provider's session on sign-out, and to end the
sessions an unlinked identity opened).

Revision ID: 0024_sso
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024_sso"
down_revision: str | Sequence[str] | None = "0021_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("oidc_identities") as batch:
        batch.add_column(sa.Column("unlinked_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("credentials") as batch:
        batch.add_column(sa.Column("sso_identity_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("credentials") as batch:
        batch.drop_column("sso_identity_id")
    with op.batch_alter_table("oidc_identities") as batch:
        batch.drop_column("unlinked_at")
