"""Forgotten password: a code to the verified phone on file, the same answer whether or not the account exists."""

from __future__ import annotations

import secrets

from flask_babel import gettext as _

from .. import audit
from ..extensions import db, runtime
from ..oidc.logout import sign_out_everywhere
from ..otp import codes
from . import service
from .models import User

TICKET_SECONDS = 900


class ResetExpired(Exception):
    """The reset ticket is unknown or too old: start again."""


def _key(ticket: str) -> str:
    return f"reset:{ticket}"


def start_reset(identifier: str, ip: str) -> str:
    """Send a code if the account exists and has a verified phone; returns a ticket either way.

    Unknown accounts get a decoy code that nothing can match, so every later
    answer (wrong code, too many tries) is the same as for a real account.
    """
    user = service.find_account(identifier)
    ticket = secrets.token_urlsafe(24)
    reachable = user is not None and not user.locked and user.phone and user.phone_verified
    runtime().store.put(_key(ticket), {"user_id": user.id if reachable else None, "identifier": identifier[:254]},
                        TICKET_SECONDS)
    if reachable:
        message = _("%(operator)s password reset code: {code}. Valid 6 minutes. If you did not ask, ignore this.",
                    operator=runtime().settings.branding.operator_name)
        try:
            codes.send_code("reset_password", ticket, user.phone, message, ip=ip, account=user.sub)
        except (codes.SendBlocked, codes.ResendTooSoon, codes.CodeNotSent):
            # Said to nobody: the page's answer must not depend on the account. The audit log has it.
            codes.plant_decoy("reset_password", ticket)
    else:
        codes.plant_decoy("reset_password", ticket)
    return ticket


def ticket_is_live(ticket: str | None) -> bool:
    return bool(ticket) and len(ticket) <= 64 and runtime().store.get(_key(ticket)) is not None


def finish_reset(ticket: str, code: str, new_password: str) -> User:
    """Set the new password, end every session and revoke every refresh token of the account."""
    data = runtime().store.get(_key(ticket)) if ticket and len(ticket) <= 64 else None
    if data is None:
        raise ResetExpired()
    user = db.session.get(User, data["user_id"]) if data["user_id"] else None
    # Before the code is known to be right, judge the password only by what the person typed,
    # so the answer is the same for real and unknown accounts.
    runtime().passwords.check_policy(new_password, [data["identifier"]])
    if not data.get("code_ok"):
        codes.verify_code("reset_password", ticket, code, account=user.sub if user else None)
        if user is None:  # a decoy cannot be matched; this is only for safety
            raise codes.CodeInvalid()
        # The code is used up; remember it was right, so a password refused next (it names the
        # account, say) can be replaced without a new code.
        runtime().store.replace(_key(ticket), {**data, "code_ok": True}, TICKET_SECONDS)
    runtime().passwords.check_policy(new_password, [user.username, user.email or "", user.phone or ""])
    runtime().store.delete(_key(ticket))
    service.set_password(user, new_password, check_policy=False)
    sign_out_everywhere(user.id)
    audit.record("password.reset", account=user.sub)
    return user
