"""Account pages for subscriber contracts: find, confirm by SMS, see and unlink."""

from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from ..accounts.account_views import signed_in
from ..accounts.forms import CodeForm
from ..accounts.views import client_ip, wait_message
from ..extensions import runtime
from ..otp import codes
from ..otp.messages import code_error_message
from ..ratelimit import RateLimited
from . import service
from .directory import DirectoryUnavailable
from .forms import FindContractForm

bp = Blueprint("contracts", __name__, url_prefix="/account/contracts")

def unavailable_message() -> str:
    return _("We cannot look up contracts right now. Please try again in a few minutes.")


@bp.route("", methods=["GET", "POST"])
@signed_in
def overview():
    """Linked contracts, contracts waiting for a code, and the search form."""
    form = FindContractForm()
    action_form = FlaskForm()
    error = None
    status = 200
    candidates = None
    if request.form.get("action") == "unlink" and action_form.validate_on_submit():
        service.unlink(g.user, request.form.get("number", ""))
        return redirect(url_for("contracts.overview"))
    if request.form.get("action") == "find" and form.validate_on_submit():
        try:
            candidates = service.find_contracts(g.user, form.kind.data, form.value.data, client_ip())
        except RateLimited as limited:
            error, status = wait_message(limited.retry_after), 429
        except service.NothingFound:
            error, status = _("We found no contract with these details. Check the number and try again."), 404
        except DirectoryUnavailable:
            error, status = unavailable_message(), 503
    elif request.method == "POST" and status == 200:
        status = 400
    links = service.links_of(g.user)
    records = {}
    if links:
        try:
            records = {r.number: r for r in runtime().directory.get_many([link.contract_number for link in links])}
        except DirectoryUnavailable:
            error = error or unavailable_message()
    return render_template(
        "contracts/overview.html", form=form, action_form=action_form, links=links, records=records,
        pending=service.pending_numbers(g.user), candidates=candidates, error=error,
    ), status


@bp.route("/send", methods=["POST"])
@signed_in
def send():
    """Send the code to the phone on the chosen contract."""
    form = FlaskForm()
    number = request.form.get("number", "")
    if not form.validate_on_submit():
        return render_template("errors/error.html", message=_("The form has expired. Please go back and try again.")), 400
    try:
        sent = service.request_link(g.user, number, client_ip())
    except service.NotYourCandidate:
        return render_template("errors/error.html", message=_("Search for the contract first.")), 400
    except codes.CodeError as failed:
        return render_template("errors/error.html", message=code_error_message(failed)), 400
    except DirectoryUnavailable:
        return render_template("errors/error.html", message=unavailable_message()), 503
    return redirect(url_for("contracts.confirm", number=number, sent=sent.masked_phone))


@bp.route("/confirm", methods=["GET", "POST"])
@signed_in
def confirm():
    number = request.args.get("number", "")[:32]
    form = CodeForm()
    error = None
    if number not in service.pending_numbers(g.user):
        return render_template("errors/error.html", message=_(
            "This contract is no longer waiting for a code. Search for it again.")), 400
    if form.validate_on_submit():
        try:
            service.confirm_link(g.user, number, form.code.data)
        except codes.CodeError as failed:
            error = code_error_message(failed)
        except service.PendingLinkExpired:
            error = _("This contract is no longer waiting for a code. Search for it again.")
        except service.LinkConflict:
            error = _("This contract was just linked by someone else. Search for it again.")
        else:
            return redirect(url_for("contracts.overview"))
    notice = _("We sent a 6-digit code to the phone on contract %(number)s (%(phone)s).", number=number,
               phone=request.args.get("sent", "")) if request.args.get("sent") else None
    return render_template("contracts/confirm.html", form=form, number=number, error=error, notice=notice), (
        400 if error or form.errors else 200)
