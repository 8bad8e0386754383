"""Confirming an e-mail address: a link with a single-use token, valid a day."""

from __future__ import annotations

import logging
import secrets

from flask_babel import gettext as _

from .. import audit
from ..extensions import db, runtime
from ..mail import MailFailed
from .models import User

LINK_SECONDS = 86400
log = logging.getLogger(__name__)


class LinkInvalid(Exception):
    """Unknown, used or expired link, or the address changed since it was sent."""


def send_confirmation(user: User) -> bool:
    """Mail a confirmation link for the account's e-mail; False if no mail could be sent (said on the page)."""
    if not user.email or user.email_verified:
        return False
    token = secrets.token_urlsafe(32)
    runtime().store.put(f"email-confirm:{token}", {"user_id": user.id, "email": user.email}, LINK_SECONDS)
    link = f"{runtime().settings.server.issuer}/account/email/{token}"
    operator = runtime().settings.branding.operator_name
    try:
        runtime().mailer.send(
            user.email,
            _("Confirm your e-mail for %(operator)s", operator=operator),
            _("Open this link to confirm that %(email)s is yours (valid for 24 hours):\n\n%(link)s\n\n"
              "If you did not ask for this, ignore this message.", email=user.email, link=link),
        )
    except MailFailed as failed:
        log.warning("confirmation e-mail not sent: %s", failed)
        runtime().store.delete(f"email-confirm:{token}")
        return False
    return True


def confirm(token: str) -> User:
    data = runtime().store.take(f"email-confirm:{token}") if token and len(token) <= 64 else None
    user = db.session.get(User, data["user_id"]) if data else None
    if user is None or user.email != data["email"]:
        raise LinkInvalid()
    user.email_verified = True
    db.session.commit()
    audit.record("email.verified", account=user.sub)
    return user
