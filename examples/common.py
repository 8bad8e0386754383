"""What the operator's three example sites share: signing in with idp, and signing out.

Each site (selfcare, wallet, paygate) is a small Flask app using Authlib's Flask
client; this module builds everything that is the same for all three:

- the client, registered by discovery (``{issuer}/.well-known/openid-configuration``)
  with PKCE ``S256``; Authlib adds a ``state`` and a ``nonce`` to every request;
- ``GET /login``: to idp's authorization endpoint (straight back when signed in);
- ``GET /callback``: ``iss`` checked first (RFC 9207: before the code goes
  anywhere), then ``authorize_access_token()`` checks state, PKCE, the ID token's
  signature, issuer, audience, expiry and nonce; then userinfo;
- ``POST /logout``: RP-initiated logout with ``id_token_hint``, a
  ``post_logout_redirect_uri`` and a ``state`` checked when the person comes back;
- ``POST /backchannel-logout``: OpenID Connect Back-Channel Logout 1.0;
- the signed-in check, run before every request.

Flask's sessions are signed cookies: nothing outside the browser can end one.
So a site remembers, in this process, the idp sessions (``sid``) that idp's
back channel said are over, and a request whose session belongs to one of them
is signed out there and then. Several processes of one site would keep that
record in a shared store (Redis, the database) instead.
"""

from __future__ import annotations

import functools
import hmac
import json
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Flask, Response, abort, g, jsonify, redirect, render_template, request, session
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

log = logging.getLogger(__name__)

DEFAULT_ISSUER = "http://127.0.0.1:5000"
DEFAULT_CLIENTS_FILE = "instance/demo-clients.json"
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_TYPES = ("logout+jwt", "application/logout+jwt")
SESSION_SECONDS = 12 * 3600  # a site's session ends this long after sign-in, whatever happens at idp
CLOCK_LEEWAY = 60  # seconds of clock difference allowed with idp
LOGOUT_TOKEN_MAX_AGE = 300  # a logout token issued longer ago than this is refused, whatever its exp
JWKS_REFETCH_SECONDS = 10  # an unknown `kid` refetches idp's keys at most this often
HTTP_TIMEOUT = 10
TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class SiteInfo:
    key: str  # the client_id in the demo, and the name of the session cookie
    title: str
    port: int
    tagline: str
    accent: str

    @property
    def default_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


SITES = {
    "selfcare": SiteInfo("selfcare", "Self-care", 5001, "Your contracts and the services on them.", "#0b6e4f"),
    "wallet": SiteInfo("wallet", "Wallet", 5002, "Your balance, top-ups and history.", "#6b3fa0"),
    "paygate": SiteInfo("paygate", "Payment gateway", 5003, "Payments confirmed with a second step.", "#9a3412"),
}


class LogoutTokenError(ValueError):
    """A logout token that must not be acted upon; the message says why (for the log, not the caller)."""


def _forget_older(record: dict[str, float], cutoff: float) -> None:
    for key in [k for k, at in record.items() if at < cutoff]:
        del record[key]


class EndedSessions:
    """idp sessions that the back channel said are over, in this process; thread-safe.

    Entries older than SESSION_SECONDS are dropped: a site session that old has
    ended by itself (see OidcSite.signed_in_user).
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._sids: dict[str, float] = {}
        self._subs: dict[str, float] = {}  # logout tokens without a sid: every session of the account
        self._jtis: dict[str, float] = {}  # logout tokens already used

    def add(self, sid: str | None, sub: str | None) -> None:
        now = time.time()
        with self._lock:
            for record in (self._sids, self._subs):
                _forget_older(record, now - SESSION_SECONDS)
            if sid:
                self._sids[sid] = now
            elif sub:
                self._subs[sub] = now

    def first_use(self, jti: str) -> bool:
        """True the first time a logout token id is seen (ids are kept as long as a token may be accepted)."""
        now = time.time()
        with self._lock:
            _forget_older(self._jtis, now - LOGOUT_TOKEN_MAX_AGE - CLOCK_LEEWAY)
            if jti in self._jtis:
                return False
            self._jtis[jti] = now
            return True

    def ended(self, sid: str | None, sub: str | None, signed_in_at: float) -> bool:
        with self._lock:
            if sid and sid in self._sids:
                return True
            ended_at = self._subs.get(sub) if sub else None
            return ended_at is not None and signed_in_at <= ended_at


def vnd(amount: int) -> str:
    """1234000 -> "1.234.000 ₫" (Vietnamese grouping)."""
    sign = "−" if amount < 0 else ""
    return f"{sign}{abs(amount):,}".replace(",", ".") + " ₫"


def safe_next(target: str | None) -> str:
    """A path on this site to go to after signing in; anything else means the home page."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


class OidcSite:
    """One example site's sign-in with idp. Sites add their pages to `app` and may set the hooks below."""

    def __init__(self, app: Flask, info: SiteInfo, issuer: str, client_id: str, client_secret: str,
                 base_url: str, scope: str, sites: dict[str, str] | None = None):
        self.app = app
        self.info = info
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self.base_url = base_url.rstrip("/")
        self.redirect_uri = self.base_url + "/callback"
        self.sites = {key: SITES[key].default_url for key in SITES} | (sites or {})
        self.sites[info.key] = self.base_url
        self.ended_sessions = EndedSessions()
        self._jwks_lock = threading.Lock()
        self._jwks_refetched_at = 0.0
        # Hooks: on_sign_in(claims, userinfo) adds the site's own data to the new session;
        # on_return(state, claims, error) may answer a callback (claims None when idp said error).
        self.on_sign_in = None
        self.on_return = None
        self.keep_on_sign_in: tuple[str, ...] = ()  # session keys that survive a new sign-in

        self.oauth = OAuth(app)
        self.idp = self.oauth.register(
            "idp",
            client_id=client_id,
            client_secret=client_secret,
            server_metadata_url=self.issuer + "/.well-known/openid-configuration",
            client_kwargs={"scope": scope, "code_challenge_method": "S256", "default_timeout": HTTP_TIMEOUT},
        )

    # idp's metadata and keys ---------------------------------------------------------------

    def metadata(self) -> dict:
        metadata = self.idp.load_server_metadata()
        # OIDC Discovery §4.3: the issuer in the document is the one we asked.
        if metadata.get("issuer") != self.issuer:
            raise RuntimeError(f"discovery names issuer {metadata.get('issuer')!r}, expected {self.issuer!r}")
        return metadata

    def _keys(self, refetch: bool = False) -> KeySet:
        return KeySet.import_key_set(self.idp.fetch_jwk_set(force=refetch))

    def _may_refetch_keys(self) -> bool:
        """Once per JWKS_REFETCH_SECONDS at most, so forged tokens cannot make us hammer idp."""
        with self._jwks_lock:
            now = time.monotonic()
            if now - self._jwks_refetched_at < JWKS_REFETCH_SECONDS:
                return False
            self._jwks_refetched_at = now
            return True

    # the person signed in here -------------------------------------------------------------

    def signed_in_user(self) -> dict | None:
        """The person signed in to this site, or None. Sessions idp ended (back channel) are cleared here."""
        if "sub" not in session:
            return None
        signed_in_at = session.get("signed_in_at", 0)
        if time.time() - signed_in_at > SESSION_SECONDS or self.ended_sessions.ended(
            session.get("sid"), session["sub"], signed_in_at
        ):
            session.clear()
            g.signed_out_elsewhere = True
            return None
        return {"sub": session["sub"], "name": session.get("name") or "", "sid": session.get("sid")}

    def csrf_token(self) -> str:
        if "csrf" not in session:
            session["csrf"] = secrets.token_urlsafe(24)
        return session["csrf"]

    def check_csrf(self) -> None:
        sent = request.form.get("csrf_token", "")
        expected = session.get("csrf", "")
        if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
            abort(400, "This form has expired. Go back, reload the page and try again.")

    def render(self, template: str, status: int = 200, **context):
        others = [{"key": k, "title": SITES[k].title, "url": url} for k, url in self.sites.items() if k != self.info.key]
        body = render_template(
            template,
            site=self.info,
            others=others,
            user=g.get("user"),
            notice=session.pop("notice", None),
            signed_out_elsewhere=g.get("signed_out_elsewhere", False),
            csrf_token=self.csrf_token(),
            idp_url=self.issuer,
            **context,
        )
        return Response(body, status=status, headers={"Cache-Control": "no-store"})

    def message(self, text: str, status: int = 400, heading: str = "Something went wrong"):
        return self.render("base.html", status=status, message=text, heading=heading)

    # sign-in ---------------------------------------------------------------------------------

    def authorize_redirect(self, **params) -> tuple[Response, str]:
        """A redirect to idp's authorization endpoint, and its `state` (to tie a site's pending action to it)."""
        created = self.idp.create_authorization_url(self.redirect_uri, **params)
        self.idp.save_authorize_data(redirect_uri=self.redirect_uri, **created)
        return redirect(created["url"]), created["state"]

    def issuer_problem(self) -> str | None:
        """RFC 9207: the `iss` of the authorization response must be our idp's (mix-up attacks)."""
        iss = request.args.get("iss")
        if iss is None:
            if self.metadata().get("authorization_response_iss_parameter_supported"):
                return "The answer from the sign-in service did not say who sent it."
            return None
        if iss != self.issuer:
            return "The answer did not come from this site's sign-in service."
        return None

    def callback(self):
        state = request.args.get("state", "")
        problem = self.issuer_problem()
        if problem:
            return self.message(problem)
        try:
            token = self.idp.authorize_access_token(leeway=CLOCK_LEEWAY)
        except (AuthlibBaseError, JoseError, ValueError) as error:  # idp's error, state, code, ID token
            self.idp.framework.clear_state_data(session, state)
            log.info("sign-in callback refused: %s", error)
            answered = self.on_return(state, None, error) if self.on_return else None
            if answered is not None:
                return answered
            if getattr(error, "error", None) in ("access_denied", "login_required", "consent_required",
                                                 "interaction_required"):
                return self.message("You did not finish signing in. Nothing was changed.", heading="Not signed in")
            return self.message("This sign-in could not be completed. Please try again.")
        claims = token["userinfo"]  # the ID token's claims, validated by Authlib
        info = self.idp.userinfo(token=token)
        if info.get("sub") != claims["sub"]:  # OIDC Core §5.3.2
            return self.message("The sign-in service answered about someone else. Please try again.")

        target = session.get("next", "/")
        kept = {key: session[key] for key in self.keep_on_sign_in if key in session}
        session.clear()
        session.update(kept)
        session.update(
            sub=claims["sub"],
            sid=claims.get("sid"),
            acr=claims.get("acr"),
            id_token=token["id_token"],
            name=info.get("name") or info.get("preferred_username") or "",
            signed_in_at=time.time(),
        )
        if self.on_sign_in:
            self.on_sign_in(claims, info)
        g.user = self.signed_in_user()
        answered = self.on_return(state, claims, None) if self.on_return else None
        return answered if answered is not None else redirect(safe_next(target))

    # back-channel logout ---------------------------------------------------------------------

    def verify_logout_token(self, raw: str | None) -> dict:
        """Back-Channel Logout 1.0 §2.6: the claims of a valid logout token, or LogoutTokenError."""
        if not raw or len(raw) > 8192 or raw.count(".") != 2:
            raise LogoutTokenError("not a signed JWT")
        metadata = self.metadata()
        algorithms = [a for a in metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
                      if a != "none" and not a.startswith("HS")]
        try:
            try:
                token = jwt.decode(raw, self._keys(), algorithms=algorithms)
            except InvalidKeyIdError:
                if not self._may_refetch_keys():
                    raise
                token = jwt.decode(raw, self._keys(refetch=True), algorithms=algorithms)
        except (JoseError, ValueError) as error:
            raise LogoutTokenError(f"signature: {error}") from None
        typ = token.header.get("typ")
        if typ is not None and str(typ).lower() not in LOGOUT_TOKEN_TYPES:
            raise LogoutTokenError(f"typ {typ!r}")
        claims = token.claims
        try:
            jwt.JWTClaimsRegistry(
                leeway=CLOCK_LEEWAY,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.client_id},
                iat={"essential": True},
                exp={"essential": True},
            ).validate(claims)
        except JoseError as error:
            raise LogoutTokenError(f"claims: {error}") from None
        events = claims.get("events")
        if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_EVENT), dict):
            raise LogoutTokenError("no back-channel logout event")
        sid, sub = claims.get("sid"), claims.get("sub")
        if not (isinstance(sid, str) and sid) and not (isinstance(sub, str) and sub):
            raise LogoutTokenError("neither sid nor sub")
        if "nonce" in claims:
            raise LogoutTokenError("nonce present")
        if not isinstance(claims["iat"], (int, float)) or time.time() - claims["iat"] > LOGOUT_TOKEN_MAX_AGE + CLOCK_LEEWAY:
            raise LogoutTokenError("issued too long ago")
        jti = claims.get("jti")
        if not (isinstance(jti, str) and jti):
            raise LogoutTokenError("no jti")
        if not self.ended_sessions.first_use(jti):
            raise LogoutTokenError("replayed")
        return claims

    def backchannel_logout(self):
        raw = request.form.get("logout_token") if request.mimetype == "application/x-www-form-urlencoded" else None
        try:
            claims = self.verify_logout_token(raw)
        except LogoutTokenError as error:
            log.warning("back-channel logout refused: %s", error)
            response = jsonify(error="invalid_request")
            response.status_code = 400
        else:
            sid, sub = claims.get("sid"), claims.get("sub")
            self.ended_sessions.add(sid if isinstance(sid, str) else None, sub if isinstance(sub, str) else None)
            log.info("back-channel logout: sid %s sub %s", sid, sub)
            response = Response(status=200)
        response.headers["Cache-Control"] = "no-store"
        return response

    # RP-initiated logout --------------------------------------------------------------------

    def logout(self):
        self.check_csrf()
        id_token = session.get("id_token")
        session.clear()
        if not id_token:
            return redirect("/")
        return self.idp.logout_redirect(post_logout_redirect_uri=self.base_url + "/", id_token_hint=id_token)

    def back_from_logout(self):
        """idp sent the person back to `/` after signing out, echoing the `state` we gave it."""
        try:
            self.idp.validate_logout_response()
        except OAuthError:
            return self.message("This sign-out answer was not expected here. Nothing was changed.")
        session["notice"] = "You are signed out of idp and of every site of the operator."
        return redirect("/")


def create_site(info: SiteInfo, issuer: str, client_id: str, client_secret: str, base_url: str, scope: str,
                sites: dict[str, str] | None = None, secret_key: str | None = None) -> tuple[Flask, OidcSite]:
    """A Flask app with the shared routes; the site adds its pages to it."""
    app = Flask(info.key, template_folder=str(TEMPLATES), static_folder=None)
    app.config.update(
        SECRET_KEY=secret_key or os.environ.get("EXAMPLE_SECRET_KEY") or secrets.token_hex(32),
        # Every site and idp share the host 127.0.0.1 in the demo, and cookies ignore ports: one name each.
        SESSION_COOKIE_NAME=f"{info.key}_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=base_url.startswith("https://"),
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    site = OidcSite(app, info, issuer, client_id, client_secret, base_url, scope, sites)
    app.extensions["oidc_site"] = site

    @app.before_request
    def signed_in_check():
        g.user = site.signed_in_user()

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response

    @app.errorhandler(400)
    def bad_request(error):
        if request.path == "/backchannel-logout":
            return jsonify(error="invalid_request"), 400, {"Cache-Control": "no-store"}
        return site.message(getattr(error, "description", "") or "Bad request.")

    @app.errorhandler(requests.RequestException)
    def idp_unreachable(error):
        log.warning("idp unreachable: %s", error)
        if request.path == "/backchannel-logout":  # idp retries deliveries that fail
            return jsonify(error="temporarily_unavailable"), 503, {"Cache-Control": "no-store"}
        return site.message("The sign-in service is not answering. Please try again in a moment.", status=503)

    @app.get("/login")
    def login():
        target = safe_next(request.args.get("next"))
        if g.user:
            return redirect(target)
        session["next"] = target
        response, _state = site.authorize_redirect()
        return response

    app.add_url_rule("/callback", "callback", site.callback)
    app.add_url_rule("/logout", "logout", site.logout, methods=["POST"])
    app.add_url_rule("/backchannel-logout", "backchannel_logout", site.backchannel_logout, methods=["POST"])
    return app, site


def home_page(site: OidcSite):
    """Decorator for a site's `/` view: handles the return from idp's logout (`?state=`) first."""

    def wrap(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if "state" in request.args:
                return site.back_from_logout()
            return view(*args, **kwargs)

        return wrapped

    return wrap


def settings_from_env(key: str) -> dict:
    """create_app() arguments for `python -m examples.<site>`: IDP_ISSUER and the file `idp demo seed` writes."""
    path = Path(os.environ.get("IDP_DEMO_CLIENTS", DEFAULT_CLIENTS_FILE))
    try:
        clients = json.loads(path.read_text())
    except FileNotFoundError:
        raise SystemExit(f"error: {path} not found: run `idp demo seed` (or `make demo`) first") from None
    if key not in clients:
        raise SystemExit(f"error: {path} has no client {key!r}: run `idp demo seed`")
    ports = {name: clients.get(name, {}).get("port", info.port) for name, info in SITES.items()}
    return {
        "issuer": os.environ.get("IDP_ISSUER", DEFAULT_ISSUER).rstrip("/"),
        "client_id": key,
        "client_secret": clients[key]["client_secret"],
        "base_url": f"http://127.0.0.1:{ports[key]}",
        "sites": {name: f"http://127.0.0.1:{port}" for name, port in ports.items()},
    }


def run(create_app, key: str) -> None:
    """`python -m examples.<site>`: serve the site on its demo port."""
    logging.basicConfig(level=logging.INFO, format=f"{key}: %(levelname)s %(message)s")
    settings = settings_from_env(key)
    app = create_app(**settings)
    port = urlsplit(settings["base_url"]).port
    app.run(host="127.0.0.1", port=port, threaded=True, use_reloader=False)
