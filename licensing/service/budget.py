"""The privacy budget: a licence's ε and δ, an enterprise's caps per dataset version, and the dataset's own.

A reservation is three conditional UPDATEs in the caller's transaction — the licence, then the
enterprise's cap row, then the dataset's global row — each `WHERE spent + cost <= cap`, so concurrent
queries can never overspend any of them (PostgreSQL re-evaluates the condition on the locked row;
SQLite serializes writers). If a later one refuses, the earlier ones are given back in the same
transaction before the refusal is raised, so a reservation is all or nothing even for a caller that
keeps its session going. The caps come from the listing's policy in force, read once per reservation.

Amounts are integers — ε in micro-units, δ in atto-units (`market.policy`) — because float sums drift:
forty charges of 0.1 against 2.0 once spent 2.0000000000000004. With integers `spent <= cap` is exact,
in the database's own arithmetic, on SQLite and PostgreSQL alike.

The cap rows are keyed by *budget version*: the first version of the dataset with the same data. A new
upload of unchanged data keeps drawing on the old counters; only changed data opens fresh ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from core.errors import NotFound
from core.models import Organization, utcnow
from licensing.errors import BudgetExhausted, LicenseNotActive, QuotaExhausted
from licensing.models import EpsilonCap, License
from licensing.schemas import DatasetBudgetRead, EnterpriseUsage
from market.policy import DpPolicy, delta_of, delta_units, epsilon_of, epsilon_units
from market.service import listings as listing_service


@dataclass(frozen=True)
class Charge:
    """One reservation, in units: ε micro, δ atto."""

    epsilon: int
    delta: int

    @classmethod
    def of(cls, epsilon: float, delta: float) -> Charge:
        return cls(epsilon_units(epsilon), delta_units(delta) if delta > 0 else 0)


@dataclass(frozen=True)
class Caps:
    """The caps in force for one reservation, in units, from the listing's policy read once."""

    enterprise_epsilon: int
    global_epsilon: int
    licence_delta: int
    enterprise_delta: int
    global_delta: int

    @classmethod
    def of(cls, policy: DpPolicy, grade: str, row_bound: int) -> Caps:
        return cls(enterprise_epsilon=epsilon_units(policy.enterprise_cap, up=False),
                   global_epsilon=epsilon_units(policy.global_cap, up=False),
                   licence_delta=delta_units(policy.licence_delta(grade, row_bound), up=False),
                   enterprise_delta=delta_units(policy.enterprise_delta(row_bound), up=False),
                   global_delta=delta_units(policy.global_delta(row_bound), up=False))


# The UPDATEs below are the truth; rows loaded in the session are refreshed where they are read again.
_NO_SYNC = {"synchronize_session": False}


def _sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def _floor_zero(session: Session, value: Any) -> Any:
    return func.max(value, 0) if _sqlite(session) else func.greatest(value, 0)


def _keys(organization_id: int, dataset_id: int, budget_version_id: int) -> tuple[str, str]:
    return (f"enterprise:{organization_id}:{dataset_id}:{budget_version_id}",
            f"global:{dataset_id}:{budget_version_id}")


def _ensure_rows(session: Session, organization_id: int, dataset_id: int, budget_version_id: int) -> None:
    enterprise, everyone = _keys(organization_id, dataset_id, budget_version_id)
    insert = sqlite_insert if _sqlite(session) else pg_insert
    common: dict[str, Any] = {"dataset_id": dataset_id, "budget_version_id": budget_version_id, "spent_micro": 0,
              "delta_spent_atto": 0}
    rows = [{"scope_key": enterprise, "scope": "enterprise", "organization_id": organization_id, **common},
            {"scope_key": everyone, "scope": "global", "organization_id": None, **common}]
    for row in rows:
        session.execute(insert(EpsilonCap).values(**row).on_conflict_do_nothing(index_elements=["scope_key"]))


def _charge_licence(session: Session, license_id: int, charge: Charge, delta_cap: int) -> bool:
    result = session.execute(update(License).where(
        col(License.id) == license_id, col(License.status) == "active", col(License.expires_at) > utcnow(),
        col(License.epsilon_spent_micro) + charge.epsilon <= col(License.epsilon_budget_micro),
        col(License.delta_spent_atto) + charge.delta <= delta_cap,
        col(License.queries_used) < col(License.query_quota),
    ).values(epsilon_spent_micro=col(License.epsilon_spent_micro) + charge.epsilon,
             delta_spent_atto=col(License.delta_spent_atto) + charge.delta,
             queries_used=col(License.queries_used) + 1), execution_options=_NO_SYNC)
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _give_back_licence(session: Session, license_id: int, charge: Charge) -> None:
    session.execute(update(License).where(col(License.id) == license_id).values(
        epsilon_spent_micro=_floor_zero(session, col(License.epsilon_spent_micro) - charge.epsilon),
        delta_spent_atto=_floor_zero(session, col(License.delta_spent_atto) - charge.delta),
        queries_used=col(License.queries_used) - 1), execution_options=_NO_SYNC)


def _charge_cap(session: Session, key: str, charge: Charge, epsilon_cap: int, delta_cap: int) -> str | None:
    """Spend on a cap row; None when charged, else which of ε and δ refused."""
    result = session.execute(update(EpsilonCap).where(
        col(EpsilonCap.scope_key) == key,
        col(EpsilonCap.spent_micro) + charge.epsilon <= epsilon_cap,
        col(EpsilonCap.delta_spent_atto) + charge.delta <= delta_cap,
    ).values(spent_micro=col(EpsilonCap.spent_micro) + charge.epsilon,
             delta_spent_atto=col(EpsilonCap.delta_spent_atto) + charge.delta), execution_options=_NO_SYNC)
    if result.rowcount == 1:  # type: ignore[attr-defined]
        return None
    row = _row(session, key)
    return "delta" if row is not None and row.spent_micro + charge.epsilon <= epsilon_cap else "epsilon"


def _give_back_cap(session: Session, key: str, charge: Charge) -> None:
    session.execute(update(EpsilonCap).where(col(EpsilonCap.scope_key) == key).values(
        spent_micro=_floor_zero(session, col(EpsilonCap.spent_micro) - charge.epsilon),
        delta_spent_atto=_floor_zero(session, col(EpsilonCap.delta_spent_atto) - charge.delta)),
        execution_options=_NO_SYNC)


def _row(session: Session, key: str) -> EpsilonCap | None:
    row = session.exec(select(EpsilonCap).where(EpsilonCap.scope_key == key)).first()
    if row is not None:
        session.refresh(row)
    return row


def _spent(session: Session, key: str) -> int:
    spent = session.exec(select(EpsilonCap.spent_micro).where(EpsilonCap.scope_key == key)).first()
    return int(spent or 0)


def reserve(session: Session, license_id: int, epsilon: float, delta: float = 0.0) -> None:
    """Charge ε (and δ) and one query on the licence, the enterprise's caps and the dataset's caps, or none."""
    licence = _licence(session, license_id)
    target = listing_service.query_target(session, licence.listing_id)
    caps = Caps.of(target.dp_policy, target.grade, target.row_bound)
    charge = Charge.of(epsilon, delta)
    dataset_id = licence.dataset_id or target.dataset_id
    if not _charge_licence(session, license_id, charge, caps.licence_delta):
        _explain_licence_refusal(session, license_id, charge, caps.licence_delta)
    enterprise_key, global_key = _keys(licence.organization_id, dataset_id, target.budget_version_id)
    _ensure_rows(session, licence.organization_id, dataset_id, target.budget_version_id)
    refused = _charge_cap(session, enterprise_key, charge, caps.enterprise_epsilon, caps.enterprise_delta)
    if refused is not None:
        _give_back_licence(session, license_id, charge)
        _refuse_enterprise(session, enterprise_key, charge, caps, refused)
    refused = _charge_cap(session, global_key, charge, caps.global_epsilon, caps.global_delta)
    if refused is not None:
        _give_back_licence(session, license_id, charge)
        _give_back_cap(session, enterprise_key, charge)
        _refuse_global(session, global_key, charge, caps, refused)


def _refuse_enterprise(session: Session, key: str, charge: Charge, caps: Caps, refused: str) -> None:
    if refused == "delta":
        raise BudgetExhausted(
            "This query groups by keys that are not public and needs δ, but your organization has spent its δ "
            "cap on this dataset across all its licences: group by dimensions with public keys instead",
            zh="按非公开取值分组的查询需要 δ，但贵单位在该数据集上的 δ 总上限（跨所有许可）已用完："
               "请改按有公开取值的维度分组",
            cap="enterprise-delta")
    eps, cap = epsilon_of(charge.epsilon), epsilon_of(caps.enterprise_epsilon)
    left = epsilon_of(max(0, caps.enterprise_epsilon - _spent(session, key)))
    raise BudgetExhausted(
        f"This query costs ε={eps:.6g} but your organization has only ε={left:.6g} left of its cap of "
        f"ε={cap:g} on this dataset across all its licences; more licences do not raise it",
        zh=f"本次查询需 ε={eps:.6g}，但贵单位在该数据集上的 ε 总上限为 {cap:g}（跨所有许可），"
           f"仅剩 ε={left:.6g}；增购许可不会提高该上限",
        epsilon_remaining=left, cap="enterprise")


def _refuse_global(session: Session, key: str, charge: Charge, caps: Caps, refused: str) -> None:
    if refused == "delta":
        raise BudgetExhausted(
            "This query groups by keys that are not public and needs δ, but the dataset's δ cap shared by all "
            "licensees is spent: group by dimensions with public keys instead",
            zh="按非公开取值分组的查询需要 δ，但该数据集所有被许可方共用的 δ 总上限已用完："
               "请改按有公开取值的维度分组",
            cap="global-delta")
    eps, cap = epsilon_of(charge.epsilon), epsilon_of(caps.global_epsilon)
    left = epsilon_of(max(0, caps.global_epsilon - _spent(session, key)))
    if left == 0:
        raise BudgetExhausted(
            f"The dataset's privacy budget is spent: all ε={cap:g} that its data may ever lose, shared by every "
            "licensee, has been used, so no more queries run on this version of the data",
            zh=f"该数据集的隐私预算已用尽：所有被许可方共用的 ε 总上限 {cap:g} 已全部用完，该版本数据不再接受查询",
            epsilon_remaining=0.0, cap="global")
    raise BudgetExhausted(
        f"This query costs ε={eps:.6g} but only ε={left:.6g} is left of the dataset's global cap of "
        f"ε={cap:g} shared by all licensees",
        zh=f"本次查询需 ε={eps:.6g}，但该数据集所有被许可方共用的 ε 总上限 {cap:g} 仅剩 ε={left:.6g}",
        epsilon_remaining=left, cap="global")


def _licence(session: Session, license_id: int) -> License:
    licence = session.get(License, license_id)
    if licence is None:
        raise NotFound(f"No licence {license_id}")
    return licence


def _explain_licence_refusal(session: Session, license_id: int, charge: Charge, delta_cap: int) -> None:
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
    if licence.delta_spent_atto + charge.delta > delta_cap:
        delta, spent, cap = delta_of(charge.delta), licence.delta_spent, delta_of(delta_cap)
        raise BudgetExhausted(
            f"This query groups by keys that are not public and costs δ={delta:.2g}, but the licence has spent "
            f"δ={spent:.2g} of its δ={cap:.2g}: group by dimensions with public keys instead",
            zh=f"按非公开取值分组的查询需 δ={delta:.2g}，该许可已用 δ={spent:.2g}（上限 "
               f"{cap:.2g}）：请改按有公开取值的维度分组",
            cap="delta")
    eps, left = epsilon_of(charge.epsilon), licence.epsilon_remaining
    raise BudgetExhausted(f"This query costs ε={eps:.6g} but only ε={left:.6g} of the licence's budget is left",
                          zh=f"本次查询需 ε={eps:.6g}，但该许可的隐私预算仅剩 ε={left:.6g}",
                          epsilon_remaining=left, cap="licence")


def refund(session: Session, license_id: int, epsilon: float, delta: float = 0.0) -> None:
    """Give back a reservation whose query failed before any noisy value existed: on every budget it used.

    Never fails on the listing's state (it may have been suspended meanwhile)."""
    charge = Charge.of(epsilon, delta)
    _give_back_licence(session, license_id, charge)
    licence = _licence(session, license_id)
    scope = listing_service.budget_scope(session, licence.listing_id)
    for key in _keys(licence.organization_id, licence.dataset_id or scope.dataset_id, scope.budget_version_id):
        _give_back_cap(session, key, charge)


def reserve_open_statistics(session: Session, listing_id: int, epsilons: Sequence[float]) -> tuple[int, int]:
    """Charge the data office's open statistics (数据社会化) on the dataset version's global cap only: the whole
    set at once, or nothing. No licence and no enterprise cap take part — the tables are everyone's — but every
    licensee's queries draw on the same total, which is what bounds the data's loss. Returns the dataset and
    budget version charged, so a failed table is given back where it was taken."""
    scope = listing_service.budget_scope(session, listing_id)
    cap = epsilon_units(scope.policy.global_cap, up=False)
    charge = Charge(sum(epsilon_units(e) for e in epsilons), 0)
    key = _keys(0, scope.dataset_id, scope.budget_version_id)[1]
    insert = sqlite_insert if _sqlite(session) else pg_insert
    session.execute(insert(EpsilonCap).values(
        scope_key=key, scope="global", organization_id=None, dataset_id=scope.dataset_id,
        budget_version_id=scope.budget_version_id, spent_micro=0, delta_spent_atto=0,
    ).on_conflict_do_nothing(index_elements=["scope_key"]))
    if _charge_cap(session, key, charge, cap, 0) is not None:
        total, left = epsilon_of(charge.epsilon), epsilon_of(max(0, cap - _spent(session, key)))
        raise BudgetExhausted(
            f"These tables cost ε={total:.6g} together but only ε={left:.6g} is left of the dataset's global cap "
            f"of ε={scope.policy.global_cap:g}: publish fewer tables or spend less ε on each",
            zh=f"这些统计表共需 ε={total:.6g}，但该数据集的 ε 总上限 {scope.policy.global_cap:g} 仅剩 "
               f"ε={left:.6g}：请减少统计表数量或降低每张表的 ε",
            epsilon_remaining=left, cap="global")
    return scope.dataset_id, scope.budget_version_id


def refund_open_statistics(session: Session, dataset_id: int, budget_version_id: int, epsilon: float) -> None:
    """Give back one open-statistics table that failed before it touched the data, to the cap it was taken from."""
    _give_back_cap(session, _keys(0, dataset_id, budget_version_id)[1], Charge.of(epsilon, 0.0))


def cap_usage(session: Session, organization_id: int, listing_id: int) -> tuple[float, float]:
    """ε spent on a listing's dataset version by one enterprise, and by everyone."""
    scope = listing_service.budget_scope(session, listing_id)
    enterprise, everyone = _keys(organization_id, scope.dataset_id, scope.budget_version_id)
    return epsilon_of(_spent(session, enterprise)), epsilon_of(_spent(session, everyone))


def dataset_remaining(session: Session, listing_id: int) -> float:
    """ε left of the listing's global cap on its dataset version (shared by every licensee)."""
    scope = listing_service.budget_scope(session, listing_id)
    cap = epsilon_units(scope.policy.global_cap, up=False)
    return epsilon_of(max(0, cap - _spent(session, _keys(0, scope.dataset_id, scope.budget_version_id)[1])))


def enterprise_remaining(session: Session, organization_id: int, listing_id: int) -> float:
    """ε one enterprise has left of its cap on the listing's dataset version."""
    scope = listing_service.budget_scope(session, listing_id)
    cap = epsilon_units(scope.policy.enterprise_cap, up=False)
    return epsilon_of(max(0, cap - _spent(session, _keys(organization_id, scope.dataset_id,
                                                               scope.budget_version_id)[0])))


def check_open(session: Session, organization_id: int, listing_id: int, offer_name: str,
               offer_epsilon: float) -> None:
    """Ordering closes when the dataset's budget is spent, and an offer above the caps is never sold."""
    scope = listing_service.budget_scope(session, listing_id)
    if offer_epsilon > scope.policy.enterprise_cap:
        cap = scope.policy.enterprise_cap
        raise BudgetExhausted(
            f"The offer {offer_name!r} carries ε={offer_epsilon:g}, more than one enterprise may spend on this "
            f"dataset (ε={cap:g}): it cannot be ordered until the provider lowers it",
            zh=f"报价“{offer_name}”的 ε 预算 {offer_epsilon:g} 超过单个企业在该数据集上的 ε 上限 {cap:g}，"
               "在供数单位调低之前无法订购", cap="enterprise")
    if dataset_remaining(session, listing_id) <= 0:
        raise BudgetExhausted(
            "This dataset's privacy budget is spent: ordering is closed, because no query could run on it",
            zh="该数据集的隐私预算已用尽，已停止订购：新的许可将无法运行任何查询", epsilon_remaining=0.0, cap="global")
    if enterprise_remaining(session, organization_id, listing_id) <= 0:
        raise BudgetExhausted(
            "Your organization has spent its whole ε cap on this dataset: another licence would not let it run "
            "any query",
            zh="贵单位在该数据集上的 ε 总上限已用完，再订购许可也无法运行查询", epsilon_remaining=0.0, cap="enterprise")


def odometer(session: Session, listing_id: int) -> DatasetBudgetRead:
    """The listing's dataset-version budget: spent (queries in flight included: ε is reserved before a query
    runs and given back only if it fails before releasing anything), left, and spent by each enterprise."""
    scope = listing_service.budget_scope(session, listing_id)
    rows = session.exec(select(EpsilonCap).where(EpsilonCap.dataset_id == scope.dataset_id,
                                                 EpsilonCap.budget_version_id == scope.budget_version_id)).all()
    everyone = next((r for r in rows if r.scope == "global"), None)
    cap, spent = epsilon_units(scope.policy.global_cap, up=False), everyone.spent_micro if everyone else 0
    names = {o.id: o.name for o in session.exec(select(Organization).where(col(Organization.id).in_(
        [r.organization_id for r in rows if r.organization_id is not None]))).all()}
    usage = [EnterpriseUsage(organization_id=r.organization_id, organization=names.get(r.organization_id, ""),
                             epsilon_spent=epsilon_of(r.spent_micro), delta_spent=delta_of(r.delta_spent_atto))
             for r in sorted(rows, key=lambda r: -r.spent_micro)
             if r.scope == "enterprise" and r.organization_id is not None]
    return DatasetBudgetRead(
        listing_id=listing_id, dataset_id=scope.dataset_id, budget_version_id=scope.budget_version_id,
        global_epsilon_cap=scope.policy.global_cap, epsilon_spent=epsilon_of(spent),
        epsilon_remaining=epsilon_of(max(0, cap - spent)), exhausted=spent >= cap,
        enterprise_epsilon_cap=scope.policy.enterprise_cap,
        delta_spent=delta_of(everyone.delta_spent_atto if everyone else 0),
        global_delta_cap=scope.policy.global_delta(scope.row_bound), by_enterprise=usage,
        # Every enterprise charge lands on its own row and on the global one; what the global row holds beyond
        # them was charged there alone, by open statistics.
        open_statistics_epsilon=epsilon_of(max(0, spent - sum(r.spent_micro for r in rows if r.scope == "enterprise"))))
