"""Licensing rules: enterprise registration, licences and their budget, bank-transfer payments."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, func, select

from core.accounts import accounts
from core.audit import Actor, record
from core.auth import Principal, Role
from core.errors import InvalidInput, NotFound
from core.models import Organization, utcnow
from licensing import credit_code
from licensing.errors import (
    AlreadyRegistered,
    BudgetExhausted,
    InvalidCreditCode,
    LicenseNotActive,
    LicenseStateConflict,
    PaymentConflict,
    QuotaExhausted,
)
from licensing.ledger.service import BANK, NON_TAX_REVENUE, Line, ledger
from licensing.models import License, Payment
from licensing.schemas import (
    CheckoutCreate,
    CheckoutRead,
    LicenseCreate,
    LicensePage,
    LicenseRead,
    LicenseReview,
    OrganizationRead,
    OrganizationRegister,
    PaymentConfirm,
    PaymentRead,
    RegistrationRead,
)
from market.service import listings as listing_service

# Where enterprises send bank transfers (shown with the reference they must quote).
TREASURY_ACCOUNT = {"account_name": "Shuyu public data operation — non-tax revenue collection account",
                    "bank": "(configured by the operator)", "note": "Quote the reference exactly"}
EPS_TOLERANCE = 1e-9


def _aware(at: datetime | None) -> datetime | None:
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


class RegistrationService:
    def register(self, session: Session, body: OrganizationRegister) -> RegistrationRead:
        """Register an enterprise with its unified social credit code and its first user."""
        reason = credit_code.problem(body.credit_code)
        if reason:
            raise InvalidCreditCode(reason)
        code = credit_code.normalize(body.credit_code)
        if session.exec(select(Organization).where(Organization.credit_code == code)).first():
            raise AlreadyRegistered(f"An enterprise with the credit code {code} is registered already")
        if session.exec(select(Organization).where(Organization.name == body.name.strip())).first():
            raise AlreadyRegistered(f"An organization named {body.name.strip()!r} is registered already")
        org = Organization(name=body.name.strip(), kind="enterprise", credit_code=code)
        session.add(org)
        session.flush()
        user = accounts.create_user(session, Actor(None, "enterprise", org.id), body.admin_email,
                                    body.admin_password, Role.enterprise, org)
        record(session, Actor(user.id, "enterprise", org.id), "organization.registered", "organization", org.id,
               {"name": org.name, "credit_code": code})
        return RegistrationRead(organization=OrganizationRead.model_validate(org, from_attributes=True),
                                user_id=user.id or 0, email=user.email)


class LicenseService:
    def apply(self, session: Session, who: Principal, body: LicenseCreate) -> LicenseRead:
        """Apply for a licence on an offer; important data waits for the data office, priced waits for payment."""
        listing, offer = listing_service.offer(session, body.listing_id, body.offer_id)
        if listing.grade == "important" and not body.purpose.strip():
            raise InvalidInput("Important data needs a stated purpose for the data office to review")
        licence = License(
            listing_id=listing.id or 0, offer_id=offer.id or 0, organization_id=who.organization_id,
            applicant_id=who.user_id, purpose=body.purpose.strip(), status="pending_approval",
            scenario=offer.scenario, price_minor=offer.price_minor, currency=offer.currency,
            term_days=offer.term_days, epsilon_budget=offer.epsilon_budget, query_quota=offer.query_quota,
        )
        if listing.grade != "important":
            self._after_approval(licence)
        session.add(licence)
        session.flush()
        record(session, who.actor, "license.applied", "license", licence.id,
               {"listing_id": listing.id, "offer_id": offer.id, "status": licence.status})
        return self.read(licence)

    def _after_approval(self, licence: License) -> None:
        if licence.price_minor > 0:
            licence.status = "awaiting_payment"
        else:
            self._activate(licence)

    def _activate(self, licence: License) -> None:
        now = utcnow()
        licence.status, licence.activated_at = "active", now
        licence.expires_at = now + timedelta(days=licence.term_days)

    def review(self, session: Session, who: Principal, license_id: int, body: LicenseReview) -> LicenseRead:
        """The data office's decision on a licence for important data."""
        licence = self._get(session, license_id)
        if licence.status != "pending_approval":
            raise LicenseStateConflict(f"Only a licence pending approval can be reviewed; this one is {licence.status}")
        if body.decision == "reject":
            licence.status = "rejected"
        else:
            self._after_approval(licence)
        session.add(licence)
        record(session, who.actor, f"license.review.{body.decision}", "license", licence.id,
               {"comment": body.comment, "status": licence.status})
        return self.read(licence)

    def get(self, session: Session, who: Principal, license_id: int) -> LicenseRead:
        return self.read(self._visible(session, who, license_id))

    def list(self, session: Session, who: Principal, status: str | None, limit: int, offset: int) -> LicensePage:
        query = select(License)
        if who.role is Role.enterprise:
            query = query.where(License.organization_id == who.organization_id)
        if status:
            query = query.where(License.status == status)
        total = session.exec(select(func.count()).select_from(query.subquery())).one()
        rows = session.exec(query.order_by(col(License.id).desc()).limit(limit).offset(offset)).all()
        return LicensePage(items=[self.read(r) for r in rows], total=int(total))

    def _get(self, session: Session, license_id: int) -> License:
        licence = session.get(License, license_id)
        if licence is None:
            raise NotFound(f"No licence {license_id}")
        return licence

    def _visible(self, session: Session, who: Principal, license_id: int) -> License:
        licence = self._get(session, license_id)
        if who.role is Role.enterprise and licence.organization_id != who.organization_id:
            raise NotFound(f"No licence {license_id}")  # never confirm another enterprise's licence exists
        if who.role not in (Role.enterprise, Role.data_office, Role.finance):
            raise NotFound(f"No licence {license_id}")
        return licence

    def read(self, licence: License) -> LicenseRead:
        return LicenseRead.model_validate({
            **licence.model_dump(), "status": effective_status(licence),
            "epsilon_remaining": max(0.0, licence.epsilon_budget - licence.epsilon_spent)})

    def usable(self, session: Session, who: Principal, license_id: int) -> License:
        """The caller's licence, if it can be queried right now (expiry is checked here, not by a job)."""
        licence = self._visible(session, who, license_id)
        if licence.organization_id != who.organization_id:
            raise NotFound(f"No licence {license_id}")
        status = effective_status(licence)
        if status != "active":
            raise LicenseNotActive(f"Licence {license_id} is {status}; queries need an active licence")
        return licence

    def reserve(self, session: Session, license_id: int, epsilon: float) -> None:
        """Charge ε and one query atomically: one conditional UPDATE, so concurrent queries never overspend."""
        result = session.execute(
            update(License).where(
                col(License.id) == license_id, col(License.status) == "active",
                col(License.expires_at) > utcnow(),
                col(License.epsilon_spent) + epsilon <= col(License.epsilon_budget) + EPS_TOLERANCE,
                col(License.queries_used) < col(License.query_quota),
            ).values(epsilon_spent=col(License.epsilon_spent) + epsilon, queries_used=col(License.queries_used) + 1)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            return
        licence = self._get(session, license_id)
        status = effective_status(licence)
        if status != "active":
            raise LicenseNotActive(f"Licence {license_id} is {status}; queries need an active licence")
        if licence.queries_used >= licence.query_quota:
            raise QuotaExhausted(f"All {licence.query_quota} queries of this licence are used")
        left = max(0.0, licence.epsilon_budget - licence.epsilon_spent)
        raise BudgetExhausted(f"This query costs ε={epsilon:.4g} but only ε={left:.4g} of the licence's budget is left",
                              epsilon_remaining=left)

    def refund(self, session: Session, license_id: int, epsilon: float) -> None:
        """Give back a reservation whose query failed before any noisy value existed."""
        session.execute(update(License).where(col(License.id) == license_id).values(
            epsilon_spent=func.max(col(License.epsilon_spent) - epsilon, 0.0) if _is_sqlite(session)
            else func.greatest(col(License.epsilon_spent) - epsilon, 0.0),
            queries_used=col(License.queries_used) - 1))

    def budget(self, session: Session, license_id: int) -> tuple[float, float]:
        licence = self._get(session, license_id)
        session.refresh(licence)
        return licence.epsilon_budget, licence.epsilon_spent


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def effective_status(licence: License) -> str:
    expires = _aware(licence.expires_at)
    if licence.status == "active" and expires is not None and expires <= utcnow():
        return "expired"
    return licence.status


class PaymentService:
    def checkout(self, session: Session, who: Principal, license_id: int, body: CheckoutCreate) -> CheckoutRead:
        """Start paying for a licence. Bank transfer: a reference to quote, confirmed later by finance."""
        licence = license_service._visible(session, who, license_id)
        if licence.organization_id != who.organization_id:
            raise NotFound(f"No licence {license_id}")
        if licence.status != "awaiting_payment":
            raise LicenseStateConflict(f"Licence {license_id} is {licence.status}, not awaiting payment")
        if body.method == "stripe":
            raise InvalidInput("Card payment is not configured on this platform; choose bank_transfer")
        payment = session.exec(select(Payment).where(Payment.license_id == license_id, Payment.status == "pending",
                                                     Payment.method == "bank_transfer")).first()
        if payment is None:
            payment = Payment(license_id=license_id, organization_id=who.organization_id, method="bank_transfer",
                              amount_minor=licence.price_minor, currency=licence.currency,
                              bank_reference="SY" + secrets.token_hex(5).upper())
            session.add(payment)
            session.flush()
            record(session, who.actor, "payment.started", "payment", payment.id,
                   {"license_id": license_id, "method": "bank_transfer", "amount_minor": payment.amount_minor})
        return CheckoutRead(payment_id=payment.id or 0, amount_minor=payment.amount_minor, currency=payment.currency,
                            method=payment.method, bank_reference=payment.bank_reference, bank_account=TREASURY_ACCOUNT)

    def confirm(self, session: Session, who: Principal, payment_id: int, body: PaymentConfirm) -> PaymentRead:
        """Finance confirms a bank transfer: the licence activates and the revenue is booked, once."""
        payment = self._get(session, payment_id)
        if payment.method != "bank_transfer" or payment.status != "pending":
            raise PaymentConflict(f"Payment {payment_id} is a {payment.method} payment in state {payment.status}")
        if body.bank_reference.strip().upper() != (payment.bank_reference or ""):
            raise InvalidInput(f"The reference {body.bank_reference!r} is not the one issued for this payment")
        if body.amount_minor != payment.amount_minor:
            raise InvalidInput(f"The amount received ({body.amount_minor}) differs from the amount due "
                               f"({payment.amount_minor} minor units of {payment.currency}); do not confirm it")
        licence = license_service._get(session, payment.license_id)
        payment.status, payment.confirmed_by, payment.confirmed_at = "succeeded", who.user_id, utcnow()
        license_service._activate(licence)
        session.add_all([payment, licence])
        ledger.post(session, "payment", f"Licence {licence.id} fee, bank transfer {payment.bank_reference}", [
            Line(BANK, payment.currency, debit=payment.amount_minor),
            Line(NON_TAX_REVENUE, payment.currency, credit=payment.amount_minor),
        ], external_key=f"bank:{payment.bank_reference}", payment_id=payment.id, created_by=who.user_id)
        record(session, who.actor, "payment.confirmed", "payment", payment.id,
               {"license_id": licence.id, "amount_minor": payment.amount_minor, "currency": payment.currency})
        record(session, who.actor, "license.activated", "license", licence.id, {"expires_at": licence.expires_at})
        return PaymentRead.model_validate(payment, from_attributes=True)

    def _get(self, session: Session, payment_id: int) -> Payment:
        payment = session.get(Payment, payment_id)
        if payment is None:
            raise NotFound(f"No payment {payment_id}")
        return payment

    def list(self, session: Session, status: str | None, limit: int, offset: int) -> tuple[list[PaymentRead], int]:
        query = select(Payment)
        if status:
            query = query.where(Payment.status == status)
        total = session.exec(select(func.count()).select_from(query.subquery())).one()
        rows = session.exec(query.order_by(col(Payment.id).desc()).limit(limit).offset(offset)).all()
        return [PaymentRead.model_validate(r, from_attributes=True) for r in rows], int(total)


registrations = RegistrationService()
license_service = LicenseService()
payments = PaymentService()
