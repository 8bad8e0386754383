"""Test apps on real back ends: SQLite always; PostgreSQL + Redis when IDP_TEST_DATABASE_URL / IDP_TEST_REDIS_URL are set.

Each back end's database is built once per run with the Alembic migrations,
then every test gets a fresh copy (SQLite: a copied file; PostgreSQL: the
tables emptied and the signing keys restored) and its own Redis key prefix.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from idp import clock, create_app
from idp.config import load_settings

from .fakes.server import LocalServer

PG_URL = os.environ.get("IDP_TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("IDP_TEST_REDIS_URL", "")
BACKENDS = ["sqlite"] + (["postgres"] if PG_URL else [])
RUN_ID = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"

SECRET_KEY = "test-secret-key-" + "x" * 32
ENCRYPTION_KEY = base64.urlsafe_b64encode(b"k" * 32).decode()


def make_settings(database_url: str, redis_url: str = "", redis_prefix: str = "idp:", issuer: str = "http://localhost", **sections):
    overrides = {
        "server": {"issuer": issuer, "secret_key": SECRET_KEY, "dev": True},
        "sms": {"sender": "outbox"},
        "mail": {"sender": "outbox"},
        "database": {"url": database_url},
        "redis": {"url": redis_url, "prefix": redis_prefix},
        "keys": {"encryption_key": ENCRYPTION_KEY},
        # Cheap argon2 so the suite stays fast; production parameters are tested in test_passwords.
        "passwords": {"argon2_time_cost": 1, "argon2_memory_kib": 64, "argon2_parallelism": 1},
    }
    for name, values in sections.items():
        overrides.setdefault(name, {}).update(values)
    return load_settings(path=None, env={}, overrides=overrides)


def _migrate(settings) -> None:
    from flask_migrate import upgrade

    from idp.extensions import db
    from idp.oidc.keys import ensure_keys

    app = create_app(settings, testing=True)
    with app.app_context():
        upgrade()
        ensure_keys(settings)
        db.session.remove()
        db.engine.dispose()


class Backend:
    """A migrated database for one back end, handed out fresh to each test."""

    def __init__(self, name: str, workdir: Path):
        self.name = name
        self.workdir = workdir
        self.counter = 0
        if name == "sqlite":
            self.template = workdir / "template.sqlite3"
            _migrate(make_settings(f"sqlite:///{self.template}"))
        else:
            self.db_name = f"idp_test_{RUN_ID}"
            base = sa.make_url(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
            self.admin_engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")
            with self.admin_engine.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.db_name}"'))
                conn.execute(sa.text(f'CREATE DATABASE "{self.db_name}"'))
            self.url = base.set(database=self.db_name).render_as_string(hide_password=False)
            _migrate(make_settings(self.url))
            self.engine = sa.create_engine(self.url)
            with self.engine.connect() as conn:
                self.keys = [dict(r._mapping) for r in conn.execute(sa.text("SELECT * FROM signing_keys"))]
                self.tables = [
                    r[0]
                    for r in conn.execute(
                        sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")
                    )
                ]

    def fresh_settings(self, **kwargs):
        self.counter += 1
        if self.name == "sqlite":
            path = self.workdir / f"test{self.counter}.sqlite3"
            shutil.copyfile(self.template, path)
            return make_settings(f"sqlite:///{path}", **kwargs)
        with self.engine.begin() as conn:
            conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{t}"' for t in self.tables) + " RESTART IDENTITY CASCADE"))
            columns = list(self.keys[0])
            conn.execute(
                sa.text(f"INSERT INTO signing_keys ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})"),
                [{**k, "public_jwk": json.dumps(k["public_jwk"])} for k in self.keys],
            )
        return make_settings(self.url, redis_url=REDIS_URL, redis_prefix=f"idp-test:{RUN_ID}:{self.counter}:", **kwargs)

    def close(self):
        if self.name == "postgres":
            self.engine.dispose()
            with self.admin_engine.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)'))
            self.admin_engine.dispose()
            if REDIS_URL:
                import redis

                client = redis.Redis.from_url(REDIS_URL)
                for key in client.scan_iter(f"idp-test:{RUN_ID}:*", count=1000):
                    client.delete(key)


@pytest.fixture(scope="session")
def backends(tmp_path_factory):
    built: dict[str, Backend] = {}

    def get(name: str) -> Backend:
        if name not in built:
            built[name] = Backend(name, tmp_path_factory.mktemp(name))
        return built[name]

    yield get
    for backend in built.values():
        backend.close()


@pytest.fixture(params=BACKENDS)
def backend(request, backends) -> Backend:
    return backends(request.param)


@pytest.fixture(autouse=True)
def real_time():
    yield
    clock.reset()


def _dispose(app):
    from idp.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def app(backend):
    application = create_app(backend.fresh_settings(), testing=True)
    yield application
    _dispose(application)


@pytest.fixture
def client(app):
    """A browser that prefers English (pages default to Vietnamese otherwise); tests read English texts."""
    test_client = app.test_client()
    test_client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return test_client


@pytest.fixture
def make_user(app):
    from idp.accounts.service import register

    counter = iter(range(1, 10_000))

    def factory(username=None, password="Long-Enough-Passw0rd!", phone=None, email=None, phone_verified=False, **kwargs):
        from idp.extensions import db

        n = next(counter)
        with app.app_context():
            user = register(
                username=username or f"user{n}",
                password=password,
                phone=phone or f"+8490{n:07d}",
                email=email,
                **kwargs,
            )
            if phone_verified:
                user.phone_verified = True
                db.session.commit()
            return {"id": user.id, "sub": user.sub, "username": user.username, "password": password, "phone": user.phone}

    return factory


@pytest.fixture
def make_client(app):
    from idp.oidc.clients import create_client

    def factory(name="Test site", redirect_uris=("https://rp.example/callback",), **kwargs):
        with app.app_context():
            created, secret = create_client(name, list(redirect_uris), **kwargs)
            return {"client_id": created.client_id, "client_secret": secret, "redirect_uri": redirect_uris[0] if redirect_uris else None}

    return factory


class LiveServer:
    """idp served over real HTTP from a thread; `sections` may be a function of the server's URL."""

    def __init__(self, backend: Backend, sections=None, **more):
        self.http = LocalServer()
        self.url = self.http.url
        sections = sections(self.url) if callable(sections) else (sections or {})
        self.app = create_app(backend.fresh_settings(issuer=self.url, **sections, **more), testing=True)
        self.http.start(self.app)

    def stop(self):
        self.http.stop()
        _dispose(self.app)


@pytest.fixture
def live_server(backend):
    server = LiveServer(backend)
    yield server
    server.stop()


CODE_RE = re.compile(r"\b(\d{6})\b")


@pytest.fixture
def sms_codes(app):
    """The codes sent to a phone through the development outbox, newest first."""

    def read(phone: str) -> list[str]:
        from idp.extensions import runtime

        with app.app_context():
            messages = runtime().sms.recent()
        return [CODE_RE.search(m["body"]).group(1) for m in messages if m["to"] == phone]

    return read


CSRF_RE = re.compile(r'name="(?:[\w-]+-)?csrf_token" type="hidden" value="([^"]+)"|name="(?:[\w-]+-)?csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF token"
    return match.group(1) or match.group(2)
