"""Single sign-on with OpenID Connect: the authorization code flow with PKCE, through Authlib.

The provider is found from its discovery document (`<issuer>/.well-known/openid-configuration`). Signing in
starts with a redirect carrying a fresh `state`, `nonce` and PKCE challenge (S256); the three secrets travel in a
short-lived cookie signed under a key derived from the master key, so nothing is stored before the person comes
back. The callback checks the state, redeems the code with the verifier, and checks the ID token's signature
(the provider's JWKS), issuer, audience, expiry and nonce before believing any claim.

An identity is the pair (issuer, subject). The first time one signs in it is linked to the account with the
same email, only when the provider says the email is verified; or, where `SHUYU_OIDC_CREATE_USERS` is on, to a
new account whose role and organization come from the mapped claims. Only roles in `SHUYU_OIDC_ALLOWED_ROLES`
may sign in this way. Passwords keep working beside it.

A person sees their linked identities and may unlink one. The row stays, marked `unlinked_at`, so that the same
(issuer, subject) cannot link itself again by email on its next sign-in: it is refused until the person, signed
in another way, links it again on purpose (`/account/identities/link`). Unlinking also ends the sessions that
identity opened. Signing out of a session that came by single sign-on also ends the provider's session where the
provider offers RP-initiated logout (`end_session_endpoint`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import requests
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from pydantic import BaseModel
from sqlalchemy import DateTime, UniqueConstraint, or_
from sqlmodel import Field, Session, SQLModel, col, select

from core.accounts import OPERATOR_ORG, ORG_KIND_FOR_ROLE, accounts
from core.audit import Actor, record
from core.auth import Principal, Role
from core.config import Settings, get_settings
from core.errors import DomainError, Forbidden, NotAuthenticated, NotFound, Unavailable
from core.models import Credential, Organization, User, ts_column, utcnow
from core.scopes import OrgMember

STATE_TTL_SECONDS = 600
MFA_METHODS = frozenset({"mfa", "otp", "hwk", "swk", "sms", "fpt", "face", "iris"})  # RFC 8176 `amr` values


class OidcIdentity(SQLModel, table=True):
    """An account's identity at an OpenID provider: (issuer, subject) is unique and names one user."""

    __tablename__ = "oidc_identities"
    __table_args__ = (UniqueConstraint("issuer", "subject", name="uq_oidc_identities_issuer_subject"),)
    id: int | None = Field(default=None, primary_key=True)
    issuer: str = Field(max_length=300)
    subject: str = Field(max_length=255)
    user_id: int = Field(foreign_key="users.id", index=True)
    email: str = Field(default="", max_length=254)
    created_at: datetime = ts_column()
    last_sign_in_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    unlinked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class IdentityRead(BaseModel):
    id: int
    issuer: str
    email: str
    linked_at: datetime
    last_sign_in_at: datetime | None


class SsoRefused(Forbidden):
    type = "sso-refused"
    title = "Single sign-on refused"


class SsoFailed(NotAuthenticated):
    type = "sso-failed"
    title = "Single sign-on failed"


class SsoInfo(BaseModel):
    enabled: bool
    display_name: str
    login_url: str | None


@dataclass(frozen=True)
class LoginState:
    state: str
    nonce: str
    verifier: str
    next: str
    expires: float
    link_user: int | None = None  # linking an identity to this signed-in account, not signing in


@dataclass(frozen=True)
class SsoResult:
    user: User
    provider_mfa: bool  # the provider says it checked a second factor (its `amr` claim)
    identity_id: int
    linked: bool = False  # a round trip started from the account page to link the identity, not a sign-in


_DISCOVERY: dict[str, dict[str, Any]] = {}


def _state_key() -> bytes:
    return hmac.new(get_settings().master_key_bytes(), b"shuyu oidc state v1", hashlib.sha256).digest()


def seal_state(login: LoginState) -> str:
    body = base64.urlsafe_b64encode(json.dumps(asdict(login)).encode()).decode()
    return body + "." + hmac.new(_state_key(), body.encode(), hashlib.sha256).hexdigest()


def open_state(value: str | None) -> LoginState:
    body, _, mac = (value or "").partition(".")
    expected = hmac.new(_state_key(), body.encode(), hashlib.sha256).hexdigest()
    if not body or not hmac.compare_digest(mac.encode(), expected.encode()):
        raise SsoFailed("The sign-in did not start here or has expired: start again",
                        zh="此次登录不是从本站发起或已过期，请重新登录")
    login = LoginState(**json.loads(base64.urlsafe_b64decode(body)))
    if login.expires < time.time():
        raise SsoFailed("The sign-in took too long: start again", zh="登录超时，请重新登录")
    return login


class SsoService:
    def info(self) -> SsoInfo:
        settings = get_settings()
        return SsoInfo(enabled=settings.oidc_enabled, display_name=settings.oidc_display_name,
                       login_url="/auth/oidc/login" if settings.oidc_enabled else None)

    def _settings(self) -> Settings:
        settings = get_settings()
        if not settings.oidc_enabled:
            raise NotFound("Single sign-on is not configured here: sign in with your password",
                           zh="本平台未配置统一身份认证，请使用密码登录")
        return settings

    def discovery(self) -> dict[str, Any]:
        """The provider's discovery document (read once per issuer and process)."""
        issuer = (self._settings().oidc_issuer or "").rstrip("/")
        if issuer not in _DISCOVERY:
            document = _get_json(issuer + "/.well-known/openid-configuration")
            if document.get("issuer", "").rstrip("/") != issuer:
                raise Unavailable("The identity provider's discovery document names another issuer",
                                  zh="身份提供方的发现文档中的签发方与配置不符")
            _DISCOVERY[issuer] = document
        return _DISCOVERY[issuer]

    def _client(self, settings: Settings) -> OAuth2Session:
        return OAuth2Session(client_id=settings.oidc_client_id, client_secret=settings.oidc_client_secret,
                             scope=settings.oidc_scopes, redirect_uri=redirect_uri(settings),
                             code_challenge_method="S256")

    def start(self, next_path: str, link_user: int | None = None) -> tuple[str, str]:
        """The provider's authorization URL and the signed state cookie that must come back with the person.
        With `link_user` the round trip links the identity to that (signed-in) account instead of signing in."""
        settings = self._settings()
        login = LoginState(state=secrets.token_urlsafe(24), nonce=secrets.token_urlsafe(24),
                           verifier=secrets.token_urlsafe(48), next=next_path,
                           expires=time.time() + STATE_TTL_SECONDS, link_user=link_user)
        with self._client(settings) as client:
            url, _ = client.create_authorization_url(self.discovery()["authorization_endpoint"], state=login.state,
                                                     nonce=login.nonce, code_verifier=login.verifier)
        return url, seal_state(login)

    def finish(self, session: Session, params: dict[str, str], cookie: str | None,
               signed_in_user: int | None = None) -> tuple[SsoResult, str]:
        """Check the callback, redeem the code, verify the ID token, and find (or link, or create) the account.
        Returns the result and where the person was heading. A round trip started to link an identity links it
        to the account that started it, which must still be the one signed in (`signed_in_user`)."""
        settings = self._settings()
        login = open_state(cookie)
        if login.link_user is not None and login.link_user != signed_in_user:
            raise SsoFailed("Linking started for another account or your session ended: sign in and start again",
                            zh="关联操作不是由当前账号发起，或您的会话已结束，请登录后重试")
        if not hmac.compare_digest(params.get("state", "").encode(), login.state.encode()):
            raise SsoFailed("The sign-in's state does not match: start again", zh="登录状态不匹配，请重新登录")
        if "error" in params or not params.get("code"):
            raise SsoFailed(f"The identity provider did not sign you in ({params.get('error', 'no code')})",
                            zh="身份提供方未完成登录")
        claims = self._claims(settings, params["code"], login)
        if login.link_user is not None:
            identity = self._link_to(session, settings, claims, login.link_user)
            user = accounts.get_user(session, login.link_user)
        else:
            user, identity = self._account(session, settings, claims)
        return SsoResult(user, settings.oidc_trust_mfa and bool(MFA_METHODS & set(claims.get("amr") or [])),
                         identity.id or 0, login.link_user is not None), login.next

    def _claims(self, settings: Settings, code: str, login: LoginState) -> dict[str, Any]:
        meta = self.discovery()
        try:
            with self._client(settings) as client:
                token = client.fetch_token(meta["token_endpoint"], code=code, code_verifier=login.verifier,
                                           grant_type="authorization_code", timeout=10)
                found = self._id_token(settings, meta, token["id_token"], login.nonce)
                if meta.get("userinfo_endpoint"):
                    info = client.get(meta["userinfo_endpoint"], timeout=10).json()
                    if info.get("sub") == found["sub"]:
                        found = {**info, **found}
        except (JoseError, KeyError, ValueError, requests.RequestException) as exc:
            raise SsoFailed(f"The identity provider's answer could not be verified ({type(exc).__name__})",
                            zh="无法验证身份提供方的应答，请重新登录") from exc
        except DomainError:
            raise
        except Exception as exc:  # Authlib's OAuth errors (invalid_grant, ...) carry the provider's reason
            raise SsoFailed(f"The identity provider refused the sign-in: {exc}", zh="身份提供方拒绝了此次登录") from exc
        return found

    def _id_token(self, settings: Settings, meta: dict[str, Any], id_token: str, nonce: str) -> dict[str, Any]:
        """The ID token's claims, once its signature (the provider's JWKS), issuer, audience, expiry and nonce
        check out."""
        keys = KeySet.import_key_set(_get_json(meta["jwks_uri"]))  # type: ignore[arg-type]
        algorithms = meta.get("id_token_signing_alg_values_supported") or ["RS256"]
        token = jwt.decode(id_token, keys, algorithms=[a for a in algorithms if a != "none"])
        jwt.JWTClaimsRegistry(leeway=60, iss={"essential": True, "value": meta["issuer"]},
                              aud={"essential": True, "value": settings.oidc_client_id or ""},
                              sub={"essential": True}, exp={"essential": True},
                              nonce={"essential": True, "value": nonce}).validate(token.claims)
        return dict(token.claims)

    def _account(self, session: Session, settings: Settings, claims: dict[str, Any]) -> tuple[User, OidcIdentity]:
        issuer, subject = str(claims["iss"]), str(claims["sub"])
        identity = _identity(session, issuer, subject)
        if identity is not None and identity.unlinked_at is not None:
            raise SsoRefused("This identity was unlinked from its account: sign in with your password and link it "
                             "again under \u201cPassword and sessions\u201d",
                             zh="此身份已与账号解除关联：请用密码登录，并在“密码与登录会话”页面重新关联")
        if identity is not None:
            user = accounts.get_user(session, identity.user_id)
        else:
            user = self._link_or_create(session, settings, claims)
            identity = OidcIdentity(issuer=issuer, subject=subject, user_id=user.id or 0,
                                    email=str(claims.get("email") or "")[:254])
        if not user.is_active:
            raise SsoRefused("This account is disabled", zh="该账号已停用")
        if user.role not in settings.oidc_allowed_roles:
            raise SsoRefused(f"The role {user.role} may not sign in by single sign-on here: use your password",
                             zh=f"角色 {user.role} 不允许使用统一身份认证登录，请使用密码登录")
        identity.last_sign_in_at = utcnow()
        session.add(identity)
        session.flush()
        record(session, Actor(user.id, user.role, user.organization_id), "auth.sso_signed_in", "user", user.id,
               {"issuer": issuer, "subject": subject[:64]})
        return user, identity

    def _link_to(self, session: Session, settings: Settings, claims: dict[str, Any], user_id: int) -> OidcIdentity:
        """Link the identity to a signed-in account on its owner's request (also one unlinked before)."""
        user = accounts.get_user(session, user_id)
        if user.role not in settings.oidc_allowed_roles:
            raise SsoRefused(f"The role {user.role} may not sign in by single sign-on here",
                             zh=f"角色 {user.role} 不允许使用统一身份认证登录")
        issuer, subject = str(claims["iss"]), str(claims["sub"])
        identity = _identity(session, issuer, subject)
        if identity is not None and identity.unlinked_at is None and identity.user_id != user_id:
            raise SsoRefused("This identity is linked to another account here", zh="此身份已关联到本平台的另一个账号")
        identity = identity or OidcIdentity(issuer=issuer, subject=subject, user_id=user_id)
        identity.user_id, identity.unlinked_at = user_id, None
        identity.email = str(claims.get("email") or "")[:254]
        identity.created_at = utcnow()
        session.add(identity)
        session.flush()
        record(session, Actor(user.id, user.role, user.organization_id), "auth.sso_linked", "user", user.id,
               {"issuer": issuer, "subject": subject[:64], "by": "signed-in person"})
        return identity

    # --- a person's own identities ---------------------------------------------------------------------

    def identities(self, session: Session, who: Principal) -> list[IdentityRead]:
        """The identities linked to this account, oldest first."""
        rows = session.exec(select(OidcIdentity).where(OidcIdentity.user_id == who.user_id,
                                                       col(OidcIdentity.unlinked_at).is_(None))
                            .order_by(col(OidcIdentity.id))).all()
        return [IdentityRead(id=r.id or 0, issuer=r.issuer, email=r.email, linked_at=r.created_at,
                             last_sign_in_at=r.last_sign_in_at) for r in rows]

    def unlink(self, session: Session, who: Principal, identity_id: int) -> int:
        """Unlink one of your identities: it can no longer sign in here, nor link itself again by email, and
        the sessions it opened end (this one too, if it is one of them). Returns how many sessions ended."""
        identity = session.get(OidcIdentity, identity_id)
        if identity is None or identity.user_id != who.user_id or identity.unlinked_at is not None:
            raise NotFound("No such linked identity", zh="没有此关联身份")
        identity.unlinked_at = utcnow()
        session.add(identity)
        opened = session.exec(select(Credential).where(Credential.sso_identity_id == identity_id,
                                                       col(Credential.kind).in_(("token", "pending")),
                                                       col(Credential.revoked).is_(False))).all()
        for cred in opened:
            cred.revoked = True
            session.add(cred)
        record(session, who.actor, "auth.sso_unlinked", "user", who.user_id,
               {"identity_id": identity_id, "issuer": identity.issuer, "subject": identity.subject[:64],
                "sessions_ended": len(opened)})
        return len(opened)

    def logout_url(self, identity_id: int | None) -> str | None:
        """Where to send a person who signed out of a session that came by single sign-on: the provider's
        `end_session_endpoint` (OpenID Connect RP-Initiated Logout 1.0) with our `client_id` and the base URL
        to come back to; None when the session did not come by SSO, SSO is off, or the provider offers none.
        No `id_token_hint`: we keep no ID tokens (see docs/operations.md)."""
        settings = get_settings()
        if identity_id is None or not settings.oidc_enabled:
            return None
        try:
            endpoint = self.discovery().get("end_session_endpoint")
        except DomainError:  # the provider is down: signing out here must still work
            return None
        if not isinstance(endpoint, str) or not endpoint.startswith(("https://", "http://")):
            return None
        query = urlencode({"client_id": settings.oidc_client_id or "",
                           "post_logout_redirect_uri": post_logout_redirect_uri(settings)})
        return endpoint + ("&" if "?" in endpoint else "?") + query

    def _link_or_create(self, session: Session, settings: Settings, claims: dict[str, Any]) -> User:
        email = str(claims.get("email") or "").strip().lower()
        verified = claims.get("email_verified") in (True, "true")
        user = session.exec(select(User).where(User.email == email)).first() if email and verified else None
        if user is not None:
            record(session, Actor(user.id, user.role, user.organization_id), "auth.sso_linked", "user", user.id,
                   {"issuer": claims["iss"], "subject": str(claims["sub"])[:64], "by": "verified email"})
            return user
        if not settings.oidc_create_users:
            raise SsoRefused("No account here matches this identity (a verified email or a linked subject): ask "
                             "an administrator for an account", zh="本平台没有与此身份匹配的账号，请联系管理员开通")
        if not (email and verified):
            raise SsoRefused("The identity provider gave no verified email, so no account can be created",
                             zh="身份提供方未提供经验证的邮箱，无法创建账号")
        role = mapped_role(settings, claims)
        org = self._organization(session, settings, role, claims)
        user = accounts.create_user(session, Actor.system(), email, secrets.token_urlsafe(32), role, org)
        if role is Role.enterprise:  # without a row a member counts as the enterprise's admin: start at the least
            session.add(OrgMember(user_id=user.id or 0, org_role="viewer"))
        record(session, Actor(user.id, user.role, user.organization_id), "auth.sso_account_created", "user",
               user.id, {"issuer": claims["iss"], "subject": str(claims["sub"])[:64], "role": role.value,
                         "organization_id": org.id})
        return user

    def _organization(self, session: Session, settings: Settings, role: Role, claims: dict[str, Any]
                      ) -> Organization:
        kind = ORG_KIND_FOR_ROLE[role]
        if kind == "operator":
            return accounts.get_or_create_org(session, OPERATOR_ORG, kind)
        raw = _claim_values(claims, settings.oidc_org_claim)
        name = next((settings.oidc_org_map.get(v, v if not settings.oidc_org_map else "") for v in raw), "")
        if not name:
            raise SsoRefused("The identity provider named no organization this platform knows",
                             zh="身份提供方未提供本平台可识别的单位")
        if kind == "provider":
            return accounts.get_or_create_org(session, name, kind)
        org = session.exec(select(Organization).where(
            or_(col(Organization.name) == name, col(Organization.credit_code) == name))).first()
        if org is None or org.kind != kind:
            raise SsoRefused(f"The enterprise {name!r} is not registered here: register it first",
                             zh=f"企业 {name} 尚未在本平台注册，请先注册")
        return org


def mapped_role(settings: Settings, claims: dict[str, Any]) -> Role:
    """The role a new account gets: the first claim value the mapping (or the role names) knows and SSO allows."""
    for value in _claim_values(claims, settings.oidc_role_claim):
        role = settings.oidc_role_map.get(value, value if not settings.oidc_role_map else "")
        if role in {r.value for r in Role} and role in settings.oidc_allowed_roles:
            return Role(role)
    raise SsoRefused("The identity provider gave no role that may use single sign-on here",
                     zh="身份提供方未提供可使用统一身份认证的角色")


def _claim_values(claims: dict[str, Any], name: str | None) -> list[str]:
    value = claims.get(name) if name else None
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)] if value not in (None, "") else []


def form_targets() -> list[str]:
    """The provider's origins a form here may lead to (CSP `form-action`): linking an identity and signing out
    are POSTs answered by a redirect to the provider, which browsers check against the page's `form-action`.
    The issuer's origin, and those of its authorization and end-session endpoints once discovery was read."""
    settings = get_settings()
    if not settings.oidc_enabled:
        return []
    issuer = (settings.oidc_issuer or "").rstrip("/")
    urls = [issuer] + [str(_DISCOVERY.get(issuer, {}).get(k) or "")
                       for k in ("authorization_endpoint", "end_session_endpoint")]
    origins = {f"{u.scheme}://{u.netloc}" for u in map(urlsplit, urls) if u.scheme in ("https", "http") and u.netloc}
    return sorted(origins)


def redirect_uri(settings: Settings) -> str:
    return settings.base_url.rstrip("/") + "/auth/oidc/callback"


def post_logout_redirect_uri(settings: Settings) -> str:
    """Where the provider sends a person after ending its session: our home page (register it at the provider)."""
    return settings.base_url.rstrip("/") + "/"


def _identity(session: Session, issuer: str, subject: str) -> OidcIdentity | None:
    return session.exec(select(OidcIdentity).where(OidcIdentity.issuer == issuer,
                                                   OidcIdentity.subject == subject)).first()


def _get_json(url: str) -> dict[str, Any]:
    try:
        response = httpx.get(url, timeout=10.0)
        response.raise_for_status()
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise Unavailable(f"The identity provider cannot be reached ({type(exc).__name__}): try again later",
                          zh="暂时无法连接身份提供方，请稍后再试") from exc
    if not isinstance(body, dict):
        raise Unavailable("The identity provider answered with something unexpected", zh="身份提供方的应答无法识别")
    return body


sso = SsoService()
