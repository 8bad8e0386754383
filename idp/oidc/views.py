"""HTTP endpoints of the provider: authorize, token, userinfo, introspect, revoke, logout, discovery, JWKS."""

from __future__ import annotations

from authlib.oauth2.rfc6749 import OAuth2Error, scope_to_list
from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError

from ..accounts.web import clear_session_cookie, current_session
from ..extensions import csrf, runtime
from ..i18n import select_locale
from . import storage
from .keys import JWKS_MAX_AGE
from .logout import end_sso_session
from .server import Issuer
from .authorize import Step, next_step, oversized_parameter, request_url, return_url_after_sign_in
from .request_checks import client_request_problem, repeated_parameter

bp = Blueprint("oidc", __name__)


def _cached_bytes(body: bytes, etag: str, max_age: int) -> Response:
    if request.if_none_match.contains_weak(etag.strip('"')):
        response = Response(status=304)
    else:
        response = Response(body, mimetype="application/json")
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    return response


@bp.route("/.well-known/openid-configuration")
@bp.route("/.well-known/oauth-authorization-server")
def discovery():
    body, etag = runtime().discovery
    return _cached_bytes(body, etag, 3600)


@bp.route("/jwks.json")
def jwks():
    body, etag = runtime().keyring.jwks()
    return _cached_bytes(body, etag, JWKS_MAX_AGE)


def _error_page(description: str, status: int = 400):
    return render_template("errors/error.html", message=description), status


def _authorization_error(error: OAuth2Error):
    """Back to the client when its redirect URI is known and valid; otherwise a page (RFC 6749 §4.1.2.1)."""
    if not error.redirect_uri:
        return _error_page(_("This sign-in link is not valid: %(reason)s", reason=error.description or error.error))
    server = runtime().oauth
    response = server.handle_error_response(None, error)
    Issuer(runtime().settings.server.issuer).add_issuer_parameter(server, response)
    return response


def _issue_code(grant, user, session):
    # Remembered before the code exists, for logout. A session that ends meanwhile leaves a code
    # that cannot be redeemed (the token endpoint checks the session is still live).
    runtime().sessions.add_client(session, grant.request.client.get_client_id())
    grant.request.sso_session = session
    return runtime().oauth.create_authorization_response(grant=grant, grant_user=user)


@bp.route("/authorize", methods=["GET", "POST"])
@csrf.exempt  # OIDC allows POSTed requests from relying parties; the consent form checks its token below
def authorize():
    too_long = oversized_parameter(request.values)
    if too_long:
        return _error_page(_("This sign-in link is not valid: the parameter %(name)s is too long.", name=too_long))
    repeated = repeated_parameter(request.values)
    if repeated:
        return _error_page(_("This sign-in link is not valid: the parameter %(name)s is given twice.", name=repeated))
    server = runtime().oauth
    session = current_session()
    user = storage.get_user(session.user_id) if session else None
    try:
        grant = server.get_consent_grant(end_user=user)
        step = next_step(grant, session, user)
    except OAuth2Error as error:
        return _authorization_error(error)
    except ValueError:
        # Authlib refuses to build an error whose description would quote characters
        # RFC 6749 does not allow there (a redirect_uri with "é" or a quote, say).
        return _error_page(_("This sign-in link is not valid: %(reason)s", reason="invalid_request"))

    here = request_url(request.path, request.values)
    if step is Step.SIGN_IN:
        params = {"next": return_url_after_sign_in(here)}
        if request.values.get("login_hint"):
            params["login_hint"] = request.values["login_hint"]
        if request.values.get("ui_locales"):
            params["lang"] = select_locale()
        return redirect(url_for("accounts.login", **params))

    if step is Step.STEP_UP:
        return redirect(url_for("accounts.step_up", next=here))

    if step is Step.CHANGE_PASSWORD:
        return redirect(url_for("account.password", next=here))

    if step is Step.CONSENT:
        decision = request.form.get("decision") if request.method == "POST" else None
        if decision is not None:
            try:
                validate_csrf(request.form.get("csrf_token"))
            except (ValidationError, CSRFError):
                return _error_page(_("The form has expired. Please go back and try again."))
            if decision != "allow":
                return server.create_authorization_response(grant=grant, grant_user=None)
            storage.save_consent(user.id, grant.request.client.get_client_id(), grant.request.scope)
            return _issue_code(grant, user, session)
        return render_template(
            "oidc/consent.html",
            client=grant.request.client,
            scopes=scope_to_list(grant.request.scope),
            user=user,
            action=here,
        )
    return _issue_code(grant, user, session)


@bp.route("/token", methods=["POST"])
@csrf.exempt
def token():
    return client_request_problem() or runtime().oauth.create_token_response()


@bp.route("/introspect", methods=["POST"])
@csrf.exempt
def introspect():
    return client_request_problem() or runtime().oauth.create_endpoint_response("introspection")


@bp.route("/revoke", methods=["POST"])
@csrf.exempt
def revoke():
    return client_request_problem() or runtime().oauth.create_endpoint_response("revocation")


@bp.route("/userinfo", methods=["GET", "POST"])
@csrf.exempt
def userinfo():
    return runtime().oauth.create_endpoint_response("userinfo")


@bp.route("/logout", methods=["GET", "POST"])
@csrf.exempt  # RP-initiated logout may be POSTed by a relying party; our confirmation form is checked below
def logout():
    rt = runtime()
    server = rt.oauth
    try:
        end_request = server.validate_endpoint_request("end_session")
    except OAuth2Error as error:
        # RP-Initiated Logout §4: on errors, no redirect.
        return _error_page(_("This sign-out link is not valid: %(reason)s", reason=error.description or error.error))
    except ValueError:  # an error Authlib could not describe (see authorize)
        return _error_page(_("This sign-out link is not valid: %(reason)s", reason="id_token_hint"))
    claims = end_request.id_token_claims
    if claims is not None and claims.get("iss") != rt.settings.server.issuer:
        return _error_page(_("This sign-out link is not valid: %(reason)s", reason="id_token_hint"))

    session = current_session()
    user = storage.get_user(session.user_id) if session else None
    confirmed = claims is not None and (user is None or claims.get("sub") == user.sub)
    if not confirmed and request.method == "POST" and request.form.get("confirm"):
        try:
            validate_csrf(request.form.get("csrf_token"))
            confirmed = True
        except (ValidationError, CSRFError):
            return _error_page(_("The form has expired. Please go back and try again."))
    if session is not None and not confirmed:
        return render_template(
            "oidc/logout_confirm.html",
            client=end_request.client,
            params={k: v for k, v in request.values.items() if k in ("client_id", "post_logout_redirect_uri", "state", "ui_locales")},
        )

    frontchannel = []
    if session is not None:
        frontchannel = end_sso_session(session, end_request.client.get_client_id() if end_request.client else None)
    response = server.create_endpoint_response("end_session", end_request)
    if response is None or frontchannel:
        # Front-Channel Logout: the sites' logout pages load in iframes, then we continue.
        response = Response(render_template(
            "oidc/logged_out.html", client=end_request.client, frontchannel=frontchannel,
            continue_to=response.headers["Location"] if response is not None else None,
        ))
    clear_session_cookie(response)
    return response
