"""Exact privacy budgets and a finite loss per dataset version.

ε moves to integer micro-units and δ to integer atto-units (floats summed in SQL drifted past their
caps); the cap rows are keyed by budget version (the first version holding the same data); stored DP
policies lose the old default enterprise cap (20) and any null global cap, so the grade's finite
defaults apply when a policy is read.

Revision ID: 0007_policy
Revises: 0006
"""
from collections.abc import Sequence
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0007_policy"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MICRO, ATTO = 10**6, 10**18


def _units(value: Any, scale: int, up: bool) -> int:
    """As `market.policy` rounds (copied: a migration must not change when the code does)."""
    exact = Decimal(str(float(value or 0.0))) * scale
    nearest = exact.to_integral_value(rounding=ROUND_HALF_EVEN)
    if abs(exact - nearest) <= Decimal("1e-6"):  # float noise on a decimal amount
        return int(nearest)
    return int(exact.to_integral_value(rounding=ROUND_CEILING if up else ROUND_FLOOR))


def _big(name: str) -> sa.Column[Any]:
    return sa.Column(name, sa.BigInteger(), nullable=False, server_default="0")


def upgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table("licenses") as batch:
        batch.add_column(_big("epsilon_budget_micro"))
        batch.add_column(_big("epsilon_spent_micro"))
        batch.add_column(_big("delta_spent_atto"))
    for id_, budget, spent, delta in bind.execute(sa.text(
            "SELECT id, epsilon_budget, epsilon_spent, delta_spent FROM licenses")).all():
        budget_units = _units(budget, MICRO, up=False)
        bind.execute(sa.text("UPDATE licenses SET epsilon_budget_micro = :b, epsilon_spent_micro = :s, "
                             "delta_spent_atto = :d WHERE id = :id"),
                     {"b": budget_units, "s": min(_units(spent, MICRO, up=False), budget_units),
                      "d": _units(delta, ATTO, up=True), "id": id_})
    with op.batch_alter_table("licenses") as batch:
        batch.drop_constraint("ck_license_budget", type_="check")
        batch.drop_column("epsilon_budget")
        batch.drop_column("epsilon_spent")
        batch.drop_column("delta_spent")
        batch.create_check_constraint("ck_license_budget_exact", "epsilon_spent_micro <= epsilon_budget_micro")

    with op.batch_alter_table("epsilon_caps") as batch:
        batch.add_column(_big("spent_micro"))
        batch.add_column(_big("delta_spent_atto"))
        batch.add_column(sa.Column("budget_version_id", sa.Integer(), nullable=True))
    latest = dict(bind.execute(sa.text(
        "SELECT v.dataset_id, MIN(w.id) FROM dataset_versions v JOIN dataset_versions w "
        "ON w.dataset_id = v.dataset_id AND w.sha256 = v.sha256 "
        "WHERE v.version = (SELECT MAX(x.version) FROM dataset_versions x WHERE x.dataset_id = v.dataset_id) "
        "GROUP BY v.dataset_id")).all())
    for id_, key, dataset_id, spent in bind.execute(sa.text(
            "SELECT id, scope_key, dataset_id, spent FROM epsilon_caps")).all():
        # Spending on earlier versions is carried to the latest data's budget: stricter, never looser.
        version = latest.get(dataset_id)
        bind.execute(sa.text("UPDATE epsilon_caps SET spent_micro = :s, budget_version_id = :v, scope_key = :k "
                             "WHERE id = :id"),
                     {"s": _units(spent, MICRO, up=True), "v": version, "k": f"{key}:{version}", "id": id_})
    with op.batch_alter_table("epsilon_caps") as batch:
        batch.drop_constraint("ck_epsilon_cap_nonnegative", type_="check")
        batch.drop_column("spent")
        batch.create_check_constraint("ck_epsilon_cap_units", "spent_micro >= 0 AND delta_spent_atto >= 0")
        batch.create_foreign_key("fk_epsilon_caps_budget_version", "dataset_versions", ["budget_version_id"], ["id"])

    _rewrite_policies(bind, _finite)


def _finite(policy: dict[str, Any]) -> dict[str, Any]:
    """Drop what made a cap unbounded or too loose: a null global cap and the old default enterprise cap."""
    policy = dict(policy)
    if policy.get("global_epsilon_cap") is None:
        policy.pop("global_epsilon_cap", None)
    if policy.get("enterprise_epsilon_cap") in (None, 20.0):
        policy.pop("enterprise_epsilon_cap", None)
    return policy


def _rewrite_policies(bind: Any, change: Any) -> None:
    listings = sa.table("listings", sa.column("id", sa.Integer()), sa.column("dp_policy", sa.JSON()))
    for id_, policy in bind.execute(sa.select(listings.c.id, listings.c.dp_policy)).all():
        bind.execute(sa.update(listings).where(listings.c.id == id_).values(dp_policy=change(policy or {})))


def downgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table("epsilon_caps") as batch:
        batch.drop_constraint("fk_epsilon_caps_budget_version", type_="foreignkey")
        batch.drop_constraint("ck_epsilon_cap_units", type_="check")
        batch.add_column(sa.Column("spent", sa.Float(), nullable=False, server_default="0"))
    bind.execute(sa.text(f"UPDATE epsilon_caps SET spent = spent_micro / {float(MICRO)}"))
    for id_, key in bind.execute(sa.text("SELECT id, scope_key FROM epsilon_caps")).all():
        bind.execute(sa.text("UPDATE epsilon_caps SET scope_key = :k WHERE id = :id"),
                     {"k": key.rsplit(":", 1)[0], "id": id_})
    with op.batch_alter_table("epsilon_caps") as batch:
        batch.drop_column("spent_micro")
        batch.drop_column("delta_spent_atto")
        batch.drop_column("budget_version_id")
        batch.create_check_constraint("ck_epsilon_cap_nonnegative", "spent >= 0")

    with op.batch_alter_table("licenses") as batch:
        batch.drop_constraint("ck_license_budget_exact", type_="check")
        batch.add_column(sa.Column("epsilon_budget", sa.Float(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("epsilon_spent", sa.Float(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("delta_spent", sa.Float(), nullable=False, server_default="0"))
    bind.execute(sa.text(f"UPDATE licenses SET epsilon_budget = epsilon_budget_micro / {float(MICRO)}, "
                         f"epsilon_spent = epsilon_spent_micro / {float(MICRO)}, "
                         f"delta_spent = delta_spent_atto / {float(ATTO)}"))
    with op.batch_alter_table("licenses") as batch:
        batch.drop_column("epsilon_budget_micro")
        batch.drop_column("epsilon_spent_micro")
        batch.drop_column("delta_spent_atto")
        batch.create_check_constraint("ck_license_budget", "epsilon_spent <= epsilon_budget + 1e-9")
