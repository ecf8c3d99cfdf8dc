"""The privacy budget: a licence's ε, an enterprise's cap per dataset, and an optional cap per dataset.

A reservation is three conditional UPDATEs in the caller's transaction — the licence, then the
enterprise's cap row, then the dataset's global row — each `WHERE spent + ε <= cap`, so concurrent
queries can never overspend any of them (PostgreSQL re-evaluates the condition on the locked row;
SQLite serializes writers). If a later one refuses, the earlier ones are given back in the same
transaction before the refusal is raised, so a reservation is all or nothing even for a caller that
keeps its session going. The caps come from the listing's current DP policy at every reservation.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from core.errors import NotFound
from core.models import utcnow
from licensing.errors import BudgetExhausted, LicenseNotActive, QuotaExhausted
from licensing.models import EpsilonCap, License
from market.service import listings as listing_service

EPS_TOLERANCE = 1e-9
DEFAULT_ENTERPRISE_CAP = 20.0


def _sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def _floor_zero(session: Session, value: Any) -> Any:
    return func.max(value, 0.0) if _sqlite(session) else func.greatest(value, 0.0)


def _keys(organization_id: int, dataset_id: int) -> tuple[str, str]:
    return f"enterprise:{organization_id}:{dataset_id}", f"global:{dataset_id}"


def _ensure_rows(session: Session, organization_id: int, dataset_id: int) -> None:
    enterprise, everyone = _keys(organization_id, dataset_id)
    insert = sqlite_insert if _sqlite(session) else pg_insert
    rows = [{"scope_key": enterprise, "scope": "enterprise", "dataset_id": dataset_id,
             "organization_id": organization_id, "spent": 0.0},
            {"scope_key": everyone, "scope": "global", "dataset_id": dataset_id, "organization_id": None, "spent": 0.0}]
    for row in rows:
        session.execute(insert(EpsilonCap).values(**row).on_conflict_do_nothing(index_elements=["scope_key"]))


def _charge_licence(session: Session, license_id: int, epsilon: float, delta: float, delta_budget: float) -> bool:
    result = session.execute(update(License).where(
        col(License.id) == license_id, col(License.status) == "active", col(License.expires_at) > utcnow(),
        col(License.epsilon_spent) + epsilon <= col(License.epsilon_budget) + EPS_TOLERANCE,
        col(License.delta_spent) + delta <= delta_budget * (1 + EPS_TOLERANCE),
        col(License.queries_used) < col(License.query_quota),
    ).values(epsilon_spent=col(License.epsilon_spent) + epsilon, delta_spent=col(License.delta_spent) + delta,
             queries_used=col(License.queries_used) + 1))
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _give_back_licence(session: Session, license_id: int, epsilon: float, delta: float = 0.0) -> None:
    session.execute(update(License).where(col(License.id) == license_id).values(
        epsilon_spent=_floor_zero(session, col(License.epsilon_spent) - epsilon),
        delta_spent=_floor_zero(session, col(License.delta_spent) - delta),
        queries_used=col(License.queries_used) - 1))


def delta_budget_of(policy: dict[str, Any]) -> float:
    """The δ one licence may spend in all: the policy's delta_budget, else 10 queries' worth, else none."""
    if policy.get("delta_budget"):
        return float(policy["delta_budget"])
    return 10 * float(policy.get("unknown_keys_delta") or 0.0)


def _charge_cap(session: Session, key: str, epsilon: float, cap: float | None) -> bool:
    """Spend on a cap row; with no cap the spending is still counted, so a cap set later sees all of it."""
    statement = update(EpsilonCap).where(col(EpsilonCap.scope_key) == key)
    if cap is not None:
        statement = statement.where(col(EpsilonCap.spent) + epsilon <= cap + EPS_TOLERANCE)
    result = session.execute(statement.values(spent=col(EpsilonCap.spent) + epsilon))
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _give_back_cap(session: Session, key: str, epsilon: float) -> None:
    session.execute(update(EpsilonCap).where(col(EpsilonCap.scope_key) == key).values(
        spent=_floor_zero(session, col(EpsilonCap.spent) - epsilon)))


def _spent(session: Session, key: str) -> float:
    spent = session.exec(select(EpsilonCap.spent).where(EpsilonCap.scope_key == key)).first()
    return float(spent or 0.0)


def caps_of(policy: dict[str, Any]) -> tuple[float, float | None]:
    """The enterprise cap (always set; 20 by default) and the global cap (optional) of a DP policy."""
    enterprise = policy.get("enterprise_epsilon_cap")
    everyone = policy.get("global_epsilon_cap")
    return (float(enterprise) if enterprise else DEFAULT_ENTERPRISE_CAP), (float(everyone) if everyone else None)


def reserve(session: Session, license_id: int, epsilon: float, delta: float = 0.0) -> None:
    """Charge ε (and δ) and one query on the licence, the enterprise's cap and the dataset's cap, or none of them."""
    licence = _licence(session, license_id)
    target = listing_service.query_target(session, licence.listing_id)
    dataset_id = licence.dataset_id or target.dataset_id
    if not _charge_licence(session, license_id, epsilon, delta, delta_budget_of(target.dp_policy)):
        _explain_licence_refusal(session, license_id, epsilon, delta, delta_budget_of(target.dp_policy))
    enterprise_key, global_key = _keys(licence.organization_id, dataset_id)
    enterprise_cap, global_cap = caps_of(target.dp_policy)
    _ensure_rows(session, licence.organization_id, dataset_id)
    if not _charge_cap(session, enterprise_key, epsilon, enterprise_cap):
        _give_back_licence(session, license_id, epsilon, delta)
        left = max(0.0, enterprise_cap - _spent(session, enterprise_key))
        raise BudgetExhausted(
            f"This query costs ε={epsilon:.4g} but your organization has only ε={left:.4g} left of its cap of "
            f"ε={enterprise_cap:g} on this dataset across all its licences; more licences do not raise it",
            zh=f"本次查询需 ε={epsilon:.4g}，但贵单位在该数据集上的 ε 总上限为 {enterprise_cap:g}（跨所有许可），"
               f"仅剩 ε={left:.4g}；增购许可不会提高该上限",
            epsilon_remaining=left, cap="enterprise")
    if not _charge_cap(session, global_key, epsilon, global_cap):
        _give_back_licence(session, license_id, epsilon, delta)
        _give_back_cap(session, enterprise_key, epsilon)
        left = max(0.0, (global_cap or 0.0) - _spent(session, global_key))
        raise BudgetExhausted(
            f"This query costs ε={epsilon:.4g} but only ε={left:.4g} is left of the dataset's global cap of "
            f"ε={global_cap:g} shared by all licensees",
            zh=f"本次查询需 ε={epsilon:.4g}，但该数据集所有被许可方共用的 ε 总上限 {global_cap:g} 仅剩 ε={left:.4g}",
            epsilon_remaining=left, cap="global")


def _licence(session: Session, license_id: int) -> License:
    licence = session.get(License, license_id)
    if licence is None:
        raise NotFound(f"No licence {license_id}")
    return licence


def _explain_licence_refusal(session: Session, license_id: int, epsilon: float, delta: float,
                             delta_budget: float) -> None:
    from licensing.service.licenses import effective_status

    licence = _licence(session, license_id)
    session.refresh(licence)
    status = effective_status(licence)
    if status != "active":
        raise LicenseNotActive(f"Licence {license_id} is {status}; queries need an active licence",
                               zh=f"许可 {license_id} 当前状态为 {status}，只有生效中的许可才能查询")
    if licence.queries_used >= licence.query_quota:
        raise QuotaExhausted(f"All {licence.query_quota} queries of this licence are used",
                             zh=f"该许可的 {licence.query_quota} 次查询额度已用完")
    if licence.delta_spent + delta > delta_budget * (1 + EPS_TOLERANCE):
        raise BudgetExhausted(
            f"This query groups by keys that are not public and costs δ={delta:.2g}, but the licence has spent "
            f"δ={licence.delta_spent:.2g} of its δ={delta_budget:.2g}: group by dimensions with public keys instead",
            zh=f"按非公开取值分组的查询需 δ={delta:.2g}，该许可已用 δ={licence.delta_spent:.2g}（上限 "
               f"{delta_budget:.2g}）：请改按有公开取值的维度分组",
            cap="delta")
    left = max(0.0, licence.epsilon_budget - licence.epsilon_spent)
    raise BudgetExhausted(f"This query costs ε={epsilon:.4g} but only ε={left:.4g} of the licence's budget is left",
                          zh=f"本次查询需 ε={epsilon:.4g}，但该许可的隐私预算仅剩 ε={left:.4g}",
                          epsilon_remaining=left, cap="licence")


def refund(session: Session, license_id: int, epsilon: float, delta: float = 0.0) -> None:
    """Give back a reservation whose query failed before any noisy value existed: on every budget it used.

    Never fails on the listing's state (it may have been suspended meanwhile): the dataset is on the licence."""
    _give_back_licence(session, license_id, epsilon, delta)
    licence = _licence(session, license_id)
    dataset_id = licence.dataset_id or listing_service.query_target(session, licence.listing_id).dataset_id
    for key in _keys(licence.organization_id, dataset_id):
        _give_back_cap(session, key, epsilon)


def cap_usage(session: Session, organization_id: int, dataset_id: int) -> tuple[float, float]:
    """ε spent on a dataset by one enterprise, and by everyone."""
    enterprise, everyone = _keys(organization_id, dataset_id)
    return _spent(session, enterprise), _spent(session, everyone)
