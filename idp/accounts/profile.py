"""Changing one's name, e-mail and phone; a new phone counts only once proven by SMS."""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _

from .. import audit
from ..extensions import db, runtime
from ..otp import codes
from . import service
from .models import User

PHONE_CHANGE_SECONDS = 900


def update_details(user: User, name: str | None, email: str | None) -> bool:
    """Name and e-mail; a changed e-mail is no longer verified. True if the e-mail changed (confirm it)."""
    email = service.normalize_email(email) if email else None
    if email and email != user.email and db.session.scalar(sa.select(User.id).where(User.email == email)):
        raise service.AccountExists()
    changed = email != user.email
    if changed:
        user.email_verified = False
    user.email = email
    user.name = (name or "").strip()[:128] or None
    db.session.commit()
    return changed and email is not None


def request_phone_change(user: User, raw_phone: str, ip: str) -> tuple[str, codes.SentCode]:
    phone = service.normalize_phone(raw_phone)
    if phone == user.phone and user.phone_verified:
        raise service.AccountExists()
    if phone != user.phone and db.session.scalar(sa.select(User.id).where(User.phone == phone)):
        raise service.AccountExists()
    message = _("%(operator)s code to confirm your phone: {code}. Valid 6 minutes. Never share it.",
                operator=runtime().settings.branding.operator_name)
    sent = codes.send_code("verify_phone", f"new-phone:{user.id}:{phone}", phone, message, ip=ip, account=user.sub,
                           owner=user.sub, unverified=True)
    runtime().store.put(f"phone-change:{user.id}", {"phone": phone}, PHONE_CHANGE_SECONDS)
    return phone, sent


def pending_phone(user: User) -> str | None:
    pending = runtime().store.get(f"phone-change:{user.id}")
    return pending["phone"] if pending else None


def confirm_phone_change(user: User, code: str, ip: str) -> None:
    """Switch to the proven new number; a verified old number hears about it, in case it was not them."""
    phone = pending_phone(user)
    if phone is None:
        raise codes.CodeInvalid()
    codes.verify_code("verify_phone", f"new-phone:{user.id}:{phone}", code, account=user.sub)
    previous = user.phone if user.phone_verified else None
    user.phone, user.phone_verified = phone, True
    try:
        db.session.commit()
    except sa.exc.IntegrityError:
        db.session.rollback()
        raise service.AccountExists() from None
    runtime().store.delete(f"phone-change:{user.id}")
    notified = previous is not None and codes.send_notice(previous, _notice(phone), ip=ip)
    audit.record("phone.verified", account=user.sub, changed=True, previous_notified=notified)


def _notice(new_phone: str) -> str:
    branding = runtime().settings.branding
    text = _("%(operator)s: the phone number of your account was changed to %(phone)s.",
             operator=branding.operator_name, phone=codes.mask_phone(new_phone))
    if branding.support_phone:
        text += " " + _("Not you? Call %(support)s.", support=branding.support_phone)
    return text
