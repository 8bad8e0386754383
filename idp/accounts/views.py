"""Sign-in (password, second step, phone), registration and step-up."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from ..extensions import db, runtime
from ..otp import codes
from ..otp.messages import code_error_message, sent_message
from . import email, phone_sign_in, second_step, service
from .forms import CodeForm, PhoneForm, RegistrationForm, SecondStepForm, SignInForm
from .models import User
from .sessions import ACR_MULTI_FACTOR, ACR_SINGLE_FACTOR
from .web import current_session, safe_next, set_session_cookie

bp = Blueprint("accounts", __name__)

PASSWORD_MESSAGES = {
    "too_short": lambda: _("Use at least %(n)d characters.", n=runtime().settings.passwords.min_length),
    "too_long": lambda: _("Use at most 128 characters."),
    "too_common": lambda: _("This password is too easy to guess. Add more words or characters."),
}


def wait_message(seconds: int) -> str:
    if seconds < 90:
        return _("Too many attempts. Please wait %(n)d seconds and try again.", n=seconds)
    return _("Too many attempts. Please wait %(n)d minutes and try again.", n=(seconds + 59) // 60)


def client_ip() -> str:
    return request.remote_addr or ""


def start_signed_in_response(user: User, amr: list[str], acr: str, remember: bool, target: str):
    """End any session this browser had, open a new one (new id), and go on to target."""
    previous = current_session()
    if user.must_change_password:
        target = url_for("account.password", next=target)
    cookie_value, sso = service.begin_session(user, amr, acr, remember, previous,
                                              ip=client_ip(), user_agent=request.user_agent.string or "")
    response = redirect(target)
    set_session_cookie(response, cookie_value, sso)
    return response


def after_first_step(user: User, first_amr: str, remember: bool, target: str):
    """Signed in, unless an enrolled second factor must come first."""
    if second_step.needs_second_step(user):
        session["second_step"] = second_step.begin(user, remember, target, first_amr=first_amr)
        return redirect(url_for("accounts.verify_second_step"))
    return start_signed_in_response(user, [first_amr], ACR_SINGLE_FACTOR, remember, target)


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = SignInForm()
    target = safe_next(request.args.get("next"))
    if request.method == "GET" and request.args.get("login_hint"):
        form.identifier.data = request.args["login_hint"][:254]
    error = None
    status = None
    if form.validate_on_submit():
        try:
            user = service.authenticate(form.identifier.data, form.password.data, client_ip())
        except service.RateLimited as limited:
            error, status = wait_message(limited.retry_after), 429
        except service.InvalidCredentials:
            error = _("The username, e-mail, phone or password is not right.")
        except service.AccountLocked:
            error = _("This account is locked. Please contact customer support.")
        else:
            return after_first_step(user, "pwd", form.remember.data, target)
    status = status or (401 if error else (400 if form.errors else 200))
    notice = _("Your password was changed. Sign in with the new one.") if request.args.get("reset") else None
    return render_template(
        "accounts/login.html",
        form=form,
        error=error,
        notice=notice,
        next=target,
        phone_sign_in=runtime().settings.accounts.phone_sign_in,
        providers=runtime().settings.federation.providers,
    ), status


@bp.route("/login/verify", methods=["GET", "POST"])
def verify_second_step():
    pending = second_step.load(session.get("second_step"))
    if pending is None:
        return render_template("errors/error.html", message=_("Your sign-in has expired. Please sign in again.")), 400
    try:
        user = second_step.user_of(pending)
    except second_step.SecondStepExpired:
        return render_template("errors/error.html", message=_("Your sign-in has expired. Please sign in again.")), 400
    methods = second_step.methods_for(user, pending.first_amr)
    form = SecondStepForm()
    form.offer(methods)
    send_form = FlaskForm(prefix="send")
    error = notice = None
    status = 200
    if request.form.get("action") == "send_sms" and send_form.validate_on_submit():
        try:
            notice = sent_message(second_step.send_sms(pending, client_ip()))
        except codes.CodeError as failed:
            error, status = code_error_message(failed), 400
        except second_step.WrongSecondFactor:
            error, status = _("This way of confirming is not available."), 400
    elif form.validate_on_submit():
        try:
            user, amr_value = second_step.complete(pending, form.method.data, form.code.data)
        except second_step.SecondStepExpired:
            session.pop("second_step", None)
            return render_template("errors/error.html", message=_("Too many wrong codes. Please sign in again.")), 400
        except second_step.WrongSecondFactor:
            error, status = _("The code is not right."), 400
        except second_step.RateLimited as limited:
            error, status = wait_message(limited.retry_after), 429
        except codes.CodeError as failed:
            error, status = code_error_message(failed), 400
        else:
            session.pop("second_step", None)
            if pending.step_up_sid is None:
                amr = [pending.first_amr, amr_value, "mfa"]
                return start_signed_in_response(user, amr, ACR_MULTI_FACTOR, pending.remember, pending.target)
            sso = current_session()
            if sso is None or sso.sid != pending.step_up_sid:
                return render_template("errors/error.html", message=_("Your sign-in has expired. Please sign in again.")), 400
            if not second_step.step_up(sso, amr_value):
                return render_template("errors/error.html", message=_("Your sign-in has expired. Please sign in again.")), 400
            return redirect(pending.target)
    elif request.method == "POST":
        status = 400
    return render_template(
        "accounts/second_step.html", form=form, send_form=send_form, methods=methods, error=error, notice=notice,
        step_up=pending.step_up_sid is not None,
    ), status


@bp.route("/login/step-up")
def step_up():
    """A site asked for a multi-factor sign-in: confirm a second factor in this session."""
    sso = current_session()
    target = safe_next(request.args.get("next"))
    if sso is None:
        return redirect(url_for("accounts.login", next=target))
    user = db.session.get(User, sso.user_id)
    if user is None:
        return redirect(url_for("accounts.login", next=target))
    # The factor of the session's first step (a password or an SMS code) cannot count as the second.
    first_amr = "sms" if "sms" in sso.amr else "pwd"
    session["second_step"] = second_step.begin(user, sso.remember, target, step_up_sid=sso.sid, first_amr=first_amr)
    return redirect(url_for("accounts.verify_second_step"))


@bp.route("/login/phone", methods=["GET", "POST"])
def login_by_phone():
    if not runtime().settings.accounts.phone_sign_in:
        return render_template("errors/error.html", message=_("This page does not exist.")), 404
    target = safe_next(request.args.get("next"))
    form = PhoneForm()
    error = None
    if form.validate_on_submit():
        try:
            phone, sent = phone_sign_in.send_code(form.phone.data, client_ip())
        except service.InvalidPhone:
            form.phone.errors.append(_("This is not a valid mobile phone number."))
        except codes.CodeError as failed:
            error = code_error_message(failed)
        else:
            session["phone_sign_in"] = phone
            return redirect(url_for("accounts.login_by_phone_code", next=target, sent=sent.masked_phone))
    status = 400 if (error or form.errors or any(f.errors for f in form)) else 200
    return render_template("accounts/phone_sign_in.html", form=form, error=error, next=target), status


@bp.route("/login/phone/code", methods=["GET", "POST"])
def login_by_phone_code():
    phone = session.get("phone_sign_in")
    target = safe_next(request.args.get("next"))
    if not runtime().settings.accounts.phone_sign_in or not phone:
        return redirect(url_for("accounts.login_by_phone", next=target))
    form = CodeForm()
    error = None
    if form.validate_on_submit():
        try:
            user, _created = phone_sign_in.complete(phone, form.code.data)
        except codes.CodeError as failed:
            error = code_error_message(failed)
        except service.AccountLocked:
            error = _("This account is locked. Please contact customer support.")
        else:
            session.pop("phone_sign_in", None)
            return after_first_step(user, "sms", False, target)
    status = 400 if (error or form.errors) else 200
    return render_template(
        "accounts/phone_code.html", form=form, error=error, masked=codes.mask_phone(phone), next=target
    ), status


@bp.route("/register", methods=["GET", "POST"])
def register():
    if not runtime().settings.accounts.registration:
        return render_template("errors/error.html", message=_("Registration is closed.")), 404
    form = RegistrationForm()
    target = safe_next(request.args.get("next"))
    error = None
    if form.validate_on_submit():
        try:
            user = service.register(
                username=form.username.data,
                password=form.password.data,
                phone=form.phone.data,
                email=form.email.data or None,
                name=form.name.data,
                marketing_consent=form.marketing_consent.data,
            )
        except service.InvalidUsername:
            form.username.errors.append(_("Use 3 to 32 letters, digits, dots, dashes or underscores, starting with a letter."))
        except service.UsernameTaken:
            form.username.errors.append(_("This username is taken. Choose another one."))
        except service.InvalidPhone:
            form.phone.errors.append(_("This is not a valid mobile phone number."))
        except service.InvalidEmail:
            form.email.errors.append(_("This is not a valid e-mail address."))
        except service.PasswordRejected as rejected:
            form.password.errors.append(PASSWORD_MESSAGES[rejected.reason]())
        except service.AccountExists:
            error = _(
                "We could not create an account with these details. If you already have an account, sign in instead."
            )
        else:
            email.send_confirmation(user)
            # Straight on to proving the phone; the person may skip it and come back later.
            then = target if runtime().settings.sms.sender == "none" else url_for("account.phone", next=target)
            return start_signed_in_response(user, ["pwd"], ACR_SINGLE_FACTOR, False, then)
    has_errors = bool(error or form.errors or any(f.errors for f in form))
    return render_template("accounts/register.html", form=form, error=error, next=target), (400 if has_errors else 200)


@bp.route("/")
def home():
    if current_session() is not None:
        return redirect(url_for("account.overview"))
    return render_template("accounts/home.html")
