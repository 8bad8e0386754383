"""Settings (idp/config.py): defaults, the TOML file, IDP_* variables, and one test per validation rule."""

from __future__ import annotations

import base64

import pytest

from idp.config import ConfigError, Settings, load_settings

SECRET = "s" * 40
KEY = base64.urlsafe_b64encode(b"e" * 32).decode()
VALID = {"IDP_SERVER_SECRET_KEY": SECRET, "IDP_KEYS_ENCRYPTION_KEY": KEY}


def write(tmp_path, text: str, name: str = "idp.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def valid_file(tmp_path, extra: str = "", issuer: str = "https://id.example.com"):
    return write(
        tmp_path,
        f'[server]\nissuer = "{issuer}"\nsecret_key = "{SECRET}"\n\n'
        f'[keys]\nencryption_key = "{KEY}"\n\n'
        '[database]\nurl = "postgresql://idp@db.internal:5432/idp"\n\n'
        '[redis]\nurl = "redis://cache.internal:6379/0"\n' + extra,
    )


def config_error(path=None, env=None) -> str:
    with pytest.raises(ConfigError) as raised:
        load_settings(path, env=env or {})
    return str(raised.value)


# defaults ------------------------------------------------------------------------------


def test_defaults_need_a_secret_key():
    assert config_error(None, {}).startswith("server.secret_key:")


def test_defaults_with_secrets_given_are_valid():
    settings = load_settings(None, env=VALID)

    assert isinstance(settings, Settings)
    assert settings.server.issuer == "http://127.0.0.1:5000"
    assert settings.database.url == "sqlite:///instance/idp.sqlite3"
    assert settings.redis.url == ""
    assert settings.tokens.code_seconds == 60
    assert settings.keys.default_alg == "RS256"
    assert settings.secure_cookies is False


def test_defaults_need_an_encryption_key_too():
    assert config_error(None, {"IDP_SERVER_SECRET_KEY": SECRET}).startswith("keys.encryption_key:")


def test_environment_is_not_read_when_env_is_given(monkeypatch):
    monkeypatch.setenv("IDP_SERVER_SECRET_KEY", SECRET)
    monkeypatch.setenv("IDP_KEYS_ENCRYPTION_KEY", KEY)

    assert config_error(None, {}).startswith("server.secret_key:")


# the TOML file -------------------------------------------------------------------------------


def test_file_values_are_used(tmp_path):
    path = valid_file(tmp_path, '\n[tokens]\naccess_token_seconds = 300\n\n[accounts]\nregistration = false\n')

    settings = load_settings(path, env={})

    assert settings.server.issuer == "https://id.example.com"
    assert settings.server.secret_key == SECRET
    assert settings.keys.encryption_key == KEY
    assert settings.database.url == "postgresql://idp@db.internal:5432/idp"
    assert settings.sqlalchemy_url == "postgresql+psycopg://idp@db.internal:5432/idp"
    assert settings.redis.url == "redis://cache.internal:6379/0"
    assert settings.tokens.access_token_seconds == 300
    assert settings.accounts.registration is False
    assert settings.secure_cookies is True
    # keys the file does not set keep their defaults
    assert settings.tokens.code_seconds == 60


def test_file_named_by_idp_config_is_read(tmp_path):
    path = valid_file(tmp_path)

    settings = load_settings(None, env={"IDP_CONFIG": str(path)})

    assert settings.server.issuer == "https://id.example.com"


def test_env_vars_override_the_file(tmp_path):
    path = valid_file(tmp_path)

    settings = load_settings(
        path,
        env={
            "IDP_SERVER_ISSUER": "https://login.example.net",
            "IDP_DATABASE_URL": "sqlite:////var/lib/idp/idp.sqlite3",
            "IDP_REDIS_URL": "rediss://other-cache:6380/2",
        },
    )

    assert settings.server.issuer == "https://login.example.net"
    assert settings.database.url == "sqlite:////var/lib/idp/idp.sqlite3"
    assert settings.redis.url == "rediss://other-cache:6380/2"
    assert settings.server.secret_key == SECRET  # untouched keys still come from the file


def test_empty_redis_url_from_env_turns_redis_off(tmp_path):
    settings = load_settings(valid_file(tmp_path), env={"IDP_REDIS_URL": ""})

    assert settings.redis.url == ""


def test_env_values_are_converted_to_ints_bools_and_lists():
    settings = load_settings(
        None,
        env={
            **VALID,
            "IDP_SERVER_PORT": "8080",
            "IDP_SERVER_PROXY_HOPS": "2",
            "IDP_TOKENS_CODE_SECONDS": "600",
            "IDP_SERVER_DEV": "true",
            "IDP_ACCOUNTS_REGISTRATION": "no",
            "IDP_SMS_ALLOWED_COUNTRIES": "VN, US",
        },
    )

    assert settings.server.port == 8080
    assert settings.server.proxy_hops == 2
    assert settings.tokens.code_seconds == 600
    assert settings.server.dev is True
    assert settings.accounts.registration is False
    assert settings.sms.allowed_countries == ("VN", "US")


@pytest.mark.parametrize(
    "raw, expected",
    [("1", True), ("TRUE", True), ("yes", True), ("on", True), ("0", False), ("false", False), ("Off", False), ("", False)],
)
def test_bool_spellings_from_env(raw, expected):
    assert load_settings(None, env={**VALID, "IDP_SERVER_DEV": raw}).server.dev is expected


# validation: one test per rule, the message names the key ------------------------------------------


def test_http_issuer_outside_localhost_is_refused():
    message = config_error(None, {**VALID, "IDP_SERVER_ISSUER": "http://id.example.com"})

    assert message == "server.issuer: must use https outside localhost"


@pytest.mark.parametrize("issuer", ["http://localhost", "http://127.0.0.1:5000", "http://[::1]:8000"])
def test_http_issuer_on_localhost_is_allowed(issuer):
    assert load_settings(None, env={**VALID, "IDP_SERVER_ISSUER": issuer}).server.issuer == issuer


def test_issuer_with_trailing_slash_is_refused():
    message = config_error(None, {**VALID, "IDP_SERVER_ISSUER": "https://id.example.com/"})

    assert message == "server.issuer: must not end with a slash"


def test_short_secret_key_is_refused():
    assert config_error(None, {**VALID, "IDP_SERVER_SECRET_KEY": "x" * 31}).startswith("server.secret_key:")


@pytest.mark.parametrize(
    "bad_key",
    [
        "not base64 at all!",
        base64.urlsafe_b64encode(b"k" * 16).decode(),  # 16 bytes, not 32
        base64.urlsafe_b64encode(b"k" * 33).decode(),
    ],
)
def test_bad_encryption_key_is_refused(bad_key):
    assert config_error(None, {**VALID, "IDP_KEYS_ENCRYPTION_KEY": bad_key}).startswith("keys.encryption_key:")


@pytest.mark.parametrize("url", ["mysql://idp@db/idp", "db.sqlite3", "http://db.internal/idp"])
def test_bad_database_url_scheme_is_refused(url):
    message = config_error(None, {**VALID, "IDP_DATABASE_URL": url})

    assert message == "database.url: must be a sqlite:// or postgresql:// URL"


@pytest.mark.parametrize("url", ["postgresql://idp@db/idp", "postgres://idp@db/idp", "sqlite:///x.sqlite3"])
def test_supported_database_urls_are_accepted(url):
    assert load_settings(None, env={**VALID, "IDP_DATABASE_URL": url}).database.url == url


@pytest.mark.parametrize("url", ["http://cache:6379/0", "cache:6379"])
def test_bad_redis_url_is_refused(url):
    assert config_error(None, {**VALID, "IDP_REDIS_URL": url}).startswith("redis.url:")


def test_unknown_section_is_refused(tmp_path):
    path = valid_file(tmp_path, '\n[bogus]\nanswer = 42\n')

    assert config_error(path) == "bogus: unknown section"


def test_top_level_key_outside_any_section_is_refused(tmp_path):
    path = write(tmp_path, 'issuer = "https://id.example.com"\n')

    assert config_error(path, VALID) == "issuer: unknown section"


def test_section_given_as_a_plain_value_is_a_config_error(tmp_path):
    # `server = "..."` instead of a [server] table: one line naming the key, not a crash.
    path = write(tmp_path, 'server = "https://id.example.com"\n')

    assert config_error(path, VALID).startswith("server: ")


def test_unknown_key_is_refused(tmp_path):
    path = valid_file(tmp_path, '\n[tokens]\naccess_token_minutes = 10\n')

    assert config_error(path) == "tokens.access_token_minutes: unknown key"


def test_non_integer_int_from_env_is_refused():
    message = config_error(None, {**VALID, "IDP_SERVER_PORT": "eighty"})

    assert message.startswith("server.port: must be a whole number")


@pytest.mark.parametrize("value", ['"eighty"', "true", "8.5", "[80]"])
def test_non_integer_int_in_file_is_refused(tmp_path, value):
    path = write(tmp_path, f"[server]\nport = {value}\n")

    assert config_error(path, VALID).startswith("server.port: must be a whole number")


def test_non_bool_bool_is_refused():
    assert config_error(None, {**VALID, "IDP_SERVER_DEV": "maybe"}).startswith("server.dev: must be true or false")


def test_non_string_string_is_refused(tmp_path):
    path = write(tmp_path, "[server]\nissuer = 443\n")

    assert config_error(path, VALID).startswith("server.issuer: must be a string")


def test_bad_default_alg_is_refused():
    message = config_error(None, {**VALID, "IDP_KEYS_DEFAULT_ALG": "HS256"})

    assert message == "keys.default_alg: must be one of RS256, ES256, EdDSA"


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
def test_supported_default_algs_are_accepted(alg):
    assert load_settings(None, env={**VALID, "IDP_KEYS_DEFAULT_ALG": alg}).keys.default_alg == alg


@pytest.mark.parametrize("region", ["XX", "vn", ""])
def test_bad_phone_region_is_refused(region):
    message = config_error(None, {**VALID, "IDP_ACCOUNTS_PHONE_REGION": region})

    assert message.startswith("accounts.phone_region:")


def test_code_seconds_above_600_is_refused():
    message = config_error(None, {**VALID, "IDP_TOKENS_CODE_SECONDS": "601"})

    assert message.startswith("tokens.code_seconds: must be at most 600")


@pytest.mark.parametrize("key", ["IDP_TOKENS_CODE_SECONDS", "IDP_SERVER_PORT", "IDP_PASSWORDS_ARGON2_TIME_COST"])
def test_zero_for_a_positive_setting_is_refused(key):
    section_key = key.removeprefix("IDP_").lower().replace("_", ".", 1)

    assert config_error(None, {**VALID, key: "0"}) == f"{section_key}: must be greater than zero"


def test_negative_proxy_hops_is_refused():
    assert config_error(None, {**VALID, "IDP_SERVER_PROXY_HOPS": "-1"}) == "server.proxy_hops: must not be negative"


def test_missing_config_file_is_refused(tmp_path):
    missing = tmp_path / "nowhere" / "idp.toml"

    assert config_error(missing) == f"IDP_CONFIG: no such file {missing}"
    assert config_error(None, {"IDP_CONFIG": str(missing)}) == f"IDP_CONFIG: no such file {missing}"


def test_invalid_toml_is_refused(tmp_path):
    path = write(tmp_path, '[server\nissuer = "https://id.example.com"\n')

    message = config_error(path, VALID)

    assert message.startswith(f"IDP_CONFIG: {path} is not valid TOML (")
