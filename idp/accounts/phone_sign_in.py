"""Phone-first sign-in (accounts.phone_sign_in): a phone number and an SMS code; new numbers get an account."""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from flask_babel import gettext as _

from .. import audit
from ..extensions import db, runtime
from ..otp import codes
from . import service
from .models import User


def send_code(raw_phone: str, ip: str) -> tuple[str, codes.SentCode]:
    """Normalise the number and send it a sign-in code; InvalidPhone or a CodeError otherwise."""
    phone = service.normalize_phone(raw_phone)
    message = _("%(operator)s sign-in code: {code}. Valid 6 minutes. Never share it.",
                operator=runtime().settings.branding.operator_name)
    # Whoever asks may reach only a few numbers a day that no account has proven.
    sent = codes.send_code("sign_in", f"phone:{phone}", phone, message, ip=ip, owner=f"ip:{ip}", unverified=True)
    return phone, sent


def complete(phone: str, code: str) -> tuple[User, bool]:
    """The account of this number (made now if there is none) once the code is right; (user, created)."""
    codes.verify_code("sign_in", f"phone:{phone}", code)
    user = db.session.scalar(sa.select(User).where(User.phone == phone))
    if user is not None and not user.phone_verified:
        # Whoever typed this number into that account never proved it; signing the number's
        # owner into it would hand them an account someone else holds the password of.
        # Proof wins: the number leaves that account and its owner gets one of their own.
        user.phone = None
        db.session.commit()
        audit.record("phone.released", account=user.sub, reason="proven_by_sign_in")
        user = None
    if user is not None:
        if user.locked:
            raise service.AccountLocked()
        return user, False
    user = User(username="u" + secrets.token_hex(6), phone=phone, phone_verified=True)
    db.session.add(user)
    db.session.commit()
    audit.record("account.registered", account=user.sub, method="sms")
    return user, True
