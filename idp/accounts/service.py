"""Accounts: registration, finding an account by what a person types, password sign-in."""

from __future__ import annotations

import re

import phonenumbers
import sqlalchemy as sa

from flask_babel import gettext as _

from .. import audit
from ..extensions import db, runtime
from ..oidc.logout import end_sso_session, sign_out_everywhere
from ..oidc.storage import move_session_tokens
from ..otp import codes
from . import throttle
from .models import User
from .passwords import PasswordRejected
from .sessions import SsoSession, is_fresh
from .throttle import RateLimited

USERNAME_RE = re.compile(r"^[a-z][a-z0-9._-]{2,31}$")
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")

__all__ = [
    "AccountError",
    "InvalidCredentials",
    "AccountLocked",
    "InvalidUsername",
    "InvalidEmail",
    "InvalidPhone",
    "UsernameTaken",
    "AccountExists",
    "PasswordRejected",
    "RateLimited",
    "normalize_phone",
    "register",
    "find_account",
    "authenticate",
]


class AccountError(Exception):
    """Base of the account errors a page or the CLI turns into a message."""


class InvalidCredentials(AccountError):
    """Unknown account or wrong password; deliberately not told apart."""


class AccountLocked(AccountError):
    """The account is locked by an administrator."""


class InvalidUsername(AccountError):
    pass


class InvalidEmail(AccountError):
    pass


class InvalidPhone(AccountError):
    pass


class UsernameTaken(AccountError):
    pass


class AccountExists(AccountError):
    """The e-mail or phone already belongs to an account (told only in general terms)."""


def normalize_phone(raw: str, region: str | None = None) -> str:
    """E.164 form of a phone number typed in any common format; InvalidPhone otherwise."""
    region = region or runtime().settings.accounts.phone_region
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise InvalidPhone(raw) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(raw)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_username(raw: str) -> str:
    username = raw.strip().lower()
    if not USERNAME_RE.match(username):
        raise InvalidUsername(raw)
    return username


def normalize_email(raw: str) -> str:
    email = raw.strip().lower()
    if len(email) > 254 or not EMAIL_RE.match(email):
        raise InvalidEmail(raw)
    return email


def register(
    username: str,
    password: str,
    phone: str | None = None,
    email: str | None = None,
    name: str | None = None,
    marketing_consent: bool = False,
    check_policy: bool = True,
) -> User:
    """Create an account; raises an AccountError or PasswordRejected and writes nothing on failure."""
    username = normalize_username(username)
    email = normalize_email(email) if email else None
    phone = normalize_phone(phone) if phone else None
    passwords = runtime().passwords
    if check_policy:
        passwords.check_policy(password, [username, email or "", phone or ""])
    if db.session.scalar(sa.select(User.id).where(User.username == username)):
        raise UsernameTaken(username)
    taken = [column == value for column, value in ((User.email, email), (User.phone, phone)) if value]
    if taken and db.session.scalar(sa.select(User.id).where(sa.or_(*taken))):
        raise AccountExists()
    user = User(
        username=username,
        email=email,
        phone=phone,
        name=(name or "").strip() or None,
        password_hash=passwords.hash(password),
        marketing_consent=marketing_consent,
    )
    db.session.add(user)
    try:
        db.session.commit()
    except sa.exc.IntegrityError:
        # Two registrations raced for the same username, e-mail or phone.
        db.session.rollback()
        raise AccountExists() from None
    audit.record("account.registered", account=user.sub)
    return user


def begin_session(user: User, amr: list[str], acr: str, remember: bool, previous: SsoSession | None,
                  ip: str = "", user_agent: str = ""):
    """A new SSO session (a new id at every sign-in); returns (cookie value, session).

    The browser's previous session ends. If it was the same person's, the new one carries
    it on: its sites stay signed in, its tokens now belong to the new session, and logout
    later reaches them all. If it was someone else's (a shared device), it is signed out
    everywhere it was used, as by a logout.
    """
    sessions = runtime().sessions
    same_person = previous is not None and previous.user_id == user.id
    if previous is not None and not same_person:
        end_sso_session(previous)
    cookie_value, session = sessions.start(user.id, amr=amr, acr=acr, remember=remember, ip=ip, user_agent=user_agent,
                                           replaces=previous if same_person else None)
    if same_person:
        sessions.end(previous.sid)
        move_session_tokens(previous.sid, session.sid)
    audit.record("signin.ok", account=user.sub, amr=amr, remember=remember)
    return cookie_value, session


def _meaning(identifier: str):
    """(column, value) for a username, e-mail or phone number as it is stored; None if it can be none."""
    identifier = identifier.strip()
    if not identifier or len(identifier) > 254:
        return None
    if "@" in identifier:
        return User.email, identifier.lower()
    if re.fullmatch(r"[+0-9 ().-]{6,24}", identifier):
        try:
            return User.phone, normalize_phone(identifier)
        except InvalidPhone:
            return None
    return User.username, identifier.lower()


def _account_meant(meaning) -> User | None:
    return None if meaning is None else db.session.scalar(sa.select(User).where(meaning[0] == meaning[1]))


def find_account(identifier: str) -> User | None:
    """The account a person means by a username, e-mail or phone number."""
    return _account_meant(_meaning(identifier))


def authenticate(identifier: str, password: str, ip: str) -> User:
    """The account if the password is right.

    Raises RateLimited (wait first), InvalidCredentials or AccountLocked.
    """
    passwords = runtime().passwords
    meaning = _meaning(identifier)
    user = _account_meant(meaning)
    # An unknown name is counted as it would be stored, so "0913 111 222" and "+84913111222" share
    # a counter whether or not an account has that number (the answers must not tell).
    key = throttle.account_key(meaning[1] if meaning else identifier, user)
    throttle.before_attempt(key, ip)
    # verify() runs argon2 even for unknown accounts, so timing reveals nothing.
    if not passwords.verify(user.password_hash if user else None, password[:256]) or user is None:
        throttle.after_failure(key, ip, user)
        audit.record("signin.failed", account=user.sub if user else None)
        raise InvalidCredentials()
    if user.locked:
        audit.record("signin.failed", account=user.sub, reason="locked")
        raise AccountLocked()
    throttle.after_success(key, ip)
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash(password)
        db.session.commit()
    return user


def set_password(user: User, password: str, check_policy: bool = True) -> None:
    """Replace an account's password after checking the policy."""
    passwords = runtime().passwords
    if check_policy:
        passwords.check_policy(password, [user.username, user.email or "", user.phone or ""])
    user.password_hash = passwords.hash(password)
    db.session.commit()


def set_locked(user: User, locked: bool) -> None:
    """Lock or unlock an account: locking signs it out everywhere; unlocking lifts a brute-force lockout."""
    user.locked = locked
    db.session.commit()
    if locked:
        sign_out_everywhere(user.id)
    else:
        throttle.clear_account(user)
    audit.record("account.locked" if locked else "account.unlocked", account=user.sub)


class WrongPassword(AccountError):
    """The current password given to change it is not right."""


class NeedsFreshSignIn(AccountError):
    """An account without a password proves itself by a sign-in less than ten minutes old."""


def confirm_identity(user: User, password: str | None, ip: str, session: SsoSession) -> None:
    """Before a sensitive change: the current password, throttled like sign-in.

    Accounts without a password (phone or social sign-in) need a fresh sign-in instead.
    """
    if not user.password_hash:
        if not is_fresh(session):
            raise NeedsFreshSignIn()
        return
    key = throttle.account_key(user.username, user)
    throttle.before_attempt(key, ip)
    if not runtime().passwords.verify(user.password_hash, (password or "")[:256]):
        throttle.after_failure(key, ip, user)
        raise WrongPassword()


PASSWORD_CHANGE_SECONDS = 600


def request_password_change(user: User, current: str, new: str, ip: str, session: SsoSession) -> codes.SentCode | None:
    """First step: check the current password and the new one.

    With a verified phone, an SMS code must confirm the change (returns what was sent);
    without one the change is made now (returns None).
    """
    has_phone = bool(user.phone and user.phone_verified)
    # Accounts made by phone or social sign-in have no password yet: the SMS code below is the
    # proof; with no phone to send it to, confirm_identity asks for a fresh sign-in.
    if user.password_hash or not has_phone:
        confirm_identity(user, current, ip, session)
    runtime().passwords.check_policy(new, [user.username, user.email or "", user.phone or ""])
    if not has_phone:
        _apply_password_change(user, new, session.sid)
        return None
    new_hash = runtime().passwords.hash(new)
    message = _("%(operator)s code to change your password: {code}. Valid 6 minutes. Never share it.",
                operator=runtime().settings.branding.operator_name)
    sent = codes.send_code("change_password", f"user:{user.id}", user.phone, message, ip=ip, account=user.sub)
    # Only once the code is out: a refused request (too soon, say) must not swap the password a code confirms.
    runtime().store.put(f"pw-change:{user.id}", {"hash": new_hash}, PASSWORD_CHANGE_SECONDS)
    return sent


def confirm_password_change(user: User, code: str, session_sid: str) -> None:
    """Second step: the SMS code; CodeInvalid / TooManyTries / codes.CodeInvalid if nothing is pending."""
    pending = runtime().store.get(f"pw-change:{user.id}")
    if pending is None:
        raise codes.CodeInvalid()
    codes.verify_code("change_password", f"user:{user.id}", code, account=user.sub)
    runtime().store.delete(f"pw-change:{user.id}")
    user.password_hash = pending["hash"]
    db.session.commit()
    _after_password_change(user, session_sid)


def _apply_password_change(user: User, new: str, session_sid: str) -> None:
    user.password_hash = runtime().passwords.hash(new)
    db.session.commit()
    _after_password_change(user, session_sid)


def _after_password_change(user: User, session_sid: str) -> None:
    if user.must_change_password:
        user.must_change_password = False
        db.session.commit()
    # Other devices may be where the old password was used: sign them out, keep this one.
    sign_out_everywhere(user.id, keep_sid=session_sid)
    audit.record("password.changed", account=user.sub)
