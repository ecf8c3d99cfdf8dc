"""Enterprise registration with a checked unified social credit code."""

from __future__ import annotations

from sqlmodel import Session, select

from core.accounts import accounts
from core.audit import Actor, record
from core.auth import Role
from core.models import Organization
from licensing import credit_code
from licensing.errors import AlreadyRegistered, InvalidCreditCode
from licensing.schemas import OrganizationRead, OrganizationRegister, RegistrationRead


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


registrations = RegistrationService()
