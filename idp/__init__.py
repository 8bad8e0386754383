"""idp: an OpenID Connect identity provider for subscription operators."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from flask import Flask, jsonify, request
from flask import Request as FlaskRequest
from werkzeug.middleware.proxy_fix import ProxyFix

from .config import Settings, load_settings
from .extensions import babel, csrf, db, migrate

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Runtime:
    """What every request shares in one process: settings and long-lived services."""

    settings: Settings
    store: object
    passwords: object
    sessions: object
    keyring: object
    sms: object
    mailer: object
    upstream: object
    directory: object
    oauth: object
    discovery: tuple[bytes, str]
    backchannel: object = None


# Contract files may be larger than server.max_request_bytes allows other requests.
CSV_UPLOAD_PATHS = ("/admin/contracts", "/api/admin/v1/contracts/import")


class Request(FlaskRequest):
    """Size limits by path, decided before anything (CSRF checks included) reads the body."""

    @property
    def max_content_length(self) -> int | None:
        from .linking.importer import MAX_CSV_BYTES

        return MAX_CSV_BYTES if self.path in CSV_UPLOAD_PATHS else super().max_content_length

    @property
    def max_form_memory_size(self) -> int | None:
        from .linking.importer import MAX_CSV_BYTES

        return MAX_CSV_BYTES if self.path in CSV_UPLOAD_PATHS else super().max_form_memory_size


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets readers and the one writer work at once; busy_timeout waits for the writer.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_app(settings: Settings | None = None, testing: bool = False) -> Flask:
    """Build the application from settings (loaded from the environment when not given)."""
    from .accounts.passwords import Passwords
    from .accounts.sessions import Sessions
    from .accounts.account_views import bp as account_bp
    from .admin.api import bp as admin_api_bp
    from .admin.views import bp as admin_bp
    from .accounts.recovery_views import bp as recovery_bp
    from .accounts.views import bp as accounts_bp
    from .dev import bp as dev_bp
    from .federation.providers import register_providers
    from .federation.views import bp as federation_bp
    from .linking.directory import make_directory
    from .linking.views import bp as contracts_bp
    from .metrics import bp as metrics_bp
    from .errors import init_errors
    from .i18n import select_locale
    from .oidc import discovery
    from .oidc.backchannel import BackchannelNotifier
    from .oidc.keys import KeyRing
    from .oidc.server import create_authorization_server
    from .oidc.views import bp as oidc_bp
    from .security import init_security
    from .mail import make_mailer
    from .otp.senders import make_sender
    from .store import make_store

    settings = settings or load_settings()
    app = Flask(
        "idp",
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
    )
    app.request_class = Request
    app.config.update(
        TESTING=testing,
        SECRET_KEY=settings.server.secret_key,
        SQLALCHEMY_DATABASE_URI=settings.sqlalchemy_url,
        # No pre-ping: it would add a round trip to every request; stale connections are recycled instead.
        SQLALCHEMY_ENGINE_OPTIONS={"pool_recycle": 1800},
        MAX_CONTENT_LENGTH=settings.server.max_request_bytes,
        MAX_FORM_PARTS=200,
        SESSION_COOKIE_NAME="idp_form",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        WTF_CSRF_TIME_LIMIT=3600,
        WTF_CSRF_SSL_STRICT=False,  # Referer is never sent (Referrer-Policy: no-referrer)
        BABEL_TRANSLATION_DIRECTORIES=str(Path(__file__).parent / "translations"),
        BABEL_DEFAULT_LOCALE=settings.i18n.default_locale,
        PREFERRED_URL_SCHEME="https" if settings.secure_cookies else "http",
    )
    if settings.server.proxy_hops:
        app.wsgi_app = ProxyFix(
            app.wsgi_app, x_for=settings.server.proxy_hops, x_proto=settings.server.proxy_hops,
            x_host=settings.server.proxy_hops,
        )

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    babel.init_app(app, locale_selector=select_locale)
    csrf.init_app(app)

    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            sa.event.listen(db.engine, "connect", _sqlite_pragmas)
        store = make_store(settings.redis.url, settings.redis.prefix, db.engine)

    app.extensions["idp"] = Runtime(
        settings=settings,
        store=store,
        passwords=Passwords(settings.passwords),
        sessions=Sessions(store, settings.session),
        keyring=KeyRing(settings),
        sms=make_sender(settings.sms, store),
        mailer=make_mailer(settings.mail, store),
        upstream=register_providers(app, settings.federation),
        directory=make_directory(settings.linking),
        oauth=create_authorization_server(app, settings),
        discovery=discovery.render(settings),
    )
    app.extensions["idp"].backchannel = BackchannelNotifier(app)

    for blueprint in (accounts_bp, account_bp, recovery_bp, federation_bp, contracts_bp, oidc_bp, admin_bp,
                      admin_api_bp, dev_bp, metrics_bp):
        app.register_blueprint(blueprint)
    init_security(app)
    init_errors(app, testing)
    _register_health(app)
    _register_template_helpers(app)
    return app


def _register_health(app: Flask) -> None:
    @app.route("/healthz")
    def healthz():
        return jsonify(status="ok")

    @app.route("/readyz")
    def readyz():
        rt = app.extensions["idp"]
        problems = []
        try:
            db.session.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError:
            problems.append("database")
        try:
            rt.store.ping()
        except Exception:  # any failure to answer means not ready
            problems.append("store")
        if problems:
            return jsonify(status="unavailable", failing=problems), 503
        return jsonify(status="ok")


def _register_template_helpers(app: Flask) -> None:
    from flask_babel import get_locale
    from urllib.parse import urlencode

    from .config import SUPPORTED_LOCALES
    from .i18n import LANGUAGE_COOKIE

    @app.context_processor
    def page_context():
        return {
            "branding": app.extensions["idp"].settings.branding,
            "current_locale": str(get_locale()),
            "locales": SUPPORTED_LOCALES,
        }

    @app.route("/branding.css")
    def branding_css():
        # The operator's colour as a stylesheet of its own, so pages keep a strict CSP (no inline styles).
        colour = app.extensions["idp"].settings.branding.primary_colour
        response = app.response_class(f":root {{ --primary: {colour}; }}\n", mimetype="text/css")
        response.headers["Cache-Control"] = "public, max-age=3600"
        return response

    @app.template_global()
    def lang_url(code: str) -> str:
        """This page's URL with another language chosen."""
        args = request.args.copy()
        args["lang"] = code
        return request.path + "?" + urlencode(list(args.items(multi=True)))

    @app.after_request
    def remember_language(response):
        chosen = request.args.get("lang")
        if chosen in SUPPORTED_LOCALES:
            response.set_cookie(LANGUAGE_COOKIE, chosen, max_age=365 * 86400, samesite="Lax", httponly=True)
        return response

    logging.getLogger("idp").setLevel(logging.INFO)
