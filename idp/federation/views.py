"""Pages of upstream sign-in: start, callback, completing a new account, linking and unlinking."""

from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from ..accounts import service as accounts
from ..accounts.account_views import fresh_sign_in_needed, sign_in_again_url, signed_in
from ..accounts.models import User
from ..accounts.forms import CodeForm, PhoneForm
from ..accounts.views import after_first_step, client_ip, start_signed_in_response
from ..accounts.sessions import ACR_SINGLE_FACTOR, is_fresh
from ..accounts.web import current_session, safe_next
from ..extensions import db, runtime
from ..otp import codes
from ..otp.messages import code_error_message
from ..params import small_int
from . import providers, service

bp = Blueprint("federation", __name__)


def _provider(name: str):
    return next((p for p in runtime().settings.federation.providers if p.name == name), None)


def _error_page(message: str, status: int = 400):
    return render_template("errors/error.html", message=message), status


def upstream_error_message(error: providers.UpstreamError, label: str) -> str:
    return {
        "access_denied": _("You cancelled signing in with %(provider)s.", provider=label),
        "bad_state": _("This sign-in has expired or was not started here. Please try again."),
        "invalid_token": _("%(provider)s sent an answer we could not verify. Please try again.", provider=label),
        "unreachable": _("%(provider)s is not answering right now. Please try again later.", provider=label),
    }.get(error.reason, _("Signing in with %(provider)s did not work. Please try again.", provider=label))


@bp.route("/federation/<name>/start")
def start(name):
    provider = _provider(name)
    if provider is None:
        return _error_page(_("This page does not exist."), 404)
    sso = current_session()
    linking = bool(request.args.get("link")) and sso is not None
    if linking and not is_fresh(sso):
        # A new way into the account is as sensitive as a password: a recent sign-in first.
        return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
    session["fed_next"] = safe_next(request.args.get("next"))
    session["fed_link"] = linking
    redirect_uri = f"{runtime().settings.server.issuer}/federation/{name}/callback"
    try:
        return providers.start(runtime().upstream, provider, redirect_uri)
    except providers.UpstreamError as error:
        return _error_page(upstream_error_message(error, provider.label), 502)


@bp.route("/federation/<name>/callback")
def callback(name):
    provider = _provider(name)
    if provider is None:
        return _error_page(_("This page does not exist."), 404)
    try:
        identity = providers.finish(runtime().upstream, provider)
    except providers.UpstreamError as error:
        status = 502 if error.reason == "unreachable" else 400
        return _error_page(upstream_error_message(error, provider.label), status)
    target = session.pop("fed_next", "/")
    linking = session.pop("fed_link", False)
    sso = current_session()
    me = db.session.get(User, sso.user_id) if (linking and sso) else None
    try:
        outcome = service.resolve(identity, me)
    except service.IdentityTaken:
        return _error_page(_("This %(provider)s account is already linked to another account.", provider=provider.label))
    except accounts.AccountLocked:
        return _error_page(_("This account is locked. Please contact customer support."), 403)
    if outcome.kind == "signed_in":
        return after_first_step(outcome.user, "fed", False, target)
    if outcome.kind == "linked":
        return redirect(url_for("federation.methods"))
    session["fed_pending"] = outcome.pending
    session["fed_next"] = target
    if outcome.kind == "existing_account":
        return render_template("federation/existing_account.html", provider=provider, email=identity.email)
    return redirect(url_for("federation.complete"))


@bp.route("/federation/complete", methods=["GET", "POST"])
def complete():
    """A new identity: prove a phone, then the account is created with the identity linked."""
    token = session.get("fed_pending")
    identity = service.load_pending(token)
    if identity is None:
        return _error_page(_("This sign-in has expired or was not started here. Please try again."))
    provider = _provider(identity.provider)
    phone = session.get("fed_phone")
    phone_form, code_form = PhoneForm(), CodeForm()
    error = None
    if request.form.get("action") == "send" and phone_form.validate_on_submit():
        try:
            phone, sent = service.send_profile_code(token, phone_form.phone.data, client_ip())
            session["fed_phone"] = phone
        except accounts.InvalidPhone:
            phone_form.phone.errors.append(_("This is not a valid mobile phone number."))
        except codes.CodeError as failed:
            error = code_error_message(failed)
    elif request.form.get("action") == "confirm" and phone and code_form.validate_on_submit():
        try:
            user = service.complete_profile(token, phone, code_form.code.data)
        except codes.CodeError as failed:
            error = code_error_message(failed)
        except accounts.AccountExists:
            error = _("This phone number belongs to another account. Sign in to it and link %(provider)s there.",
                      provider=provider.label if provider else identity.provider)
        except (service.IdentityTaken, service.PendingExpired):
            return _error_page(_("This sign-in has expired or was not started here. Please try again."))
        else:
            for key in ("fed_pending", "fed_phone"):
                session.pop(key, None)
            return start_signed_in_response(user, ["fed"], ACR_SINGLE_FACTOR, False, session.pop("fed_next", "/"))
    failed = bool(error or phone_form.errors or code_form.errors or any(f.errors for f in phone_form))
    return render_template(
        "federation/complete.html", identity=identity, provider=provider, phone_form=phone_form, code_form=code_form,
        masked=codes.mask_phone(phone) if phone else None, error=error,
    ), (400 if failed else 200)


@bp.route("/federation/link", methods=["GET", "POST"])
@signed_in
def link():
    """Signed in to the existing account: attach the identity that was waiting."""
    token = session.get("fed_pending")
    identity = service.load_pending(token)
    if identity is None:
        return redirect(url_for("federation.methods"))
    provider = _provider(identity.provider)
    form = FlaskForm()
    if form.validate_on_submit():
        try:
            service.link_pending(g.user, token)
        except service.IdentityTaken:
            return _error_page(_("This %(provider)s account is already linked to another account.",
                                 provider=provider.label if provider else identity.provider))
        except service.PendingExpired:
            pass
        session.pop("fed_pending", None)
        return redirect(session.pop("fed_next", None) or url_for("federation.methods"))
    return render_template("federation/link.html", identity=identity, provider=provider, form=form)


@bp.route("/account/sign-in-methods", methods=["GET", "POST"])
@signed_in
def methods():
    form = FlaskForm()
    error = None
    stale = not is_fresh(g.sso)
    if form.validate_on_submit() and stale:
        error = fresh_sign_in_needed()
    elif form.validate_on_submit():
        try:
            unlink = small_int(request.form.get("unlink"))
            if unlink is not None:
                service.unlink(g.user, unlink)
            elif request.form.get("action") == "remove_password":
                service.remove_password(g.user)
        except service.LastSignInMethod:
            error = _("This is your only way to sign in. Add a password or another account first.")
    linked = service.identities_of(g.user)
    linked_names = {i.provider for i in linked}
    available = [p for p in runtime().settings.federation.providers if p.name not in linked_names]
    labels = {p.name: p.label for p in runtime().settings.federation.providers}
    return render_template(
        "federation/methods.html", user=g.user, linked=linked, available=available, labels=labels, form=form, error=error,
        reauth_url=sign_in_again_url("federation.methods") if stale else None,
    ), (400 if error else 200)
