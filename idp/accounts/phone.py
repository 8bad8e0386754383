"""Proving a phone number: an SMS code to the number on the account."""

from __future__ import annotations

from flask_babel import gettext as _

from .. import audit
from ..extensions import db, runtime
from ..otp import codes
from .models import User


class NoPhone(Exception):
    """The account has no phone number to verify."""


def _message() -> str:
    return _("%(operator)s code to confirm your phone: {code}. Valid 6 minutes. Never share it.",
             operator=runtime().settings.branding.operator_name)


def send_verification(user: User, ip: str) -> codes.SentCode:
    if not user.phone:
        raise NoPhone()
    return codes.send_code(
        "verify_phone", f"user:{user.id}:{user.phone}", user.phone, _message(),
        ip=ip, account=user.sub, owner=user.sub, unverified=not user.phone_verified,
    )


def confirm(user: User, code: str) -> None:
    """Mark the phone verified; CodeInvalid / TooManyTries otherwise."""
    if not user.phone:
        raise NoPhone()
    phone = codes.verify_code("verify_phone", f"user:{user.id}:{user.phone}", code, account=user.sub)
    if phone != user.phone:  # the number changed since the code was sent
        raise codes.CodeInvalid()
    user.phone_verified = True
    db.session.commit()
    audit.record("phone.verified", account=user.sub)
