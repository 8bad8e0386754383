"""The account page: phone verification, password change, two-step sign-in, staying signed in."""

from __future__ import annotations

import functools

from flask import Blueprint, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from .. import audit, clock
from ..extensions import db, runtime
from ..oidc import storage
from ..oidc.logout import end_sso_session, sign_out_everywhere
from ..otp import codes
from ..otp.messages import code_error_message, sent_message
from . import email, mfa, privacy, profile, service
from . import phone as phone_numbers
from .forms import ChangePasswordForm, CodeForm, PasswordConfirmForm, PhoneChangeForm, ProfileForm
from .models import User
from .sessions import is_fresh
from .views import PASSWORD_MESSAGES, client_ip, wait_message
from .web import clear_session_cookie, current_session, safe_next

bp = Blueprint("account", __name__, url_prefix="/account")


def signed_in(view):
    """The view needs a signed-in, unlocked account: g.user and g.sso are set."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        sso = current_session()
        user = db.session.get(User, sso.user_id) if sso else None
        here = request.full_path.rstrip("?")
        if user is None or user.locked:
            return redirect(url_for("accounts.login", next=here))
        if user.must_change_password and request.endpoint != "account.password":
            return redirect(url_for("account.password", next=here))
        g.user, g.sso = user, sso
        return view(*args, **kwargs)

    return wrapper


def fresh_sign_in_needed() -> str:
    """What a person is told when a change needs a sign-in from the last ten minutes."""
    return _("For your safety, please sign in again first.")


def sign_in_again_url(endpoint: str) -> str:
    """Where the signed-in person signs in again, then comes back to `endpoint`."""
    return url_for("accounts.login", next=url_for(endpoint), login_hint=g.user.username)


@bp.route("")
@signed_in
def overview():
    return render_template(
        "account/overview.html",
        user=g.user,
        has_totp=mfa.has_totp(g.user),
        sms_enabled=runtime().settings.sms.sender != "none",
    )


@bp.route("/phone", methods=["GET", "POST"])
@signed_in
def phone():
    """Prove the phone on the account: send a code, then type it."""
    target = safe_next(request.args.get("next"), url_for("account.overview"))
    send_form = FlaskForm(prefix="send")
    form = CodeForm()
    error = notice = None
    status = 200
    if request.form.get("action") == "send" and send_form.validate_on_submit():
        try:
            notice = sent_message(phone_numbers.send_verification(g.user, client_ip()))
        except codes.CodeError as failed:
            error, status = code_error_message(failed), 400
        except phone_numbers.NoPhone:
            error, status = _("Add a phone number to your account first."), 400
    elif request.form.get("action") == "confirm" and form.validate_on_submit():
        try:
            phone_numbers.confirm(g.user, form.code.data)
        except codes.CodeError as failed:
            error, status = code_error_message(failed), 400
        else:
            return redirect(target)
    elif request.method == "POST":
        status = 400
    return render_template(
        "account/phone.html", user=g.user, send_form=send_form, form=form, error=error, notice=notice, next=target
    ), status


@bp.route("/password", methods=["GET", "POST"])
@signed_in
def password():
    """Change the password: the current one, then an SMS code when the phone is verified."""
    form = ChangePasswordForm()
    code_form = CodeForm()
    error = None
    notice = _("Please choose a new password before you continue.") if g.user.must_change_password else None
    continue_to = safe_next(request.args.get("next"), "") or None
    changed = _("Your password is changed. Other devices were signed out.")
    status = 200
    awaiting_code = False
    if request.form.get("action") == "confirm" and code_form.validate_on_submit():
        try:
            service.confirm_password_change(g.user, code_form.code.data, g.sso.sid)
        except codes.CodeError as failed:
            error, status, awaiting_code = code_error_message(failed), 400, True
        else:
            return render_template("account/done.html", message=changed, continue_to=continue_to), 200
    elif request.form.get("action") == "change" and form.validate_on_submit():
        try:
            sent = service.request_password_change(
                g.user, form.current_password.data, form.new_password.data, client_ip(), g.sso
            )
        except service.NeedsFreshSignIn:
            error, status = fresh_sign_in_needed(), 400
        except service.RateLimited as limited:
            error, status = wait_message(limited.retry_after), 429
        except service.WrongPassword:
            form.current_password.errors.append(_("This is not your current password."))
            status = 400
        except service.PasswordRejected as rejected:
            form.new_password.errors.append(PASSWORD_MESSAGES[rejected.reason]())
            status = 400
        except codes.CodeError as failed:
            error, status = code_error_message(failed), 400
        else:
            if sent is None:
                return render_template("account/done.html", message=changed, continue_to=continue_to), 200
            notice, awaiting_code = sent_message(sent), True
    elif request.method == "POST":
        status = 400
    return render_template(
        "account/password.html", form=form, code_form=code_form, error=error, notice=notice,
        awaiting_code=awaiting_code, has_password=bool(g.user.password_hash),
    ), status


def _refused_identity(password_field) -> tuple[str | None, int] | None:
    """Ask service.confirm_identity about the signed-in person; on refusal, (page error, status),
    with a wrong password reported on the field itself."""
    try:
        service.confirm_identity(g.user, password_field.data, client_ip(), g.sso)
    except service.WrongPassword:
        password_field.errors.append(_("This is not your current password."))
        return None, 400
    except service.NeedsFreshSignIn:
        return fresh_sign_in_needed(), 400
    except service.RateLimited as limited:
        return wait_message(limited.retry_after), 429
    return None


@bp.route("/two-step", methods=["GET", "POST"])
@signed_in
def two_step():
    """Set up, renew or remove the authenticator app."""
    user = g.user
    action = request.form.get("action")
    start_form = FlaskForm(prefix="start")
    confirm_form = CodeForm()
    password_form = PasswordConfirmForm()
    error = None
    status = 200
    recovery_codes = None
    reauth_url = None
    if action == "start" and start_form.validate_on_submit():
        # A factor someone else enrolls would lock the owner out: a recent sign-in first.
        if is_fresh(g.sso):
            mfa.start_totp_enrollment(user)
        else:
            error, status, reauth_url = fresh_sign_in_needed(), 400, sign_in_again_url("account.two_step")
    elif action == "confirm" and confirm_form.validate_on_submit():
        try:
            recovery_codes = mfa.confirm_totp_enrollment(user, confirm_form.code.data)
        except mfa.EnrollmentExpired:
            error, status = _("The set-up took too long. Please start again."), 400
        except mfa.WrongFactorCode:
            error, status = _("The code is not right. Check the time on your phone and try again."), 400
    elif action in ("remove", "renew") and password_form.validate_on_submit():
        refused = _refused_identity(password_form.password)
        if refused:
            error, status = refused
        elif action == "remove":
            mfa.remove_totp(user)
        else:
            recovery_codes = mfa.new_recovery_codes(user)
    elif request.method == "POST":
        status = 400
    enrolled = mfa.has_totp(user)
    return render_template(
        "account/two_step.html",
        enrolled=enrolled,
        pending=None if enrolled else mfa.pending_enrollment(user),
        remaining=mfa.remaining_recovery_codes(user) if enrolled else 0,
        recovery_codes=recovery_codes,
        start_form=start_form,
        confirm_form=confirm_form,
        password_form=password_form,
        error=error,
        reauth_url=reauth_url,
        has_password=bool(user.password_hash),
    ), status


@bp.route("/profile", methods=["GET", "POST"])
@signed_in
def profile_page():
    """Name and e-mail; a new phone number, proven by a code sent to it."""
    form = ProfileForm(obj=g.user) if request.method == "GET" else ProfileForm()
    phone_form, code_form = PhoneChangeForm(prefix="phone"), CodeForm(prefix="code")
    error = notice = None
    status = 200
    action = request.form.get("action")
    try:
        if action == "details" and form.validate_on_submit():
            if profile.update_details(g.user, form.name.data, form.email.data):
                notice = _confirmation_notice(email.send_confirmation(g.user), g.user.email)
            else:
                notice = _("Saved.")
        elif action == "resend_email" and FlaskForm().validate_on_submit():
            notice = _confirmation_notice(email.send_confirmation(g.user), g.user.email)
        elif action == "phone" and phone_form.validate_on_submit():
            refused = _refused_identity(phone_form.password)
            if refused:
                error, status = refused
            else:
                notice = sent_message(profile.request_phone_change(g.user, phone_form.phone.data, client_ip())[1])
        elif action == "confirm_phone" and code_form.validate_on_submit():
            profile.confirm_phone_change(g.user, code_form.code.data, client_ip())
            notice = _("Your new phone number is confirmed.")
        elif request.method == "POST":
            status = 400
    except service.InvalidEmail:
        form.email.errors.append(_("This is not a valid e-mail address."))
        status = 400
    except service.InvalidPhone:
        phone_form.phone.errors.append(_("This is not a valid mobile phone number."))
        status = 400
    except service.AccountExists:
        error, status = _("This is already on your account or belongs to another account."), 400
    except codes.CodeError as failed:
        error, status = code_error_message(failed), 400
    return render_template("account/profile.html", user=g.user, form=form, phone_form=phone_form, code_form=code_form,
                           pending=profile.pending_phone(g.user), error=error, notice=notice), status


def _confirmation_notice(sent: bool, address: str | None) -> str:
    if sent:
        return _("We sent a link to %(email)s. Open it to confirm the address.", email=address)
    return _("Saved. We could not send a confirmation e-mail right now.")


@bp.route("/email/<token>")
def confirm_email(token):
    """The link from the confirmation e-mail (it may open in another browser: the token is the proof)."""
    try:
        email.confirm(token)
    except email.LinkInvalid:
        return render_template("errors/error.html", message=_("This link is not valid any more.")), 400
    return render_template("account/done.html", message=_("Your e-mail address is confirmed."))


@bp.route("/keepalive", methods=["POST"])
def keepalive():
    """The idle warning's "stay signed in" button: activity that keeps the session alive."""
    sso = current_session()
    if sso is None:
        return jsonify(signed_in=False), 401
    runtime().sessions.touch(sso)
    return jsonify(signed_in=True, idle_seconds=runtime().settings.session.idle_minutes * 60)


@bp.app_context_processor
def idle_warning():
    """Pages of a signed-in person know when the session would end if left idle."""
    sso = g.get("sso_session")
    if not sso or sso.remember:
        return {"idle_logout_at": None}
    return {"idle_logout_at": int(sso.last_seen + runtime().settings.session.idle_minutes * 60 - clock.now())}


def device_name(user_agent: str) -> str:
    """A short, human name for a browser from its User-Agent ("Chrome on Android")."""
    ua = user_agent or ""
    browser = next((name for key, name in (("Edg/", "Edge"), ("OPR/", "Opera"), ("CocosBrowser", "Cốc Cốc"),
                                           ("coc_coc", "Cốc Cốc"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"),
                                           ("Safari/", "Safari")) if key in ua), "")
    system = next((name for key, name in (("Android", "Android"), ("iPhone", "iPhone"), ("iPad", "iPad"),
                                          ("Windows", "Windows"), ("Mac OS X", "macOS"), ("Linux", "Linux")) if key in ua), "")
    if browser and system:
        return _("%(browser)s on %(system)s", browser=browser, system=system)
    return browser or system or _("Unknown device")


def end_device(user: User, sid: str) -> None:
    """End one device's session, with the same consequences as signing out there."""
    target = next((s for s in runtime().sessions.for_user(user.id) if s.sid == sid), None)
    if target is not None:
        end_sso_session(target)
        runtime().sessions.end_one(user.id, sid)
        audit.record("session.ended", account=user.sub, sid=sid)


@bp.route("/sessions", methods=["GET", "POST"])
@signed_in
def sessions():
    """Devices signed in to this account: end one, or all but this one."""
    form = FlaskForm()
    if form.validate_on_submit():
        if request.form.get("action") == "end_others":
            sign_out_everywhere(g.user.id, keep_sid=g.sso.sid)
        elif request.form.get("sid"):
            end_device(g.user, request.form["sid"])
        return redirect(url_for("account.sessions"))
    active = runtime().sessions.for_user(g.user.id)
    sites = {s.sid: runtime().sessions.sites_of(s) for s in active}
    names = {c.client_id: c.name for c in storage.get_clients(sorted({c for ids in sites.values() for c in ids}))}
    return render_template("account/sessions.html", sessions=active, current=g.sso.sid, form=form, names=names,
                           sites=sites, device_name=device_name, now=clock.now())


@bp.route("/sites", methods=["GET", "POST"])
@signed_in
def sites():
    """Sites the person allowed; revoking one also revokes that site's refresh tokens."""
    form = FlaskForm()
    if form.validate_on_submit() and request.form.get("client_id"):
        storage.revoke_consent(g.user.id, request.form["client_id"])
        audit.record("consent.revoked", account=g.user.sub, client_id=request.form["client_id"][:64])
        return redirect(url_for("account.sites"))
    return render_template("account/sites.html", consents=storage.consents_of(g.user.id), form=form)


@bp.route("/data")
@signed_in
def download_data():
    """Everything idp holds about the person, as a JSON file."""
    response = jsonify(privacy.export_data(g.user))
    response.headers["Content-Disposition"] = f'attachment; filename="account-{g.user.username}.json"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/delete", methods=["GET", "POST"])
@signed_in
def delete():
    """Delete the account, after a sign-in less than ten minutes old."""
    form = FlaskForm()
    fresh = is_fresh(g.sso)
    if form.validate_on_submit() and request.form.get("confirm") == "delete":
        try:
            privacy.delete_account(g.user, g.sso)
        except service.NeedsFreshSignIn:
            fresh = False
        else:
            response = redirect(url_for("accounts.home"))
            clear_session_cookie(response)
            return response
    return render_template("account/delete.html", form=form, fresh=fresh,
                           reauth_url=sign_in_again_url("account.delete"))
