"""One-time SMS codes: made with pyotp, stored only as keyed hashes, bound to a purpose and a subject.

A code is valid sms.code_ttl_seconds, allows sms.max_tries guesses, is used
once, and cannot be resent within sms.resend_seconds. Before anything is sent
the destination must be in an allowed country and within the caps per number,
per IP, per number prefix, per owner (distinct unverified numbers) and the
daily budget: the defences against SMS pumping.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from dataclasses import dataclass

import phonenumbers
import pyotp

from .. import audit, clock
from ..extensions import runtime
from ..ratelimit import RateLimited, Rule, count, current, hit
from .senders import SendFailed

PURPOSES = ("verify_phone", "reset_password", "change_password", "sign_in", "second_factor", "link_contract")


class CodeError(Exception):
    """Base of the code errors pages turn into messages."""


class CodeInvalid(CodeError):
    """Wrong, expired, used, or never sent: deliberately one answer."""


class TooManyTries(CodeError):
    """The code is void after too many wrong guesses; a new one must be sent."""


class ResendTooSoon(CodeError):
    def __init__(self, retry_after: int):
        super().__init__(retry_after)
        self.retry_after = max(1, int(retry_after))


class SendBlocked(CodeError):
    """Sending is refused: `reason` is country, limit or budget."""

    def __init__(self, reason: str, retry_after: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class CodeNotSent(CodeError):
    """The provider did not take the message (or SMS is off); no code is valid."""


@dataclass(frozen=True)
class SentCode:
    masked_phone: str
    expires_in: int
    resend_in: int


def mask_phone(phone: str) -> str:
    """+84912345678 -> +84 ••• ••• 678: enough for a person to recognise their number."""
    return phone[:3] + " ••• ••• " + phone[-3:]


def plain_text(text: str) -> str:
    """Vietnamese without diacritics (đ -> d too), so a message stays in one GSM-7 SMS segment."""
    folded = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in folded if not unicodedata.combining(ch))


def _code_key(purpose: str, subject: str) -> str:
    return f"otp:{purpose}:{subject}"


def _digest(purpose: str, subject: str, code: str) -> str:
    secret = runtime().settings.server.secret_key.encode()
    return hmac.new(secret, f"{purpose}\x00{subject}\x00{code}".encode(), hashlib.sha256).hexdigest()


def _today() -> str:
    return clock.utcnow().strftime("%Y-%m-%d")


def _budget_rule() -> Rule:
    # Counted per UTC day; the window outlives the day so the count never restarts early.
    return Rule("sms-budget", runtime().settings.sms.daily_budget, 2 * 86400)


def budget_used_today() -> int:
    return current(_budget_rule(), _today())


def _check_destination(phone: str, ip: str, owner: str | None, unverified: bool) -> None:
    """Refuse destinations and volumes that look like SMS pumping; count this send against the caps."""
    sms = runtime().settings.sms
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(phone))
    except phonenumbers.NumberParseException:
        region = None
    if region not in sms.allowed_countries:
        raise SendBlocked("country")
    try:
        hit(Rule("sms-ip", sms.per_ip_per_hour, 3600), ip)
        hit(Rule("sms-phone", sms.per_phone_per_day, 86400), phone)
        hit(Rule("sms-prefix", sms.per_prefix_per_hour, 3600), phone[:-4])
        if unverified and owner and runtime().store.get(f"sms-number:{owner}:{phone}") is None:
            # A number counts once it is let through: a refused attempt must not mark it as reached.
            hit(Rule("sms-numbers", sms.unverified_numbers_per_day, 86400), owner)
            runtime().store.add(f"sms-number:{owner}:{phone}", {}, 86400)
    except RateLimited as limited:
        raise SendBlocked("limit", limited.retry_after) from None
    if count(_budget_rule(), _today()) > sms.daily_budget:
        raise SendBlocked("budget")


def send_code(
    purpose: str,
    subject: str,
    phone: str,
    message: str,
    *,
    ip: str,
    account: str | None = None,
    owner: str | None = None,
    unverified: bool = False,
) -> SentCode:
    """Send a fresh code for (purpose, subject) to phone; `message` is a format string with {code}.

    `owner` (an account or session) is who asks: it may reach only a few unverified numbers a day.
    """
    assert purpose in PURPOSES
    settings = runtime().settings.sms
    store = runtime().store
    if not store.add(f"otp-cool:{purpose}:{subject}", {"at": clock.now()}, settings.resend_seconds):
        cool = store.get(f"otp-cool:{purpose}:{subject}")
        raise ResendTooSoon(settings.resend_seconds - (clock.now() - cool["at"]) if cool else settings.resend_seconds)
    try:
        _check_destination(phone, ip, owner, unverified)
    except SendBlocked as blocked:
        event = "sms.budget_reached" if blocked.reason == "budget" else "code.blocked"
        audit.record(event, account=account, purpose=purpose, reason=blocked.reason, phone=mask_phone(phone))
        raise
    code = pyotp.HOTP(pyotp.random_base32(), digits=6).at(0)
    # Invalidate any earlier code first: if the send fails, no valid code remains.
    store.delete(_code_key(purpose, subject), f"otp-tries:{purpose}:{subject}")
    try:
        body = message.format(code=code)
        runtime().sms.send(phone, plain_text(body) if settings.plain_text else body)
    except SendFailed as failed:
        audit.record("code.send_failed", account=account, purpose=purpose, reason=failed.reason)
        raise CodeNotSent(failed.reason) from None
    store.put(
        _code_key(purpose, subject),
        {"digest": _digest(purpose, subject, code), "phone": phone},
        settings.code_ttl_seconds,
    )
    audit.record("code.sent", account=account, purpose=purpose, phone=mask_phone(phone))
    return SentCode(mask_phone(phone), settings.code_ttl_seconds, settings.resend_seconds)


def send_notice(phone: str, message: str, *, ip: str) -> bool:
    """A message that is not a code (e.g. "your number was changed"), within the same caps and budget.

    Best effort: False when it could not be sent; the caller carries on.
    """
    try:
        _check_destination(phone, ip, owner=None, unverified=False)
        settings = runtime().settings.sms
        runtime().sms.send(phone, plain_text(message) if settings.plain_text else message)
    except (SendBlocked, SendFailed):
        return False
    return True


def plant_decoy(purpose: str, subject: str) -> None:
    """A code nobody can guess, so an unknown account behaves exactly like a known one."""
    store = runtime().store
    store.delete(f"otp-tries:{purpose}:{subject}")
    store.put(_code_key(purpose, subject), {"digest": "decoy", "phone": None}, runtime().settings.sms.code_ttl_seconds)


def verify_code(purpose: str, subject: str, code: str, account: str | None = None) -> str | None:
    """Use the code: returns the phone it went to (None for a decoy); CodeInvalid or TooManyTries otherwise."""
    settings = runtime().settings.sms
    store = runtime().store
    key = _code_key(purpose, subject)
    record = store.get(key)
    if record is None:
        raise CodeInvalid()
    tries = store.incr(f"otp-tries:{purpose}:{subject}", settings.code_ttl_seconds)
    if tries > settings.max_tries:
        store.delete(key)
        raise TooManyTries()
    given = "".join(ch for ch in (code or "") if not ch.isspace())[:12]
    if not hmac.compare_digest(record["digest"], _digest(purpose, subject, given)):
        audit.record("code.failed", account=account, purpose=purpose, tries=tries)
        if tries >= settings.max_tries:
            store.delete(key)
            raise TooManyTries()
        raise CodeInvalid()
    if store.take(key) is None:  # someone used it a moment ago
        raise CodeInvalid()
    store.delete(f"otp-tries:{purpose}:{subject}", f"otp-cool:{purpose}:{subject}")
    audit.record("code.verified", account=account, purpose=purpose)
    return record["phone"]
