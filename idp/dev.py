"""Development-only pages (server.dev = true): the SMS outbox, so every flow can be finished locally."""

from __future__ import annotations

from flask import Blueprint, abort, render_template

from .extensions import runtime
from .otp.senders import OutboxSender

bp = Blueprint("dev", __name__, url_prefix="/dev")


@bp.before_request
def only_in_development():
    if not runtime().settings.server.dev:
        abort(404)


@bp.route("/outbox")
def outbox():
    sender = runtime().sms
    outbox = sender if isinstance(sender, OutboxSender) else getattr(runtime().mailer, "outbox", None)
    return render_template("dev/outbox.html", messages=outbox.recent() if outbox else [], outbox=outbox is not None)
