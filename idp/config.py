"""Settings: built-in defaults, then a TOML file (IDP_CONFIG), then IDP_<SECTION>_<KEY> env vars."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit


class ConfigError(ValueError):
    """A setting is missing or invalid; the message names the key."""


@dataclass(frozen=True)
class ServerSettings:
    issuer: str = "http://127.0.0.1:5000"
    secret_key: str = ""
    dev: bool = False
    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = 2
    max_request_bytes: int = 65536
    proxy_hops: int = 0


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = "sqlite:///instance/idp.sqlite3"


@dataclass(frozen=True)
class RedisSettings:
    url: str = ""
    prefix: str = "idp:"


@dataclass(frozen=True)
class SessionSettings:
    cookie_name: str = "idp_session"
    idle_minutes: int = 30
    absolute_hours: int = 12
    remember_days: int = 30


@dataclass(frozen=True)
class TokenSettings:
    access_token_seconds: int = 600
    id_token_seconds: int = 3600
    refresh_token_days: int = 30
    code_seconds: int = 60


@dataclass(frozen=True)
class KeySettings:
    encryption_key: str = ""
    default_alg: str = "RS256"
    reload_seconds: int = 30


@dataclass(frozen=True)
class PasswordSettings:
    min_length: int = 10
    min_strength: int = 3
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 2


@dataclass(frozen=True)
class AccountSettings:
    registration: bool = True
    phone_region: str = "VN"
    phone_sign_in: bool = False


@dataclass(frozen=True)
class SmsSettings:
    sender: str = "none"
    code_ttl_seconds: int = 360
    max_tries: int = 5
    resend_seconds: int = 60
    per_phone_per_day: int = 10
    per_ip_per_hour: int = 20
    per_prefix_per_hour: int = 200
    allowed_countries: tuple[str, ...] = ("VN",)
    daily_budget: int = 5000
    unverified_numbers_per_day: int = 3
    timeout_seconds: int = 5
    plain_text: bool = True
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_api_key_sid: str = ""
    twilio_api_key_secret: str = ""
    twilio_from: str = ""
    twilio_messaging_service_sid: str = ""
    twilio_base_url: str = "https://api.twilio.com"


@dataclass(frozen=True)
class MailSettings:
    sender: str = "none"
    from_address: str = ""
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = True
    timeout_seconds: int = 10


@dataclass(frozen=True)
class SignInSettings:
    failures_per_ip: int = 30
    ip_block_minutes: int = 15
    free_failures_per_account: int = 3
    max_delay_seconds: int = 900
    lockout_failures: int = 50
    lockout_minutes: int = 30


@dataclass(frozen=True)
class ProviderSettings:
    """One upstream identity provider ([[federation.providers]])."""

    name: str = ""
    kind: str = ""
    client_id: str = ""
    client_secret: str = ""
    label: str = ""
    discovery_url: str = ""
    authorize_url: str = ""
    token_url: str = ""
    userinfo_url: str = ""
    graph_url: str = ""
    scopes: tuple[str, ...] = ()
    subject_claim: str = "sub"
    email_claim: str = "email"
    email_verified_claim: str = "email_verified"
    name_claim: str = "name"
    phone_claim: str = "phone_number"


PROVIDER_KINDS = {
    "google": {
        "label": "Google",
        "discovery_url": "https://accounts.google.com/.well-known/openid-configuration",
        "scopes": ("openid", "email", "profile"),
    },
    "facebook": {
        "label": "Facebook",
        "authorize_url": "https://www.facebook.com/v19.0/dialog/oauth",
        "token_url": "https://graph.facebook.com/v19.0/oauth/access_token",
        "graph_url": "https://graph.facebook.com/v19.0",
        "scopes": ("email", "public_profile"),
    },
    "zalo": {
        "label": "Zalo",
        "authorize_url": "https://oauth.zaloapp.com/v4/permission",
        "token_url": "https://oauth.zaloapp.com/v4/access_token",
        "graph_url": "https://graph.zalo.me/v2.0",
    },
    "oidc": {"scopes": ("openid", "email", "profile")},
    "oauth2": {},
}


@dataclass(frozen=True)
class FederationSettings:
    providers: tuple[ProviderSettings, ...] = ()
    timeout_seconds: int = 10


@dataclass(frozen=True)
class LinkingSettings:
    directory: str = "table"
    billing_url: str = ""
    billing_token: str = ""
    timeout_seconds: int = 5
    lookups_per_account_per_hour: int = 10
    lookups_per_ip_per_hour: int = 30
    pending_hours: int = 12


@dataclass(frozen=True)
class LogoutSettings:
    backchannel_timeout_seconds: int = 3
    backchannel_attempts: int = 3
    backchannel_retry_seconds: int = 2


@dataclass(frozen=True)
class I18nSettings:
    default_locale: str = "vi"


@dataclass(frozen=True)
class BrandingSettings:
    operator_name: str = "idp"
    logo_url: str = ""
    primary_colour: str = "#0b5cad"
    support_phone: str = ""
    support_email: str = ""


@dataclass(frozen=True)
class Settings:
    server: ServerSettings = field(default_factory=ServerSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    session: SessionSettings = field(default_factory=SessionSettings)
    tokens: TokenSettings = field(default_factory=TokenSettings)
    keys: KeySettings = field(default_factory=KeySettings)
    passwords: PasswordSettings = field(default_factory=PasswordSettings)
    accounts: AccountSettings = field(default_factory=AccountSettings)
    signin: SignInSettings = field(default_factory=SignInSettings)
    sms: SmsSettings = field(default_factory=SmsSettings)
    mail: MailSettings = field(default_factory=MailSettings)
    federation: FederationSettings = field(default_factory=FederationSettings)
    linking: LinkingSettings = field(default_factory=LinkingSettings)
    logout: LogoutSettings = field(default_factory=LogoutSettings)
    i18n: I18nSettings = field(default_factory=I18nSettings)
    branding: BrandingSettings = field(default_factory=BrandingSettings)

    @property
    def secure_cookies(self) -> bool:
        return urlsplit(self.server.issuer).scheme == "https"

    @property
    def sqlalchemy_url(self) -> str:
        url = self.database.url
        if url.startswith("postgresql://") or url.startswith("postgres://"):
            return "postgresql+psycopg://" + url.split("://", 1)[1]
        return url


SUPPORTED_ALGS = ("RS256", "ES256", "EdDSA")
SUPPORTED_LOCALES = ("vi", "en")
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def load_settings(
    path: str | os.PathLike | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Settings:
    """Build validated settings from a TOML file, env vars and explicit overrides."""
    env = os.environ if env is None else env
    path = path if path is not None else env.get("IDP_CONFIG") or None
    raw: dict[str, dict[str, Any]] = {}
    if path:
        raw = _read_toml(Path(path))
    sections = {}
    for section_field in dataclasses.fields(Settings):
        name = section_field.name
        section_cls = section_field.default_factory  # type: ignore[misc]
        section = raw.pop(name, {})
        if not isinstance(section, dict):
            raise ConfigError(f"{name}: must be a table ([{name}]), got {section!r}")
        values = dict(section)
        for key_field in dataclasses.fields(section_cls):
            env_name = f"IDP_{name}_{key_field.name}".upper()
            if env_name in env:
                values[key_field.name] = env[env_name]
        if overrides and name in overrides:
            values.update(overrides[name])
        if name == "federation":
            values["providers"] = _build_providers(values.get("providers", []), env)
        sections[name] = _build_section(name, section_cls, values)
    if raw:
        raise ConfigError(f"{sorted(raw)[0]}: unknown section")
    settings = Settings(**sections)
    _validate(settings)
    return settings


def _read_toml(path: Path) -> dict:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"IDP_CONFIG: no such file {path}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"IDP_CONFIG: {path} is not valid TOML ({error})") from None


def _build_section(name: str, cls: type, values: dict[str, Any]):
    known = {f.name: f for f in dataclasses.fields(cls)}
    converted = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"{name}.{key}: unknown key")
        if key == "providers" and cls is FederationSettings:
            converted[key] = value
            continue
        converted[key] = _convert(f"{name}.{key}", known[key].type, value)
    return cls(**converted)


def _build_providers(raw: Any, env: Mapping[str, str]) -> tuple[ProviderSettings, ...]:
    """[[federation.providers]] tables, each completed with its kind's defaults.

    Secrets can come from the environment: IDP_FEDERATION_<NAME>_CLIENT_SECRET and so on.
    """
    if isinstance(raw, tuple) and all(isinstance(p, ProviderSettings) for p in raw):
        return raw
    if not isinstance(raw, list) or not all(isinstance(p, dict) for p in raw):
        raise ConfigError("federation.providers: must be a list of tables ([[federation.providers]])")
    providers = []
    for index, table in enumerate(raw):
        name = str(table.get("name", ""))
        where = f"federation.providers[{index}]" if not name else f"federation.providers.{name}"
        if not re.fullmatch(r"[a-z][a-z0-9-]{1,31}", name):
            raise ConfigError(f"{where}.name: must be 2-32 lowercase letters, digits or dashes")
        kind = table.get("kind", name if name in PROVIDER_KINDS else "")
        if kind not in PROVIDER_KINDS:
            raise ConfigError(f"{where}.kind: must be one of {', '.join(PROVIDER_KINDS)}")
        values = {**PROVIDER_KINDS[kind], **table, "kind": kind}
        for key_field in dataclasses.fields(ProviderSettings):
            env_name = f"IDP_FEDERATION_{name.replace('-', '_')}_{key_field.name}".upper()
            if env_name in env:
                values[key_field.name] = env[env_name]
        provider = _build_section(where, ProviderSettings, values)
        if not provider.label:
            provider = dataclasses.replace(provider, label=name)
        _validate_provider(where, provider)
        providers.append(provider)
    names = [p.name for p in providers]
    if len(set(names)) != len(names):
        raise ConfigError("federation.providers: two providers have the same name")
    return tuple(providers)


def _validate_provider(where: str, p: ProviderSettings) -> None:
    if not p.client_id or not p.client_secret:
        raise ConfigError(f"{where}.client_id: client_id and client_secret are required")
    needed = {"oidc": ["discovery_url"], "google": ["discovery_url"], "oauth2": ["authorize_url", "token_url", "userinfo_url"],
              "facebook": ["authorize_url", "token_url", "graph_url"], "zalo": ["authorize_url", "token_url", "graph_url"]}
    for key in needed[p.kind]:
        url = getattr(p, key)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"{where}.{key}: must be an http(s) URL")
        if parts.scheme == "http" and parts.hostname not in LOCAL_HOSTS:
            raise ConfigError(f"{where}.{key}: must use https")


def _convert(key: str, type_name: str, value: Any) -> Any:
    if type_name == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"{key}: must be true or false, got {value!r}")
    if type_name == "int":
        if isinstance(value, (bool, float)):
            raise ConfigError(f"{key}: must be a whole number, got {value!r}")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key}: must be a whole number, got {value!r}") from None
    if type_name.startswith("tuple"):
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{key}: must be a list of strings, got {value!r}")
        return tuple(value)
    if not isinstance(value, str):
        raise ConfigError(f"{key}: must be a string, got {value!r}")
    return value


def _validate(s: Settings) -> None:
    issuer = urlsplit(s.server.issuer)
    if issuer.scheme not in ("http", "https") or not issuer.hostname:
        raise ConfigError("server.issuer: must be an absolute http(s) URL")
    if issuer.query or issuer.fragment:
        raise ConfigError("server.issuer: must not have a query or fragment")
    if issuer.scheme == "http" and issuer.hostname not in LOCAL_HOSTS:
        raise ConfigError("server.issuer: must use https outside localhost")
    if s.server.issuer.endswith("/"):
        raise ConfigError("server.issuer: must not end with a slash")
    if len(s.server.secret_key) < 32:
        raise ConfigError("server.secret_key: must be at least 32 characters (run `idp config init`)")
    try:
        if len(base64.urlsafe_b64decode(s.keys.encryption_key.encode())) != 32:
            raise ValueError
    except (ValueError, binascii.Error):
        raise ConfigError(
            "keys.encryption_key: must be 32 bytes in url-safe base64 (run `idp config init`)"
        ) from None
    if s.keys.default_alg not in SUPPORTED_ALGS:
        raise ConfigError(f"keys.default_alg: must be one of {', '.join(SUPPORTED_ALGS)}")
    scheme = s.database.url.split(":", 1)[0]
    if scheme not in ("sqlite", "postgresql", "postgres", "postgresql+psycopg"):
        raise ConfigError("database.url: must be a sqlite:// or postgresql:// URL")
    if s.redis.url and urlsplit(s.redis.url).scheme not in ("redis", "rediss", "unix"):
        raise ConfigError("redis.url: must be a redis://, rediss:// or unix:// URL, or empty")
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", s.branding.primary_colour):
        raise ConfigError("branding.primary_colour: must be a colour like #0b5cad")
    if s.branding.logo_url and urlsplit(s.branding.logo_url).scheme not in ("https", "http", ""):
        raise ConfigError("branding.logo_url: must be an http(s) URL or a path")
    if not s.branding.operator_name.strip() or len(s.branding.operator_name) > 64:
        raise ConfigError("branding.operator_name: must be 1 to 64 characters")
    if s.i18n.default_locale not in SUPPORTED_LOCALES:
        raise ConfigError(f"i18n.default_locale: must be one of {', '.join(SUPPORTED_LOCALES)}")
    import phonenumbers

    if s.accounts.phone_region not in phonenumbers.SUPPORTED_REGIONS:
        raise ConfigError("accounts.phone_region: must be an ISO 3166 region code such as VN")
    _validate_sms(s)
    if s.mail.sender not in ("none", "outbox", "smtp"):
        raise ConfigError("mail.sender: must be none, outbox or smtp")
    if s.mail.sender == "outbox" and not s.server.dev:
        raise ConfigError("mail.sender: outbox only works with server.dev = true (no e-mail would reach anyone)")
    if s.mail.sender == "smtp" and (not s.mail.smtp_host or "@" not in s.mail.from_address):
        raise ConfigError("mail.smtp_host: set it and mail.from_address for the smtp sender")
    if s.linking.directory not in ("table", "billing"):
        raise ConfigError("linking.directory: must be table or billing")
    if s.linking.directory == "billing":
        billing = urlsplit(s.linking.billing_url)
        if billing.scheme not in ("http", "https") or not billing.hostname:
            raise ConfigError("linking.billing_url: must be the http(s) URL of the billing system")
        if billing.scheme == "http" and billing.hostname not in LOCAL_HOSTS:
            raise ConfigError("linking.billing_url: must use https")
    if s.accounts.phone_sign_in and s.sms.sender == "none":
        raise ConfigError("accounts.phone_sign_in: needs an SMS sender (sms.sender)")
    if not 0 <= s.passwords.min_strength <= 4:
        raise ConfigError("passwords.min_strength: must be between 0 and 4")
    if not 8 <= s.passwords.min_length <= 64:
        raise ConfigError("passwords.min_length: must be between 8 and 64")
    positive = {
        "server.port": s.server.port,
        "server.workers": s.server.workers,
        "server.max_request_bytes": s.server.max_request_bytes,
        "session.idle_minutes": s.session.idle_minutes,
        "session.absolute_hours": s.session.absolute_hours,
        "session.remember_days": s.session.remember_days,
        "tokens.access_token_seconds": s.tokens.access_token_seconds,
        "tokens.id_token_seconds": s.tokens.id_token_seconds,
        "tokens.refresh_token_days": s.tokens.refresh_token_days,
        "tokens.code_seconds": s.tokens.code_seconds,
        "keys.reload_seconds": s.keys.reload_seconds,
        "signin.failures_per_ip": s.signin.failures_per_ip,
        "signin.ip_block_minutes": s.signin.ip_block_minutes,
        "signin.max_delay_seconds": s.signin.max_delay_seconds,
        "signin.lockout_failures": s.signin.lockout_failures,
        "signin.lockout_minutes": s.signin.lockout_minutes,
        "federation.timeout_seconds": s.federation.timeout_seconds,
        "linking.timeout_seconds": s.linking.timeout_seconds,
        "linking.lookups_per_account_per_hour": s.linking.lookups_per_account_per_hour,
        "linking.lookups_per_ip_per_hour": s.linking.lookups_per_ip_per_hour,
        "linking.pending_hours": s.linking.pending_hours,
        "logout.backchannel_timeout_seconds": s.logout.backchannel_timeout_seconds,
        "logout.backchannel_attempts": s.logout.backchannel_attempts,
        "passwords.argon2_time_cost": s.passwords.argon2_time_cost,
        "passwords.argon2_memory_kib": s.passwords.argon2_memory_kib,
        "passwords.argon2_parallelism": s.passwords.argon2_parallelism,
    }
    for key, value in positive.items():
        if value <= 0:
            raise ConfigError(f"{key}: must be greater than zero")
    if s.logout.backchannel_retry_seconds < 0:
        raise ConfigError("logout.backchannel_retry_seconds: must not be negative")
    if s.server.proxy_hops < 0:
        raise ConfigError("server.proxy_hops: must not be negative")
    if s.tokens.code_seconds > 600:
        raise ConfigError("tokens.code_seconds: must be at most 600 (RFC 6749 §4.1.2)")


def _validate_sms(s: Settings) -> None:
    import phonenumbers

    sms = s.sms
    if sms.sender not in ("none", "outbox", "twilio"):
        raise ConfigError("sms.sender: must be none, outbox or twilio")
    if sms.sender == "outbox" and not s.server.dev:
        raise ConfigError("sms.sender: outbox only works with server.dev = true (no code would reach anyone)")
    if sms.sender == "twilio":
        if not sms.twilio_account_sid.startswith("AC"):
            raise ConfigError("sms.twilio_account_sid: must be set (it starts with AC)")
        if not sms.twilio_auth_token and not (sms.twilio_api_key_sid and sms.twilio_api_key_secret):
            raise ConfigError("sms.twilio_auth_token: set it, or sms.twilio_api_key_sid and sms.twilio_api_key_secret")
        if not sms.twilio_from and not sms.twilio_messaging_service_sid:
            raise ConfigError("sms.twilio_from: set it, or sms.twilio_messaging_service_sid")
        if urlsplit(sms.twilio_base_url).scheme not in ("http", "https"):
            raise ConfigError("sms.twilio_base_url: must be an http(s) URL")
    unknown = [c for c in sms.allowed_countries if c not in phonenumbers.SUPPORTED_REGIONS]
    if unknown or not sms.allowed_countries:
        raise ConfigError("sms.allowed_countries: must list ISO 3166 region codes such as VN")
    for name in ("code_ttl_seconds", "max_tries", "resend_seconds", "per_phone_per_day", "per_ip_per_hour",
                 "per_prefix_per_hour", "daily_budget", "unverified_numbers_per_day", "timeout_seconds"):
        if getattr(sms, name) <= 0:
            raise ConfigError(f"sms.{name}: must be greater than zero")


def generate_config_text(database_url: str, issuer: str = "http://127.0.0.1:5000", dev: bool = True) -> str:
    """A minimal TOML config with freshly generated secrets."""
    secret = base64.urlsafe_b64encode(os.urandom(48)).decode()
    key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    return (
        "# Generated by `idp config init`. Every key is documented in config.example.toml.\n"
        "[server]\n"
        f'issuer = "{issuer}"\n'
        f'secret_key = "{secret}"\n'
        f"dev = {'true' if dev else 'false'}\n\n"
        "[sms]\n"
        f"sender = \"{'outbox' if dev else 'none'}\"\n\n"
        "[mail]\n"
        f"sender = \"{'outbox' if dev else 'none'}\"\n\n"
        "[database]\n"
        f'url = "{database_url}"\n\n'
        "[keys]\n"
        f'encryption_key = "{key}"\n'
    )
