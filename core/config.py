"""Settings, all from `SHUYU_*` environment variables (and an optional `.env`)."""

from __future__ import annotations

import base64
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigError(RuntimeError):
    """The settings cannot run the platform as asked (e.g. production with generated secrets)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHUYU_", env_file=".env", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("./var")
    database_url: str | None = None
    master_key: str | None = Field(default=None, repr=False)
    stripe_secret_key: str | None = Field(default=None, repr=False)
    stripe_webhook_secret: str | None = Field(default=None, repr=False)
    stripe_api_base: str = "https://api.stripe.com"
    base_url: str = "http://127.0.0.1:8000"
    report_timezone: str = "Asia/Shanghai"  # days and months of finance reports
    token_ttl_hours: int = 12
    sandbox_workers: int = 2
    query_timeout_seconds: float = 60.0
    query_memory_mb: int = 4096
    # Sandbox processes run OpenDP's plans on Polars' streaming engine (bounded memory, data bigger than RAM);
    # OpenDP's float-sum sensitivity already covers any summation order (docs/sandbox.md, "Data bigger than memory").
    sandbox_streaming: bool = True
    max_upload_mb: int = 512
    registration_notice_days: int = 7  # the public notice (公示) of a new registration, during which anyone may object
    # The account enterprises pay bank transfers into (shown on the licence page and the payment notice).
    # The defaults are demo values for development; production refuses to start with them.
    treasury_account_name: str = "数域公共数据授权运营非税收入专户（演示）"
    treasury_bank: str = "演示银行 北京分行营业部"
    treasury_account_number: str = "6200 0000 0000 0000 000"
    # Limits on what an upload may unfold into, checked before it is decoded (Parquet from its metadata).
    max_upload_rows: int = 20_000_000
    max_upload_columns: int = 1_000
    max_upload_decompressed_mb: int = 2_048
    # Sign-in throttling: failures per account or per address within the window before a lockout.
    signin_max_failures: int = 10  # per account
    signin_max_failures_per_address: int = 50  # an office behind one address has many people
    signin_window_seconds: int = 900
    signin_lockout_seconds: int = 900
    password_min_length: int = 12
    # Two-factor sign-in (TOTP). The roles that must use it: unset means data_office, finance and admin in
    # production and nobody elsewhere; a JSON list (e.g. '["finance"]') names them in any environment.
    two_factor_required_roles: list[str] | None = None
    two_factor_issuer: str = "Shuyu 数域"  # the account's label in the authenticator app
    # Single sign-on over OpenID Connect (authorization code + PKCE). Off unless issuer and client id are set.
    oidc_issuer: str | None = None  # e.g. https://id.example.gov.cn/realms/gov (its discovery document is read)
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = Field(default=None, repr=False)
    oidc_display_name: str = "统一身份认证"  # the button says "Sign in with <this>"
    oidc_scopes: str = "openid email profile"
    oidc_allowed_roles: list[str] = ["provider", "data_office", "finance", "enterprise"]  # who may sign in by SSO
    oidc_role_claim: str | None = None  # a claim naming the role of a new account (a string or a list)
    oidc_role_map: dict[str, str] = {}  # claim value → role; empty: the value must itself be a role
    oidc_org_claim: str | None = None  # a claim naming the organization of a new account
    oidc_org_map: dict[str, str] = {}  # claim value → organization name; empty: the value is the name
    oidc_create_users: bool = False  # create an account on first SSO sign-in (from the two claims above)
    oidc_trust_mfa: bool = True  # an ID token whose `amr` says the provider used a second factor needs no TOTP
    # SQL accepted by the sandbox: characters, and the nesting depth of its syntax tree.
    max_sql_length: int = 20_000
    max_sql_depth: int = 20
    smtp_url: str | None = Field(default=None, repr=False)  # smtp://[user:pass@]host:port[?starttls=1], smtps://…
    mail_from: str = "Shuyu 数域 <no-reply@shuyu.invalid>"
    notify_interval_seconds: float = 15.0  # how often the background job pumps notices and sends mail
    pdf_font: Path | None = None  # a CJK TTF/OTF for receipts; default: Debian's fonts-noto-cjk
    # Sandbox nodes (docs/deploy.md): workers hold the private key, API nodes only the public one.
    sandbox_mode: Literal["inprocess", "queue"] = "inprocess"
    sandbox_key_file: Path | None = None
    sandbox_public_key_file: Path | None = None
    sandbox_queue_size: int = 64  # queries waiting for a sandbox beyond this get 503 + Retry-After
    sandbox_lease_seconds: float = 30.0  # how long past its time limit a silent job is presumed dead
    catalog_cache_seconds: float = 2.0  # public catalog pages shared for this long across API nodes (market/recent.py)
    store_url: str | None = None
    s3_endpoint_url: str | None = None

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'shuyu.db').resolve()}"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def store_dir(self) -> Path:
        return self.data_dir / "store"

    @property
    def private_key_path(self) -> Path:
        return self.sandbox_key_file or self.keys_dir / "sandbox.key"

    @property
    def public_key_path(self) -> Path:
        return self.sandbox_public_key_file or self.keys_dir / "sandbox.pub"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id)

    def master_key_bytes(self) -> bytes:
        """The 32-byte master key: from SHUYU_MASTER_KEY, or generated once into the data dir in development."""
        if self.master_key:
            key = base64.b64decode(self.master_key)
            if len(key) != 32:
                raise ConfigError("SHUYU_MASTER_KEY must be 32 bytes, base64-encoded")
            return key
        if self.env == "production":
            raise ConfigError("SHUYU_MASTER_KEY is required in production; generated keys are refused")
        return base64.b64decode(_generated_secret(self.keys_dir / "master.key"))


def _generated_secret(path: Path) -> str:
    """Read a secret from `path`, creating it (mode 0600) on first use. Never committed: it lives in the data dir."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = base64.b64encode(secrets.token_bytes(32)).decode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    return value


def check_production(settings: Settings) -> None:
    """Refuse to start production with generated or placeholder secrets."""
    if settings.env != "production":
        return
    settings.master_key_bytes()
    for name in ("stripe_secret_key", "stripe_webhook_secret"):
        value = getattr(settings, name)
        if value and ("placeholder" in value or value.endswith("_test_dummy")):
            raise ConfigError(f"SHUYU_{name.upper()} looks like a placeholder; refusing to start in production")
    if settings.oidc_enabled:
        if not (settings.oidc_issuer or "").startswith("https://"):
            raise ConfigError("SHUYU_OIDC_ISSUER must be an https:// address in production")
        if not settings.oidc_client_secret or "placeholder" in settings.oidc_client_secret:
            raise ConfigError("SHUYU_OIDC_CLIENT_SECRET is missing or a placeholder; refusing to start in production")
    defaults = Settings.model_fields
    for name in ("treasury_account_name", "treasury_bank", "treasury_account_number"):
        value = getattr(settings, name)
        if value == defaults[name].default or "演示" in value or "placeholder" in value.lower():
            raise ConfigError(f"SHUYU_{name.upper()} is the demo value; set the real treasury account in production")


def two_factor_required(settings: Settings, role: str) -> bool:
    """Whether people with this role must sign in with a second factor."""
    roles = settings.two_factor_required_roles
    if roles is None:
        roles = list(PRODUCTION_TWO_FACTOR_ROLES) if settings.env == "production" else []
    return role in roles


PRODUCTION_TWO_FACTOR_ROLES = ("data_office", "finance", "admin")


@lru_cache
def get_settings() -> Settings:
    return Settings()
