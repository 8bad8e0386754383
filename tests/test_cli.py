"""The real `idp` console script, run as a subprocess against a config written by `idp config init`.

Everything runs on one SQLite installation; with IDP_TEST_DATABASE_URL (and
IDP_TEST_REDIS_URL) one more test runs the production set-up on PostgreSQL + Redis.
Bad input must exit with status 2 and print exactly one line on stderr, starting
with `error:`, and change nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError

from .conftest import PG_URL, REDIS_URL, RUN_ID, _dispose

ROOT = Path(__file__).resolve().parent.parent
ALGS = {"RS256", "ES256", "EdDSA"}
GOOD_PASSWORD = "Correct-Horse-Battery-9!"
OTHER_PASSWORD = "Another-Long-Passphrase-42?"


def _idp_script() -> str:
    beside_python = Path(sys.executable).parent / "idp"
    found = str(beside_python) if beside_python.exists() else shutil.which("idp")
    assert found, "the idp console script is not installed (pip install -e .)"
    return found


IDP = _idp_script()


class Instance:
    """An idp installation in a temporary directory: its config, its database, and a way to run commands."""

    def __init__(self, name: str, workdir: Path):
        self.name = name
        self.workdir = workdir
        self.config = workdir / "idp.toml"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
        self.env.update(
            IDP_CONFIG=str(self.config),
            IDP_PASSWORDS_ARGON2_TIME_COST="1",
            IDP_PASSWORDS_ARGON2_MEMORY_KIB="64",
            IDP_PASSWORDS_ARGON2_PARALLELISM="1",
        )
        self.admin_engine = None
        if name == "sqlite":
            self.database_url = f"sqlite:///{workdir / 'x.sqlite3'}"
            self.sqlalchemy_url = self.database_url
        else:
            self.db_name = f"idp_cli_{RUN_ID}"
            base = sa.make_url(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
            self.admin_engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")
            with self.admin_engine.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.db_name}"'))
                conn.execute(sa.text(f'CREATE DATABASE "{self.db_name}"'))
            self.sqlalchemy_url = base.set(database=self.db_name).render_as_string(hide_password=False)
            self.database_url = self.sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://", 1)
            if REDIS_URL:
                self.redis_prefix = f"idp-test:{RUN_ID}:cli:"
                self.env.update(IDP_REDIS_URL=REDIS_URL, IDP_REDIS_PREFIX=self.redis_prefix)
        self.init_result = self.run("config", "init", "--path", str(self.config), "--database-url", self.database_url)
        self.upgrade_result = self.run("db", "upgrade")
        self.engine = sa.create_engine(self.sqlalchemy_url)

    def run(self, *args: str, stdin: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [IDP, *args],
            input=stdin if stdin is not None else "",
            capture_output=True,
            text=True,
            cwd=self.workdir,
            env={**self.env, **(env or {})},
            timeout=120,
        )

    def ok(self, *args: str, stdin: str | None = None) -> str:
        result = self.run(*args, stdin=stdin)
        assert result.returncode == 0, f"idp {' '.join(args)} exited {result.returncode}: {result.stderr}"
        return result.stdout

    def json(self, *args: str, stdin: str | None = None):
        return json.loads(self.ok(*args, "--json", stdin=stdin))

    def fails(self, *args: str, stdin: str | None = None, env: dict | None = None) -> str:
        """Run a command that must be refused; its one line of stderr."""
        result = self.run(*args, stdin=stdin, env=env)
        lines = result.stderr.splitlines()
        assert result.returncode == 2, f"idp {' '.join(args)} exited {result.returncode}: {result.stderr}{result.stdout}"
        assert len(lines) == 1, f"expected one line on stderr, got: {result.stderr!r}"
        assert lines[0].startswith("error: "), lines[0]
        return lines[0]

    def query(self, sql: str, **params) -> list:
        with self.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(sa.text(sql), params)]

    def close(self):
        self.engine.dispose()
        if self.admin_engine is not None:
            with self.admin_engine.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)'))
            self.admin_engine.dispose()
            if REDIS_URL:
                import redis

                client = redis.Redis.from_url(REDIS_URL)
                for key in client.scan_iter(self.redis_prefix + "*", count=1000):
                    client.delete(key)
                client.close()


@pytest.fixture(scope="module")
def instance(tmp_path_factory):
    """One SQLite installation shared by this module's tests (each test uses names of its own)."""
    made = Instance("sqlite", tmp_path_factory.mktemp("cli-sqlite"))
    yield made
    made.close()


def _verifies(password_hash: str, password: str) -> bool:
    try:
        return PasswordHasher().verify(password_hash, password)
    except VerifyMismatchError:
        return False


# config init / db upgrade -------------------------------------------------------------------


def test_config_init_writes_a_private_valid_config(instance):
    assert instance.init_result.returncode == 0, instance.init_result.stderr
    assert instance.init_result.stdout.strip() == f"wrote {instance.config}"
    assert stat.S_IMODE(instance.config.stat().st_mode) == 0o600
    text = instance.config.read_text()
    assert f'url = "{instance.database_url}"' in text
    assert re.search(r'^secret_key = "[A-Za-z0-9_-]{32,}=*"$', text, re.M)


def test_db_upgrade_migrates_to_head_and_creates_signing_keys(instance):
    assert instance.upgrade_result.returncode == 0, instance.upgrade_result.stderr
    assert instance.upgrade_result.stdout.strip() == "database is up to date"
    head = ScriptDirectory(str(ROOT / "migrations")).get_current_head()

    assert instance.query("SELECT version_num FROM alembic_version") == [(head,)]
    current = instance.query("SELECT alg FROM signing_keys WHERE retired_at IS NULL")
    assert sorted(alg for (alg,) in current) == sorted(ALGS)


# clients ----------------------------------------------------------------------------------------


def test_clients_add_list_show_rotate_remove(instance):
    # text output: the client_id and the secret, once
    out = instance.ok("clients", "add", "--name", "Self care", "--redirect-uri", "https://selfcare.example/cb", "--first-party")
    text_id = re.search(r"^client_id: (\S+)$", out, re.M).group(1)
    text_secret = re.search(r"^client_secret: (\S+)$", out, re.M).group(1)
    assert len(text_secret) >= 32
    assert "shown only now" in out
    # idp keeps only the SHA-256 digest of the secret
    assert instance.query("SELECT secret_digest FROM clients WHERE client_id = :c", c=text_id) == [
        (hashlib.sha256(text_secret.encode()).hexdigest(),)
    ]

    # --json
    wallet = instance.json(
        "clients", "add", "--name", "Wallet", "--client-id", "wallet-cli", "--redirect-uri", "https://wallet.example/cb",
        "--scope", "openid profile", "--scope", "offline_access", "--id-token-alg", "ES256",
    )
    assert wallet["client_id"] == "wallet-cli"
    assert isinstance(wallet["client_secret"], str) and len(wallet["client_secret"]) >= 32
    assert wallet["public"] is False
    assert wallet["scopes"] == ["openid", "profile", "offline_access"]
    assert wallet["id_token_alg"] == "ES256"
    assert wallet["redirect_uris"] == ["https://wallet.example/cb"]

    # --public: no secret
    app = instance.json("clients", "add", "--public", "--name", "Phone app", "--redirect-uri", "http://127.0.0.1:8080/cb")
    assert app["public"] is True
    assert app["client_secret"] is None
    assert instance.query("SELECT secret_digest FROM clients WHERE client_id = :c", c=app["client_id"]) == [(None,)]

    listed_raw = instance.ok("clients", "list", "--json")
    listed = {row["client_id"]: row for row in json.loads(listed_raw)}
    assert {text_id, "wallet-cli", app["client_id"]} <= set(listed)
    assert listed[text_id]["first_party"] is True and listed[text_id]["name"] == "Self care"
    assert all("client_secret" not in row for row in listed.values())
    assert text_secret not in listed_raw and wallet["client_secret"] not in listed_raw

    shown = instance.ok("clients", "show", "wallet-cli")
    assert "client_id: wallet-cli" in shown.splitlines()
    assert "name: Wallet" in shown.splitlines()
    assert wallet["client_secret"] not in shown

    rotated = instance.json("clients", "rotate-secret", "wallet-cli")
    assert rotated["client_id"] == "wallet-cli"
    assert rotated["client_secret"] and rotated["client_secret"] != wallet["client_secret"]
    assert instance.query("SELECT secret_digest FROM clients WHERE client_id = 'wallet-cli'") == [
        (hashlib.sha256(rotated["client_secret"].encode()).hexdigest(),)
    ]

    assert instance.ok("clients", "remove", text_id).strip() == f"removed {text_id}"
    assert instance.fails("clients", "show", text_id) == f"error: no client with id {text_id}"
    assert instance.query("SELECT count(*) FROM clients WHERE client_id = :c", c=text_id) == [(0,)]


# users ------------------------------------------------------------------------------------------------


def test_users_add_list_lock_unlock_set_password(instance):
    created = instance.json(
        "users", "add", "--username", "Minh", "--email", "Minh@Example.com", "--phone", "0912345678",
        "--name", "Trần Minh", "--password-stdin", stdin=GOOD_PASSWORD + "\n",
    )
    assert created["username"] == "minh"
    assert created["email"] == "minh@example.com"
    assert created["phone"] == "+84912345678"
    assert created["name"] == "Trần Minh"
    assert created["locked"] is False
    [(first_hash,)] = instance.query("SELECT password_hash FROM users WHERE username = 'minh'")
    assert _verifies(first_hash, GOOD_PASSWORD)  # the password read from standard input

    # a duplicate username (in any case) is refused and changes nothing
    refused = instance.fails("users", "add", "--username", "MINH", "--password-stdin", stdin=OTHER_PASSWORD + "\n")
    assert refused == "error: that username is taken"
    assert instance.query("SELECT count(*) FROM users WHERE username = 'minh'") == [(1,)]

    listed = {row["username"]: row for row in instance.json("users", "list")}
    assert listed["minh"]["phone"] == "+84912345678"
    assert listed["minh"]["sub"] == created["sub"]

    # by phone in local format
    locked = instance.json("users", "lock", "0912345678")
    assert locked["username"] == "minh" and locked["locked"] is True
    assert instance.query("SELECT locked FROM users WHERE username = 'minh'") == [(True,)]

    assert instance.ok("users", "unlock", "091 234 5678").strip() == "unlocked minh"
    assert instance.query("SELECT locked FROM users WHERE username = 'minh'") == [(False,)]

    out = instance.ok("users", "set-password", "minh@example.com", "--password-stdin", stdin=OTHER_PASSWORD + "\n")
    assert out.strip() == "password changed for minh"
    [(second_hash,)] = instance.query("SELECT password_hash FROM users WHERE username = 'minh'")
    assert _verifies(second_hash, OTHER_PASSWORD)
    assert not _verifies(second_hash, GOOD_PASSWORD)


def test_what_an_operator_does_from_the_cli_is_audited_and_a_set_password_signs_out(instance):
    from idp import create_app
    from idp.config import load_settings

    from .oidc.helpers import sign_in

    instance.ok("users", "add", "--username", "dao", "--phone", "0912000444", "--password-stdin", stdin=GOOD_PASSWORD + "\n")
    app = create_app(load_settings(path=instance.config, env=instance.env), testing=True)
    browser = app.test_client()
    sign_in(browser, "dao", GOOD_PASSWORD)
    assert browser.get("/account").status_code == 200

    instance.ok("users", "set-password", "dao", "--password-stdin", stdin=OTHER_PASSWORD + "\n")
    assert browser.get("/account").headers["Location"].startswith("/login")  # signed out everywhere
    client_id = instance.json("clients", "add", "--name", "Audited", "--redirect-uri", "https://a.example/cb")["client_id"]
    instance.ok("clients", "rotate-secret", client_id)
    instance.ok("clients", "remove", client_id)
    instance.ok("keys", "rotate", "--alg", "RS256")
    events = [row[0] for row in instance.query("SELECT event FROM audit_events ORDER BY id")]
    for event in ("password.reset", "admin.client_created", "admin.client_secret_rotated", "admin.client_deleted",
                  "admin.keys_rotated"):
        assert event in events, event
    [(details,)] = instance.query("SELECT details FROM audit_events WHERE event = 'admin.client_deleted' "
                                  "AND client_id = :client_id", client_id=client_id)
    assert json.loads(details)["admin"] == "cli"
    _dispose(app)


def test_a_password_that_is_not_utf8_is_one_error_line(instance):
    result = subprocess.run([IDP, "users", "add", "--username", "bytes", "--password-stdin"], input=b"\xff\xfe-secret\n",
                            capture_output=True, cwd=instance.workdir, env=instance.env, timeout=120)
    assert result.returncode == 2
    assert result.stderr.decode().splitlines() == ["error: standard input is not UTF-8 text"]


# keys ---------------------------------------------------------------------------------------------------


def test_keys_list_and_rotate(instance):
    before = instance.json("keys", "list")
    current_before = {k["kid"]: k["alg"] for k in before if k["retired_at"] is None}
    assert sorted(current_before.values()) == sorted(ALGS)

    created = instance.json("keys", "rotate")
    assert len(created) == 3
    assert {k["alg"] for k in created} == ALGS
    assert not {k["kid"] for k in created} & set(current_before)
    assert all(k["retired_at"] is None for k in created)

    lines = {line.split("\t")[1]: line.split("\t") for line in instance.ok("keys", "list").splitlines()}
    for kid, alg in current_before.items():
        assert lines[kid][0] == alg
        assert lines[kid][2].startswith("retired "), lines[kid]
    for key in created:
        assert lines[key["kid"]][2] == "current"


# demo -----------------------------------------------------------------------------------------------------


def test_demo_seed_twice_is_idempotent(instance):
    first = instance.json("demo", "seed")
    secrets_file = instance.workdir / "instance" / "demo-clients.json"
    saved = json.loads(secrets_file.read_text())
    assert first["clients"] == ["paygate", "selfcare", "wallet"]
    assert first["customer"]["username"] == "demo" and first["admin"]["username"] == "admin"
    assert sorted(saved) == ["paygate", "selfcare", "wallet"]
    assert all(entry["client_secret"] for entry in saved.values())
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600

    second = instance.json("demo", "seed")

    assert second["clients"] == first["clients"]
    assert json.loads(secrets_file.read_text()) == saved  # the secrets stay the same
    assert instance.query(
        "SELECT client_id, count(*) FROM clients WHERE client_id IN ('paygate', 'selfcare', 'wallet') "
        "GROUP BY client_id ORDER BY client_id"
    ) == [("paygate", 1), ("selfcare", 1), ("wallet", 1)]
    assert instance.query("SELECT count(*) FROM users WHERE username = 'demo'") == [(1,)]
    [(demo_hash,)] = instance.query("SELECT password_hash FROM users WHERE username = 'demo'")
    assert _verifies(demo_hash, first["customer"]["password"])
    assert instance.query("SELECT contract_number FROM contract_links WHERE ended_at IS NULL") == [("QN000123",)]
    assert instance.query("SELECT role FROM users WHERE username = 'admin'") == [("admin",)]
    assert instance.query(
        "SELECT secret_digest FROM clients WHERE client_id = 'paygate'"
    ) == [(hashlib.sha256(saved["paygate"]["client_secret"].encode()).hexdigest(),)]


# bad input: exit status 2 and one line on stderr ------------------------------------------------------------


BAD_INPUT = {
    "redirect URI over http on a non-local host": (
        ["clients", "add", "--name", "Bad", "--redirect-uri", "http://rp.example.com/cb"],
        None,
        None,
        "error: redirect URI must use https unless it is on this machine: http://rp.example.com/cb",
    ),
    "unknown scope": (
        ["clients", "add", "--name", "Bad", "--redirect-uri", "https://rp.example.com/cb", "--scope", "openid no-such-scope"],
        None,
        None,
        "error: unknown scope no-such-scope",
    ),
    "weak password": (
        ["users", "add", "--username", "weakling", "--password-stdin"],
        "password123\n",
        None,
        "error: password rejected:",
    ),
    "empty password on stdin": (
        ["users", "add", "--username", "nopassword", "--password-stdin"],
        "",
        None,
        "error: no password on standard input",
    ),
    "invalid phone": (
        ["users", "add", "--username", "badphone", "--phone", "12345", "--password-stdin"],
        GOOD_PASSWORD + "\n",
        None,
        "error: not a valid phone number",
    ),
    "invalid config": (
        ["clients", "list"],
        None,
        {"IDP_SERVER_ISSUER": "http://example.com"},
        "error: configuration: server.issuer: must use https outside localhost",
    ),
    "database never migrated": (
        ["clients", "list"],
        None,
        {"IDP_DATABASE_URL": f"sqlite:////tmp/idp-test-unmigrated-{RUN_ID}.sqlite3"},
        "error: database: no such table",
    ),
    "missing IDP_CONFIG file": (
        ["config", "check"],
        None,
        {"IDP_CONFIG": "/nonexistent/idp-test/idp.toml"},
        "error: configuration: IDP_CONFIG: no such file /nonexistent/idp-test/idp.toml",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_exits_2_with_one_error_line(instance, case):
    args, stdin, env, expected = BAD_INPUT[case]
    users_before = instance.query("SELECT count(*) FROM users")
    clients_before = instance.query("SELECT count(*) FROM clients")

    line = instance.fails(*args, stdin=stdin, env=env)

    assert line.startswith(expected), line
    assert instance.query("SELECT count(*) FROM users") == users_before
    assert instance.query("SELECT count(*) FROM clients") == clients_before


# PostgreSQL + Redis ------------------------------------------------------------------------------------------


@pytest.mark.skipif(not PG_URL, reason="needs IDP_TEST_DATABASE_URL")
def test_on_postgres_and_redis_db_upgrade_users_and_keys_work(tmp_path):
    """The production set-up: `idp db upgrade` on an empty PostgreSQL database, accounts, the store on Redis."""
    pg = Instance("postgres", tmp_path)
    try:
        assert pg.init_result.returncode == 0, pg.init_result.stderr
        assert pg.upgrade_result.returncode == 0, pg.upgrade_result.stderr
        head = ScriptDirectory(str(ROOT / "migrations")).get_current_head()
        assert pg.query("SELECT version_num FROM alembic_version") == [(head,)]
        assert {k["alg"] for k in pg.json("keys", "list") if k["retired_at"] is None} == ALGS

        created = pg.json("users", "add", "--username", "lan", "--phone", "0987654321", "--password-stdin",
                          stdin=GOOD_PASSWORD + "\n")
        assert created["phone"] == "+84987654321"
        assert pg.json("users", "lock", "0987654321")["locked"] is True
        assert pg.json("users", "unlock", "+84 98 765 4321")["locked"] is False
        assert pg.query("SELECT locked FROM users WHERE username = 'lan'") == [(False,)]
    finally:
        pg.close()
