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
    def is_registered(self, session: Session, code: str) -> bool:
        """Whether an organization holds this (valid) credit code already: the form says so as it is typed."""
        normalized = credit_code.normalize(code)
        return session.exec(select(Organization).where(Organization.credit_code == normalized)).first() is not None

    def register(self, session: Session, body: OrganizationRegister) -> RegistrationRead:
        """Register an enterprise with its unified social credit code and its first user."""
        reason = credit_code.problem(body.credit_code)
        if reason:
            raise InvalidCreditCode(reason)
        code = credit_code.normalize(body.credit_code)
        if session.exec(select(Organization).where(Organization.credit_code == code)).first():
            raise AlreadyRegistered(f"An enterprise with the credit code {code} is registered already",
                                    zh=f"统一社会信用代码 {code} 已注册：请直接登录，或请本单位管理员邀请您")
        if session.exec(select(Organization).where(Organization.name == body.name.strip())).first():
            raise AlreadyRegistered(f"An organization named {body.name.strip()!r} is registered already",
                                    zh=f"名为“{body.name.strip()}”的单位已注册：请直接登录，或核对单位名称")
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
