"""Organizations and users: the identity plumbing every domain relies on."""

from __future__ import annotations

from sqlmodel import Session, select
from zxcvbn import zxcvbn

from core.audit import Actor, record
from core.auth import Role, hash_password
from core.config import get_settings
from core.errors import Conflict, InvalidInput, NotFound
from core.models import Organization, User

OPERATOR_ORG = "Shuyu Operator"
ORG_KIND_FOR_ROLE = {
    Role.provider: "provider",
    Role.enterprise: "enterprise",
    Role.data_office: "operator",
    Role.finance: "operator",
    Role.admin: "operator",
}


class WeakPassword(InvalidInput):
    type = "weak-password"
    title = "The password is too easy to guess"


MAX_PASSWORD = 256  # long passphrases are welcome; a megabyte "password" is an attack on the hasher


def check_password(password: str, email: str = "", org_name: str = "") -> None:
    """The password policy (OWASP ASVS 2.1): at least `SHUYU_PASSWORD_MIN_LENGTH` characters, at most 256,
    and not guessable — zxcvbn's estimate, which knows common passwords, names, keyboard walks and the
    person's own email and organization, must reach 3 of 4. Registration, `shuyu users create` and every
    other way to set a password call this."""
    minimum = get_settings().password_min_length
    if len(password) < minimum:
        raise WeakPassword(f"Passwords need at least {minimum} characters; a few unrelated words make a good one",
                           zh=f"密码至少需要 {minimum} 个字符；几个不相关的词组合起来是不错的密码")
    if len(password) > MAX_PASSWORD:
        raise WeakPassword(f"Passwords may have at most {MAX_PASSWORD} characters",
                           zh=f"密码最多 {MAX_PASSWORD} 个字符")
    hints = [w for w in (email, email.split("@")[0], org_name, "shuyu", "数域") if w]
    strength = zxcvbn(password[:100], user_inputs=hints)
    if strength["score"] < 3:
        raise WeakPassword("This password is common or easy to guess; choose a longer one, such as a few "
                           "unrelated words", zh="该密码过于常见或容易被猜中：请使用更长的密码，例如几个不相关的词")


class AccountService:
    def get_or_create_org(self, session: Session, name: str, kind: str, credit_code: str | None = None) -> Organization:
        org = session.exec(select(Organization).where(Organization.name == name)).first()
        if org is not None:
            if org.kind != kind:
                raise Conflict(f"The organization {name!r} exists already as a {org.kind}")
            return org
        org = Organization(name=name, kind=kind, credit_code=credit_code)
        session.add(org)
        session.flush()
        return org

    def create_user(
        self, session: Session, actor: Actor, email: str, password: str, role: Role, org: Organization
    ) -> User:
        """Create a user in `org`; emails are unique and compared lower-case."""
        email = email.strip().lower()
        if "@" not in email:
            raise InvalidInput(f"{email!r} is not an email address")
        check_password(password, email, org.name)
        if ORG_KIND_FOR_ROLE[role] != org.kind:
            raise InvalidInput(f"A {role.value} user cannot belong to a {org.kind} organization")
        if session.exec(select(User).where(User.email == email)).first() is not None:
            raise Conflict(f"A user with the email {email} exists already")
        assert org.id is not None
        user = User(email=email, password_hash=hash_password(password), role=role.value, organization_id=org.id)
        session.add(user)
        session.flush()
        record(session, actor, "user.created", "user", user.id, {"email": email, "role": role.value,
                                                                    "organization_id": org.id})
        return user

    def create_staff(
        self, session: Session, email: str, password: str, role: Role, org_name: str | None
    ) -> User:
        """The CLI's `users create`: providers belong to their department, other staff to the operator."""
        if role is Role.enterprise:
            raise InvalidInput("Enterprises register themselves: POST /api/v1/organizations/register")
        if role is Role.provider and not org_name:
            raise InvalidInput("A provider user needs --org-name, the department that holds the data")
        kind = ORG_KIND_FOR_ROLE[role]
        org = self.get_or_create_org(session, org_name if role is Role.provider and org_name else OPERATOR_ORG, kind)
        return self.create_user(session, Actor.system(), email, password, role, org)

    def get_user(self, session: Session, user_id: int) -> User:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound(f"No user {user_id}")
        return user


accounts = AccountService()
