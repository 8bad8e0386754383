"""What a person reads when a code cannot be sent or is not right."""

from __future__ import annotations

from flask_babel import gettext as _

from . import codes


def code_error_message(error: codes.CodeError) -> str:
    if isinstance(error, codes.TooManyTries):
        return _("Too many wrong codes. Ask for a new code.")
    if isinstance(error, codes.ResendTooSoon):
        return _("A code was just sent. You can ask for another in %(n)d seconds.", n=error.retry_after)
    if isinstance(error, codes.SendBlocked):
        if error.reason == "country":
            return _("We cannot send codes to this number. Use a number from an allowed country.")
        if error.reason == "budget":
            return _("We cannot send codes right now. Please try again later or contact customer support.")
        return _("Too many codes were asked for. Please try again later.")
    if isinstance(error, codes.CodeNotSent):
        return _("We could not send the code. Please try again in a moment.")
    return _("The code is wrong or has expired.")


def sent_message(sent: codes.SentCode) -> str:
    return _("We sent a 6-digit code to %(phone)s. It is valid for %(minutes)d minutes.",
             phone=sent.masked_phone, minutes=sent.expires_in // 60)
