"""Forgotten password pages."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, session, url_for
from flask_babel import gettext as _

from ..extensions import runtime
from ..otp import codes
from ..otp.messages import code_error_message
from . import recovery
from .forms import ForgotPasswordForm, ResetPasswordForm
from .passwords import PasswordRejected
from .views import PASSWORD_MESSAGES, client_ip

bp = Blueprint("recovery", __name__, url_prefix="/password")


@bp.route("/forgot", methods=["GET", "POST"])
def forgot():
    if runtime().settings.sms.sender == "none":
        return render_template("errors/error.html", message=_(
            "Password reset by SMS is not available. Please contact customer support.")), 404
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        session["reset_ticket"] = recovery.start_reset(form.identifier.data, client_ip())
        return redirect(url_for("recovery.reset"))
    return render_template("recovery/forgot.html", form=form), (400 if form.errors else 200)


@bp.route("/reset", methods=["GET", "POST"])
def reset():
    ticket = session.get("reset_ticket")
    if not recovery.ticket_is_live(ticket):
        return redirect(url_for("recovery.forgot"))
    form = ResetPasswordForm()
    error = None
    if form.validate_on_submit():
        try:
            recovery.finish_reset(ticket, form.code.data, form.password.data)
        except PasswordRejected as rejected:
            form.password.errors.append(PASSWORD_MESSAGES[rejected.reason]())
        except recovery.ResetExpired:
            session.pop("reset_ticket", None)
            return redirect(url_for("recovery.forgot"))
        except codes.CodeError as failed:
            error = code_error_message(failed)
            if isinstance(failed, codes.TooManyTries):
                session.pop("reset_ticket", None)
        else:
            session.pop("reset_ticket", None)
            return redirect(url_for("accounts.login", reset=1))
    status = 400 if (error or form.errors or any(f.errors for f in form)) else 200
    return render_template("recovery/reset.html", form=form, error=error), status
