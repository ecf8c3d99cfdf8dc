"""What licensing tells people (core.notify delivers): the enterprise about its licences, the data office about
licences waiting for approval, finance about reconciliations that do not match.

Deadlines and thresholds are scans, run on every pump: a licence is announced as expiring once it is within
`EXPIRY_WARNING` of its end, and its budget once `BUDGET_WARNING` of it is spent — each once, by its key.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, col, select

from core.auth import Role
from core.models import AuditEvent, utcnow
from core.notify import Notice, active_users, every_pump, on
from licensing.models import License, Payment

EXPIRY_WARNING = timedelta(days=14)
IN_USE = ("active", "awaiting_payment", "pending_approval", "suspended")
BUDGET_WARNING = 0.8


def _licence(session: Session, event: AuditEvent) -> License | None:
    return session.get(License, int(event.subject_id))


def _title(licence: License) -> str:
    return f"{licence.listing_title} — {licence.offer_name}"


@on("license.review.approve")
def licence_approved(session: Session, event: AuditEvent) -> list[Notice]:
    licence = _licence(session, event)
    if licence is None:
        return []
    pay_en = " Pay for it to start using it." if licence.status == "awaiting_payment" else ""
    pay_zh = "付款后即可使用。" if licence.status == "awaiting_payment" else ""
    return [Notice("license_approved", active_users(session, organization_id=licence.organization_id),
                   f"license:{licence.id}:approved", f"Licence {licence.id} approved", f"许可 {licence.id} 已获批准",
                   f"The data office approved your licence for {_title(licence)}.{pay_en}",
                   f"数据主管部门已批准您对“{_title(licence)}”的许可申请。{pay_zh}",
                   f"/enterprise/licences/{licence.id}")]


@on("payment.confirmed", "payment.succeeded")
def payment_received(session: Session, event: AuditEvent) -> list[Notice]:
    payment = session.get(Payment, int(event.subject_id))
    licence = session.get(License, payment.license_id) if payment else None
    if payment is None or licence is None:
        return []
    amount = f"{payment.amount_minor / 100:,.2f} {payment.currency}"
    return [Notice("license_paid", active_users(session, organization_id=payment.organization_id),
                   f"payment:{payment.id}:received", f"Payment received: licence {licence.id} is active",
                   f"已收到付款：许可 {licence.id} 已生效",
                   f"We received {amount} for {_title(licence)}. The receipt is on your payments page.",
                   f"已收到“{_title(licence)}”的款项 {amount}。收据可在“我的付款”页面下载。", "/enterprise/payments")]


@on("license.applied")
def licence_waiting(session: Session, event: AuditEvent) -> list[Notice]:
    if event.data.get("status") != "pending_approval":
        return []
    licence = _licence(session, event)
    if licence is None:
        return []
    return [Notice("review_waiting", active_users(session, role=Role.data_office),
                   f"license:{licence.id}:waiting", f"Licence {licence.id} waits for approval",
                   f"许可 {licence.id} 等待审批",
                   f"An enterprise applied for {_title(licence)} (important data). Purpose: {licence.purpose}",
                   f"有企业申请“{_title(licence)}”（重要数据）的许可。用途：{licence.purpose}", "/office/licences")]


@on("listing.suspend")
def authorization_ended(session: Session, event: AuditEvent) -> list[Notice]:
    """Licensees of a listing suspended because its authorization agreement ended, each organization once."""
    if event.data.get("reason_code") != "authorization-ended":
        return []
    licences = session.exec(select(License).where(License.listing_id == int(event.subject_id),
                                                  col(License.status).in_(IN_USE))).all()
    notices = []
    for organization_id in sorted({licence.organization_id for licence in licences}):
        licence = next(lic for lic in licences if lic.organization_id == organization_id)
        notices.append(Notice(
            "authorization_ended", active_users(session, organization_id=organization_id),
            f"listing:{event.subject_id}:authorization-ended:{event.seq}",
            f"“{licence.listing_title}” is suspended: its authorization ended",
            f"“{licence.listing_title}”已暂停：授权运营已终止",
            f"The authorization agreement under which “{licence.listing_title}” is operated has ended, so the product "
            "is suspended and its queries are refused until a new agreement covers it. Your licence is kept.",
            f"“{licence.listing_title}”所依据的授权运营协议已终止，该数据产品已暂停，查询暂不可用，直至新的授权运营协议"
            "覆盖它。您的许可仍然保留。", f"/enterprise/licences/{licence.id}"))
    return notices


@on("reconciliation.run")
def reconciliation_mismatch(session: Session, event: AuditEvent) -> list[Notice]:
    if event.data.get("ok", True):
        return []
    summary = event.data.get("summary", {})
    counts = ", ".join(f"{name}: {count}" for name, count in summary.items()
                       if name in ("missing_in_ledger", "missing_in_stripe", "mismatches") and count)
    run = event.subject_id
    return [Notice("reconciliation_mismatch", active_users(session, role=Role.finance),
                   f"reconciliation:{run}:mismatch", f"Reconciliation {run} found differences",
                   f"对账 {run} 发现差异", f"The ledger and Stripe differ ({counts}). Look at each line.",
                   f"账簿与 Stripe 记录不一致（{counts}），请逐条核对。", f"/finance/reconciliations/{run}")]


@every_pump
def licences_expiring(session: Session) -> list[Notice]:
    now = utcnow()
    rows = session.exec(select(License).where(License.status == "active", col(License.expires_at) > now,
                                              col(License.expires_at) <= now + EXPIRY_WARNING)).all()
    return [Notice("license_expiring", active_users(session, organization_id=licence.organization_id),
                   f"license:{licence.id}:expiring", f"Licence {licence.id} expires within 14 days",
                   f"许可 {licence.id} 将在 14 天内到期",
                   f"Your licence for {_title(licence)} ends on {licence.expires_at:%Y-%m-%d}. Renew it to keep "
                   "querying.", f"您对“{_title(licence)}”的许可将于 {licence.expires_at:%Y-%m-%d} 到期，"
                                "如需继续查询请续期。", f"/enterprise/licences/{licence.id}") for licence in rows]


@every_pump
def budgets_nearly_spent(session: Session) -> list[Notice]:
    rows = session.exec(select(License).where(col(License.status).in_(("active", "suspended")),
                                              col(License.epsilon_spent_micro) >= BUDGET_WARNING * col(
                                                  License.epsilon_budget_micro))).all()
    return [Notice("budget_80", active_users(session, organization_id=licence.organization_id),
                   f"license:{licence.id}:budget80", f"80% of licence {licence.id}'s ε is spent",
                   f"许可 {licence.id} 的 ε 已用去 80%",
                   f"ε spent {licence.epsilon_spent:g} of {licence.epsilon_budget:g} on {_title(licence)}. "
                   "The budget is never refreshed: renew the licence for a new one.",
                   f"“{_title(licence)}”已用 ε {licence.epsilon_spent:g} / {licence.epsilon_budget:g}。"
                   "预算不会自动恢复，如需更多请续期许可。", f"/enterprise/licences/{licence.id}") for licence in rows]
